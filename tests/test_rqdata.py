"""rqdata is opaque: bound and compared exactly as sent, on every path that binds it
(`/1/solve`, the universal call, jobs) and at siteverify (contract §5 and §7)."""

from __future__ import annotations

import httpx
import pytest

from passgate import token
from tests.conftest import SiteCreds, earn_token
from tests.tokenapi_helpers import REFERER, add_key, grant, universal

pytestmark = pytest.mark.anyio

OPAQUE = [" order-42 ", '{"order": 42}\n', "\torder-42", "order-42\r\n"]


async def _verify(client: httpx.AsyncClient, secret: str, tok: str, **extra: str) -> dict:
    r = await client.post("/siteverify", data={"secret": secret, "response": tok, **extra})
    return r.json()


async def _check_bound_verbatim(client: httpx.AsyncClient, secret: str, tok: str, rq: str):
    trimmed = await _verify(client, secret, tok, rqdata=rq.strip())
    assert trimmed["error-codes"] == ["rqdata-mismatch"]  # not the same string, not spent
    body = await _verify(client, secret, tok, rqdata=rq)
    assert body["success"] is True, body
    assert body["rqdata_sha256"] == token.rqdata_digest(rq)


@pytest.mark.parametrize("rq", OPAQUE)
async def test_widget_token_bound_to_whitespace_rqdata(client, site: SiteCreds, rq: str) -> None:
    earned = await earn_token(client, site.sitekey, rqdata=rq)
    await _check_bound_verbatim(client, site.secret, earned["token"], rq)


@pytest.mark.parametrize("rq", OPAQUE)
async def test_universal_token_bound_to_whitespace_rqdata(
    client, service, site: SiteCreds, rq: str
) -> None:
    key = add_key(service)
    grant(service, key, site.sitekey)
    r = await universal(
        client, key.token, {"sitekey": site.sitekey, "referer": REFERER, "rqdata": rq}
    )
    tok = r.json()["data"]["generated_pass_UUID"]
    await _check_bound_verbatim(client, site.secret, tok, rq)


async def test_job_token_bound_to_whitespace_rqdata(client, service, site: SiteCreds) -> None:
    rq = '{"order": 42}\n'
    key = add_key(service)
    grant(service, key, site.sitekey)
    data = {"type_job_id": "11", "website_url": REFERER, "website_key": site.sitekey, "rqdata": rq}
    created = await client.post("/api/createJob", json={"api_token": key.token, "data": data})
    job_id = created.json()["job_id"]
    polled = await client.post("/api/getJobResult", json={"api_token": key.token, "job_id": job_id})
    assert polled.json()["status"] == "success", polled.text
    await _check_bound_verbatim(client, site.secret, polled.json()["result"], rq)


@pytest.mark.parametrize("encoding", ["form", "json", "query"])
async def test_siteverify_keeps_rqdata_verbatim_in_every_encoding(
    client, site: SiteCreds, encoding: str
) -> None:
    rq = " order-42 "
    earned = await earn_token(client, site.sitekey, rqdata=rq)
    fields = {"secret": "  " + site.secret + "\n", "response": earned["token"] + "\n", "rqdata": rq}
    if encoding == "form":
        r = await client.post("/siteverify", data=fields)
    elif encoding == "json":
        r = await client.post("/siteverify", json=fields)
    else:
        r = await client.post("/siteverify", params=fields)
    body = r.json()
    assert body["success"] is True, body  # secret and response still trimmed


async def test_whitespace_only_rqdata_is_bound(client, site: SiteCreds) -> None:
    earned = await earn_token(client, site.sitekey, rqdata="   ")
    assert (await _verify(client, site.secret, earned["token"], rqdata=""))["error-codes"] == [
        "rqdata-mismatch"
    ]
    assert (await _verify(client, site.secret, earned["token"], rqdata="   "))["success"] is True
