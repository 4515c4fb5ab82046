"""`POST /api/createJob` and `POST /api/getJobResult`: jobs that mint, wait for their grant's
rate, fail at their deadline, and answer every bad input in the contract's shape."""

from __future__ import annotations

import time
from typing import Any

import anyio
import httpx
import pytest

from passgate import testkeys
from passgate.tokenapi import jobs
from passgate.tokenapi.apikeys import ApiKeyRegistry
from passgate.tokenapi.jobs import JobStore
from passgate.tokenapi.records import RecordLog
from tests.conftest import SiteCreds
from tests.tokenapi_helpers import REFERER, add_key, grant, minted_count, universal

pytestmark = pytest.mark.anyio


def job_body(token: str | None, sitekey: str, **data: Any) -> dict[str, Any]:
    return {
        "api_token": token,
        "data": {"type_job_id": "11", "website_url": REFERER, "website_key": sitekey, **data},
    }


async def create(client: httpx.AsyncClient, body: Any, **headers: str) -> httpx.Response:
    if isinstance(body, bytes):
        return await client.post(
            "/api/createJob", content=body, headers={"content-type": "application/json"}
        )
    return await client.post("/api/createJob", json=body, headers=headers)


async def result(client: httpx.AsyncClient, token: str | None, job_id: Any) -> httpx.Response:
    return await client.post("/api/getJobResult", json={"api_token": token, "job_id": job_id})


async def test_job_mints_a_token_that_verifies_once(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    r = await create(client, job_body(key.token, site.sitekey, extra_key="ignored"))
    assert r.status_code == 200, r.text
    body = r.json()
    assert set(body) == {"error", "job_id", "message"}
    assert body["error"] is False and isinstance(body["job_id"], int)
    polled = (await result(client, key.token, body["job_id"])).json()
    assert set(polled) == {"error", "status", "result"}
    assert polled["error"] is False and polled["status"] == "success"
    tok = polled["result"]
    assert tok.startswith("P1_")
    v = await client.post("/siteverify", data={"secret": site.secret, "response": tok})
    assert v.json()["success"] is True
    assert v.json()["score_reason"] == ["automation", "key_ci"]
    assert v.json()["hostname"] == "shop.example"
    again = await client.post("/siteverify", data={"secret": site.secret, "response": tok})
    assert again.json()["error-codes"] == ["already-seen-response"]
    # job ids as strings are accepted too
    assert (await result(client, key.token, str(body["job_id"]))).json()["status"] == "success"


async def test_job_options_and_numeric_type(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    body = job_body(key.token, site.sitekey, rqdata="rq", invisible=True, need_ekey=True)
    body["data"]["type_job_id"] = 11
    r = await create(client, body)
    assert r.status_code == 200, r.text
    polled = (await result(client, key.token, r.json()["job_id"])).json()
    assert polled["status"] == "success" and polled["ekey"].startswith("E0_")
    from passgate import token

    tok = token.decode(polled["result"], service.ring)
    assert tok.mode == "invisible" and tok.rqdata_sha256 == token.rqdata_digest("rq")


async def test_test_sitekey_job(client, service) -> None:
    key = add_key(service)
    test = testkeys.TEST_KEYS[0]
    r = await create(client, job_body(key.token, test.sitekey, website_url="https://x.example"))
    polled = (await result(client, key.token, r.json()["job_id"])).json()
    assert polled == {"error": False, "status": "success", "result": test.token}


async def test_create_refusals(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    ungranted = add_key(service, "ungranted")
    grant(service, key, site.sitekey)
    unknown_site = "4c9a8d3e-0000-4000-8000-000000000000"
    cases: list[tuple[str, Any, int]] = [
        ("not json", b"{", 400),
        ("not an object", [1], 400),
        ("no api_token", job_body(None, site.sitekey), 401),
        ("unknown api_token", job_body("pgk_nope", site.sitekey), 401),
        ("no data", {"api_token": key.token}, 400),
        ("data not an object", {"api_token": key.token, "data": "x"}, 400),
        ("wrong type", job_body(key.token, site.sitekey, type_job_id="12"), 400),
        ("no type", {"api_token": key.token, "data": {"website_url": REFERER,
                                                      "website_key": site.sitekey}}, 400),
        ("no website_url", job_body(key.token, site.sitekey, website_url=None), 400),
        ("no website_key", job_body(key.token, site.sitekey, website_key=None), 400),
        ("bad invisible", job_body(key.token, site.sitekey, invisible="no"), 400),
        ("no grant", job_body(ungranted.token, site.sitekey), 403),
        ("unknown sitekey", job_body(key.token, unknown_site), 403),
        ("referer not allowed", job_body(key.token, site.sitekey,
                                         website_url="https://evil.example/"), 403),
    ]  # fmt: skip
    for name, body, status in cases:
        r = await create(client, body)
        assert r.status_code == status, (name, r.text)
        b = r.json()
        assert set(b) == {"error", "message"} and b["error"] is True and b["message"], name
    with service.engine.connect() as conn:
        from passgate.store.schema import token_jobs

        assert conn.execute(token_jobs.select()).first() is None
    assert minted_count(service) == 0


async def test_result_errors(client, service, site: SiteCreds) -> None:
    mine, theirs = add_key(service, "mine"), add_key(service, "theirs")
    grant(service, mine, site.sitekey)
    job_id = (await create(client, job_body(mine.token, site.sitekey))).json()["job_id"]
    other = await result(client, theirs.token, job_id)
    unknown = await result(client, mine.token, 123)
    assert other.status_code == unknown.status_code == 404
    assert other.json() == unknown.json()  # another key's job looks like no job
    assert other.json()["error"] is True
    for bad in ("abc", None, True, 1.5, [1]):
        r = await result(client, mine.token, bad)
        assert r.status_code == 400 and r.json()["error"] is True, bad
    assert (await result(client, None, job_id)).status_code == 401
    assert (await result(client, "pgk_wrong", job_id)).status_code == 401
    r = await client.post("/api/getJobResult", content=b"[]")
    assert r.status_code == 400 and r.json()["error"] is True


async def test_over_rate_waits_running_then_succeeds(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey, rate=1, burst=1)
    first = await universal(client, key.token, {"sitekey": site.sitekey, "referer": REFERER})
    assert first.status_code == 200
    job_id = (await create(client, job_body(key.token, site.sitekey))).json()["job_id"]
    polled = (await result(client, key.token, job_id)).json()
    assert polled == {"error": False, "status": "running", "result": ""}
    now = time.time()
    await jobs.work(service, now + 5)
    assert (await result(client, key.token, job_id)).json()["status"] == "running"
    await jobs.work(service, now + 61)
    done = (await result(client, key.token, job_id)).json()
    assert done["status"] == "success" and done["result"].startswith("P1_")


async def test_deadline_fails_the_job(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey, rate=0.1, burst=1)
    await universal(client, key.token, {"sitekey": site.sitekey, "referer": REFERER})
    job_id = (await create(client, job_body(key.token, site.sitekey))).json()["job_id"]
    job = JobStore(service.engine).get(job_id)
    assert job is not None and job.deadline_at - job.created_at == service.config.job_deadline
    await jobs.work(service, job.created_at + 121)
    failed = (await result(client, key.token, job_id)).json()
    assert failed["status"] == "fail" and failed["result"] == "" and failed["message"]
    rec = RecordLog(service.engine).get(job.record_id)
    assert rec is not None and rec.outcome == "deadline_passed" and rec.job_id == job_id


async def test_revoked_key_fails_its_waiting_job(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey, rate=1, burst=1)
    await universal(client, key.token, {"sitekey": site.sitekey, "referer": REFERER})
    job_id = (await create(client, job_body(key.token, site.sitekey))).json()["job_id"]
    ApiKeyRegistry(service.engine).revoke("ci")
    await jobs.work(service, time.time() + 61)
    job = JobStore(service.engine).get(job_id)
    assert job is not None and job.status == "fail" and job.outcome == "revoked_key"


async def test_polls_are_not_records(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    job_id = (await create(client, job_body(key.token, site.sitekey))).json()["job_id"]
    before = len(RecordLog(service.engine).list())
    for _ in range(5):
        await result(client, key.token, job_id)
    records = RecordLog(service.engine).list()
    assert len(records) == before == 1
    assert records[0].kind == "job" and records[0].outcome == "ok" and records[0].token_id


async def test_job_messages_localized(client, service, site: SiteCreds) -> None:
    r = await create(client, job_body("pgk_nope", site.sitekey), **{"accept-language": "zh-CN"})
    assert any("\u4e00" <= ch <= "\u9fff" for ch in r.json()["message"])


async def test_worker_runs_in_the_lifespan(service, site: SiteCreds) -> None:
    """The app's lifespan starts the worker: a waiting job completes with no one calling it."""
    from passgate.app import create_app
    from passgate.tokenapi import upkeep

    key = add_key(service)
    grant(service, key, site.sitekey, rate=60, burst=1)  # one a second
    app = create_app(service)
    transport = httpx.ASGITransport(app=app)
    async with app.router.lifespan_context(app):
        async with httpx.AsyncClient(transport=transport, base_url="http://t") as c:
            await universal(c, key.token, {"sitekey": site.sitekey, "referer": REFERER})
            job_id = (await create(c, job_body(key.token, site.sitekey))).json()["job_id"]
            deadline = time.monotonic() + 10
            status = "running"
            while status == "running" and time.monotonic() < deadline:
                await anyio.sleep(upkeep.POLL_SECONDS)
                status = (await result(c, key.token, job_id)).json()["status"]
            assert status == "success"


async def test_expired_job_tokens_are_not_kept(client, service, site: SiteCreds) -> None:
    from passgate.tokenapi import upkeep

    key = add_key(service)
    grant(service, key, site.sitekey)
    job_id = (await create(client, job_body(key.token, site.sitekey))).json()["job_id"]
    assert (await result(client, key.token, job_id)).json()["result"].startswith("P1_")
    await upkeep.prune(service, time.time() + 2 * 3600)  # long after any token expired
    polled = (await result(client, key.token, job_id)).json()
    assert polled["status"] == "success" and polled["result"] == ""
