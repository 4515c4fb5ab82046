"""`action` and `cdata` in the universal call and createJob: bound into the token as the
widget binds them, so Turnstile's and reCAPTCHA's siteverify answer them; kept with a job
across a restart; refused when malformed; and absent from the records."""

from __future__ import annotations

import json
import time
from typing import Any

import httpx
import pytest

from passgate import token
from passgate.service import Service, build
from passgate.settings import Config
from passgate.tokenapi import jobs
from passgate.tokenapi.jobs import JobStore
from tests.conftest import SiteCreds
from tests.test_tokenapi_jobs import create, job_body, result
from tests.test_tokenapi_universal import assert_shape
from tests.tokenapi_helpers import REFERER, add_key, grant, minted_count, universal

pytestmark = pytest.mark.anyio

TS, RC, HC = "/turnstile/v0/siteverify", "/recaptcha/api/siteverify", "/siteverify"
RECORD_KEYS = {
    "id", "kind", "outcome", "http_status", "cost", "created_at", "key", "sitekey",
    "referer_host", "developer_id", "domain", "region", "proxy_ip", "job_id", "token_id",
}  # fmt: skip


async def verify(client: httpx.AsyncClient, path: str, site: SiteCreds, tok: str) -> Any:
    r = await client.post(path, data={"secret": site.secret, "response": tok})
    assert r.status_code == 200
    return r.json()


async def mint(client: httpx.AsyncClient, key_token: str, body: dict[str, Any]) -> str:
    r = await universal(client, key_token, body)
    assert r.status_code == 200, r.text
    return str(r.json()["data"]["generated_pass_UUID"])


async def test_universal_action_verifies_at_recaptcha(
    client, service: Service, site: SiteCreds
) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    body = {"sitekey": site.sitekey, "referer": REFERER, "action": "signup/submit"}
    tok = await mint(client, key.token, body)
    decoded = token.decode(tok, service.ring)
    assert decoded.interface == token.HCAPTCHA  # the token API's own interface
    assert (decoded.action, decoded.cdata) == ("signup/submit", "")
    rc = await verify(client, RC, site, tok)
    assert rc["success"] is True and rc["action"] == "signup/submit"
    assert rc["score_reason"] == ["automation", "key_ci"]
    again = await verify(client, RC, site, tok)
    assert again["success"] is False and again["error-codes"] == ["timeout-or-duplicate"]


async def test_universal_action_and_cdata_verify_at_turnstile(
    client, service: Service, site: SiteCreds
) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    body = {"sitekey": site.sitekey, "referer": REFERER, "action": "login", "cdata": "c-1"}
    tok = await mint(client, key.token, body)
    ts = await verify(client, TS, site, tok)
    assert ts["success"] is True and (ts["action"], ts["cdata"]) == ("login", "c-1")
    # without them, the endpoints answer them empty, as before
    plain = await mint(client, key.token, {"sitekey": site.sitekey, "referer": REFERER})
    ts = await verify(client, TS, site, plain)
    assert ts["success"] is True and (ts["action"], ts["cdata"]) == ("", "")


async def test_hcaptcha_siteverify_still_takes_a_bound_token(
    client, service: Service, site: SiteCreds
) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    body = {"sitekey": site.sitekey, "referer": REFERER, "action": "login", "cdata": "x"}
    tok = await mint(client, key.token, body)
    hc = await verify(client, HC, site, tok)
    assert hc["success"] is True and "action" not in hc and "cdata" not in hc


@pytest.mark.parametrize(
    "cdata",
    [
        "session-1_a=",
        "x" * token.MAX_CDATA,
        "Zz09_-=" * 36 + "abc",
    ],
    ids=["session", "255-ascii", "255-every-kind"],
)
async def test_cdata_is_bound_verbatim(
    client, service: Service, site: SiteCreds, cdata: str
) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    body = {"sitekey": site.sitekey, "referer": REFERER, "cdata": cdata}
    tok = await mint(client, key.token, body)
    ts = await verify(client, TS, site, tok)
    assert ts["success"] is True and ts["cdata"] == cdata and ts["action"] == ""


async def test_a_job_binds_them_when_it_runs(client, service: Service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    r = await create(client, job_body(key.token, site.sitekey, action="login", cdata="c-1"))
    assert r.status_code == 200, r.text
    polled = (await result(client, key.token, r.json()["job_id"])).json()
    assert polled["status"] == "success"
    ts = await verify(client, TS, site, polled["result"])
    assert ts["success"] is True and (ts["action"], ts["cdata"]) == ("login", "c-1")
    r = await create(client, job_body(key.token, site.sitekey, action="signup/submit"))
    polled = (await result(client, key.token, r.json()["job_id"])).json()
    rc = await verify(client, RC, site, polled["result"])
    assert rc["success"] is True and rc["action"] == "signup/submit"


async def test_a_waiting_job_binds_them_after_a_restart(
    client, service: Service, config: Config, site: SiteCreds
) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey, rate=1, burst=1)
    await mint(client, key.token, {"sitekey": site.sitekey, "referer": REFERER})  # the burst
    body = job_body(key.token, site.sitekey, action="signup/submit", cdata="c-2")
    job_id = (await create(client, body)).json()["job_id"]
    assert (await result(client, key.token, job_id)).json()["status"] == "running"
    stored = JobStore(service.engine).get(job_id)
    assert stored is not None and (stored.action, stored.cdata) == ("signup/submit", "c-2")
    restarted = build(config)  # a new process on the same store
    try:
        await jobs.work(restarted, time.time() + 61)
    finally:
        await restarted.close()
    polled = (await result(client, key.token, job_id)).json()
    assert polled["status"] == "success"
    ts = await verify(client, TS, site, polled["result"])
    assert ts["success"] is True and (ts["action"], ts["cdata"]) == ("signup/submit", "c-2")


BAD = [
    ("action with a space", {"action": "sign up"}),
    ("action with a dot", {"action": "login.form"}),
    ("action too long", {"action": "a" * 101}),
    ("action not ASCII", {"action": "connexión"}),
    ("action not a string", {"action": 5}),
    ("action padded", {"action": " login"}),
    ("cdata too long", {"cdata": "x" * (token.MAX_CDATA + 1)}),
    ("cdata not of Turnstile's characters", {"cdata": "\U0001f600"}),
    ("cdata with a space", {"cdata": "c 2"}),
    ("cdata not a string", {"cdata": ["x"]}),
    ("cdata lone surrogate", {"cdata": "\ud800"}),
]


@pytest.mark.parametrize("name,extra", BAD, ids=[b[0] for b in BAD])
async def test_bad_bindings_are_refused(
    client, service: Service, site: SiteCreds, name: str, extra: dict[str, Any]
) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    field = next(iter(extra))
    body = {"sitekey": site.sitekey, "referer": REFERER, **extra}
    r = await universal(client, key.token, json.dumps(body).encode())  # `\ud800` escaped
    assert r.status_code == 400, r.text
    b = r.json()
    assert_shape(b)
    assert b["status"] == 0 and b["data"] is None and b["msg"].startswith("Bad input")
    assert field in b["msg"]
    r = await create(client, json.dumps(job_body(key.token, site.sitekey, **extra)).encode())
    assert r.status_code == 400, r.text
    assert r.json()["error"] is True and field in r.json()["message"]
    with service.engine.connect() as conn:
        from passgate.store.schema import token_jobs

        assert conn.execute(token_jobs.select()).first() is None
    assert minted_count(service) == 0


async def test_empty_bindings_bind_nothing(client, service: Service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    body = {"sitekey": site.sitekey, "referer": REFERER, "action": "", "cdata": None}
    tok = await mint(client, key.token, body)
    decoded = token.decode(tok, service.ring)
    assert (decoded.action, decoded.cdata) == ("", "")


async def test_records_do_not_carry_them(client, service: Service, site: SiteCreds) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    body = {"sitekey": site.sitekey, "referer": REFERER, "action": "login", "cdata": "c-1"}
    r = await universal(client, key.token, body)
    made = (await create(client, job_body(key.token, site.sitekey, action="login"))).json()
    bad = await universal(client, key.token, {**body, "action": "no way"})
    for record_id in (r.json()["id"], bad.json()["id"]):
        got = await client.get(f"/api/records/{record_id}", headers={"User-Token": key.token})
        assert set(got.json()["data"]) == RECORD_KEYS
    job_record = JobStore(service.engine).get(made["job_id"])
    assert job_record is not None
    got = await client.get(
        f"/api/records/{job_record.record_id}", headers={"User-Token": key.token}
    )
    record = got.json()["data"]
    assert set(record) == RECORD_KEYS and record["kind"] == "job"
    assert record["outcome"] == "ok" and record["referer_host"] == "shop.example"
