"""passgate.client: offline against httpx.MockTransport, and against the app in process."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from passgate import client as pc
from passgate.client import AsyncPassgateClient, PassgateClient
from tests.conftest import SiteCreds
from tests.tokenapi_helpers import REFERER, add_key, grant

OK_BODY = {
    "status": 1, "msg": "Success.", "id": "r" * 32, "cost": "1.20ms",
    "data": {"generated_pass_UUID": "P1_tok", "ekey": "E0_k"},
}  # fmt: skip


def test_public_names() -> None:
    assert sorted(pc.__all__) == sorted(
        name for name in dir(pc) if not name.startswith("_") and name in pc.__all__
    )
    for name in pc.__all__:
        assert hasattr(pc, name)
    assert issubclass(pc.RateLimited, pc.APIError) and issubclass(pc.APIError, pc.PassgateError)
    assert issubclass(pc.JobFailed, pc.PassgateError) and issubclass(
        pc.WaitTimeout, pc.PassgateError
    )


def mock(handler: Any) -> httpx.MockTransport:
    return httpx.MockTransport(handler)


def test_universal_sends_the_contract_and_reads_the_answer() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=OK_BODY)

    with PassgateClient(
        "http://pg.test/", "pgk_x", developer_id="dev", transport=mock(handler)
    ) as c:
        res = c.universal("SK", REFERER, rqdata="rq", proxy="1.2.3.4:80", need_ekey=True)
    assert res == pc.UniversalResult("P1_tok", "E0_k", "r" * 32, "Success.", "1.20ms")
    req = seen[0]
    assert req.url == "http://pg.test/api/wanda/hcaptcha/universal"
    assert req.headers["user-token"] == "pgk_x" and req.headers["developer-id"] == "dev"
    assert json.loads(req.content) == {
        "sitekey": "SK", "referer": REFERER, "rqdata": "rq", "proxy": "1.2.3.4:80",
        "need_ekey": True,
    }  # fmt: skip


def test_action_and_cdata_are_sent_when_given() -> None:
    seen: list[dict[str, Any]] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(json.loads(request.content))
        if request.url.path == "/api/createJob":
            return httpx.Response(200, json={"error": False, "job_id": 7, "message": "ok"})
        return httpx.Response(200, json=OK_BODY)

    with PassgateClient("http://pg.test", "k", transport=mock(handler)) as c:
        c.universal("SK", REFERER, action="signup/submit", cdata="c 1 ")
        c.create_job(REFERER, "SK", action="login", cdata="c-2")
        c.create_job(REFERER, "SK")
    assert seen[0] == {
        "sitekey": "SK", "referer": REFERER, "action": "signup/submit", "cdata": "c 1 ",
    }  # fmt: skip
    assert seen[1]["data"] == {
        "type_job_id": "11", "website_url": REFERER, "website_key": "SK",
        "action": "login", "cdata": "c-2",
    }  # fmt: skip
    assert "action" not in seen[2]["data"] and "cdata" not in seen[2]["data"]


@pytest.mark.parametrize(
    "status,exc",
    [(400, pc.BadRequest), (401, pc.Unauthorized), (403, pc.Forbidden), (429, pc.RateLimited),
     (503, pc.Unavailable)],
)  # fmt: skip
def test_refusals_raise_typed_errors_with_msg_and_record(status: int, exc: type) -> None:
    body = {"status": 0, "msg": "No grant.", "id": "i" * 32, "data": None, "cost": "0.5ms"}
    headers = {"Retry-After": "7"} if status == 429 else {}
    transport = mock(lambda r: httpx.Response(status, json=body, headers=headers))
    with PassgateClient("http://pg.test", "k", transport=transport) as c:
        with pytest.raises(exc) as info:
            c.universal("SK", REFERER)
    assert info.value.msg == "No grant." and info.value.record_id == "i" * 32
    assert info.value.status_code == status
    if status == 429:
        assert info.value.retry_after == 7.0


def test_transport_and_protocol_errors() -> None:
    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused")

    with PassgateClient("http://pg.test", "k", transport=mock(down)) as c:
        with pytest.raises(pc.TransportError):
            c.universal("SK", REFERER)
    with PassgateClient(
        "http://pg.test", "k", transport=mock(lambda r: httpx.Response(502, text="<html>"))
    ) as c:
        with pytest.raises(pc.ProtocolError):
            c.universal("SK", REFERER)


def test_jobs_and_wait() -> None:
    polls = {"n": 0}

    def handler(request: httpx.Request) -> httpx.Response:
        body = json.loads(request.content)
        assert body["api_token"] == "k"
        if request.url.path == "/api/createJob":
            assert body["data"] == {
                "type_job_id": "11",
                "website_url": REFERER,
                "website_key": "SK",
            }
            return httpx.Response(
                200, json={"error": False, "job_id": 42, "message": "Job created."}
            )
        polls["n"] += 1
        if polls["n"] < 3:
            return httpx.Response(200, json={"error": False, "status": "running", "result": ""})
        return httpx.Response(200, json={"error": False, "status": "success", "result": "P1_t"})

    with PassgateClient("http://pg.test", "k", transport=mock(handler)) as c:
        job = c.create_job(REFERER, "SK")
        assert job == pc.JobCreated(42, "Job created.")
        done = c.wait(job.job_id, interval=0.01)
    assert done.status == "success" and done.result == "P1_t" and polls["n"] == 3


def test_wait_raises_on_fail_and_timeout() -> None:
    fail = {"error": False, "status": "fail", "result": "", "message": "deadline passed"}
    with PassgateClient(
        "http://pg.test", "k", transport=mock(lambda r: httpx.Response(200, json=fail))
    ) as c:
        with pytest.raises(pc.JobFailed) as info:
            c.wait(1, interval=0.01)
    assert info.value.msg == "deadline passed" and info.value.job_id == 1
    running = {"error": False, "status": "running", "result": ""}
    with PassgateClient(
        "http://pg.test", "k", transport=mock(lambda r: httpx.Response(200, json=running))
    ) as c:
        with pytest.raises(pc.WaitTimeout):
            c.wait(1, timeout=0.05, interval=0.02)


def test_job_errors() -> None:
    err = {"error": True, "message": "No such job."}
    with PassgateClient(
        "http://pg.test", "k", transport=mock(lambda r: httpx.Response(404, json=err))
    ) as c:
        with pytest.raises(pc.NotFound) as info:
            c.get_job_result(9)
    assert info.value.msg == "No such job."


@pytest.mark.anyio
async def test_async_client_against_the_app(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey, rate=60, burst=2)
    transport = client._transport  # the in-process ASGI transport
    async with AsyncPassgateClient("http://passgate.test", key.token, transport=transport) as pg:
        res = await pg.universal(site.sitekey, REFERER, need_ekey=True)
        assert res.token.startswith("P1_") and res.ekey and res.ekey.startswith("E0_")
        record = await pg.record(res.record_id)
        assert record["outcome"] == "ok" and record["key"] == "ci"
        job = await pg.create_job(REFERER, site.sitekey)
        done = await pg.wait(job.job_id, interval=0.05, timeout=5)
        assert done.result.startswith("P1_")
        with pytest.raises(pc.RateLimited) as info:
            await pg.universal(site.sitekey, REFERER)
        assert info.value.record_id and info.value.retry_after >= 1
        with pytest.raises(pc.Forbidden) as denied:
            await pg.universal(site.sitekey, "https://evil.example/")
        assert "referer" in denied.value.msg
    verdict = await client.post("/siteverify", data={"secret": site.secret, "response": res.token})
    assert verdict.json()["success"] is True


@pytest.mark.anyio
async def test_async_client_binds_action_and_cdata(client, service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    transport = client._transport  # the in-process ASGI transport
    async with AsyncPassgateClient("http://passgate.test", key.token, transport=transport) as pg:
        res = await pg.universal(site.sitekey, REFERER, action="login", cdata="c-1")
        job = await pg.create_job(REFERER, site.sitekey, action="signup/submit")
        done = await pg.wait(job.job_id, interval=0.05, timeout=5)
        with pytest.raises(pc.BadRequest) as bad:
            await pg.universal(site.sitekey, REFERER, action="no spaces")
        assert "action" in bad.value.msg
    form = {"secret": site.secret, "response": res.token}
    ts = (await client.post("/turnstile/v0/siteverify", data=form)).json()
    assert ts["success"] is True and (ts["action"], ts["cdata"]) == ("login", "c-1")
    form = {"secret": site.secret, "response": done.result}
    rc = (await client.post("/recaptcha/api/siteverify", data=form)).json()
    assert rc["success"] is True and rc["action"] == "signup/submit"
