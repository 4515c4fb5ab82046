"""The admin HTTP API: keys, grants and records behind the admin token, every error in the
one admin shape."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

from passgate.tokenapi.admin import new_admin_token
from tests.conftest import SiteCreds
from tests.tokenapi_helpers import REFERER, universal

pytestmark = pytest.mark.anyio


@pytest.fixture
def admin(service) -> dict[str, str]:
    return {"Authorization": "Bearer " + new_admin_token(service.engine)}


def assert_error(r: httpx.Response, status: int, code: str) -> None:
    assert r.status_code == status, r.text
    body = r.json()
    assert set(body) == {"ok", "error", "message"}
    assert body["ok"] is False and body["error"] == code and body["message"]


async def test_keys_grants_records_round_trip(client, service, site: SiteCreds, admin) -> None:
    r = await client.post("/api/admin/keys", json={"name": "monitor"}, headers=admin)
    assert r.status_code == 201, r.text
    token = r.json()["token"]
    assert r.json()["key"]["name"] == "monitor" and r.json()["key"]["active"] is True
    listed = (await client.get("/api/admin/keys", headers=admin)).json()
    assert [k["name"] for k in listed["keys"]] == ["monitor"]
    assert token not in str(listed)
    g = await client.post(
        "/api/admin/grants",
        json={"key": "monitor", "site": site.sitekey, "rate": "30/min", "burst": 3,
              "expires": "2099-01-01T00:00:00Z"},
        headers=admin,
    )  # fmt: skip
    assert g.status_code == 200, g.text
    assert g.json()["grant"]["rate_per_min"] == 30 and g.json()["grant"]["burst"] == 3
    grants = (await client.get(f"/api/admin/grants?site={site.sitekey}", headers=admin)).json()
    assert len(grants["grants"]) == 1
    minted = await universal(client, token, {"sitekey": site.sitekey, "referer": REFERER})
    assert minted.status_code == 200
    recs = (await client.get("/api/admin/records?key=monitor", headers=admin)).json()
    assert [r["id"] for r in recs["records"]] == [minted.json()["id"]]
    gone = await client.delete(f"/api/admin/grants/monitor/{site.sitekey}", headers=admin)
    assert gone.json() == {"ok": True}
    r = await universal(client, token, {"sitekey": site.sitekey, "referer": REFERER})
    assert r.status_code == 403
    revoked = await client.post("/api/admin/keys/monitor/revoke", headers=admin)
    assert revoked.json()["key"]["active"] is False
    r = await universal(client, token, {"sitekey": site.sitekey, "referer": REFERER})
    assert r.status_code == 401


BAD: list[tuple[str, str, str, Any, int, str]] = [
    ("no name", "POST", "/api/admin/keys", {}, 400, "invalid_input"),
    ("bad name", "POST", "/api/admin/keys", {"name": "a b"}, 400, "invalid_input"),
    ("not json", "POST", "/api/admin/keys", b"{", 400, "invalid_input"),
    ("revoke unknown", "POST", "/api/admin/keys/nobody/revoke", None, 404, "not_found"),
    ("grant unknown key", "POST", "/api/admin/grants", {"key": "nobody", "site": "SITE"}, 404,
     "not_found"),
    ("grant bad rate", "POST", "/api/admin/grants", {"key": "ci", "site": "SITE", "rate": "x"},
     400, "invalid_input"),
    ("grant bad burst", "POST", "/api/admin/grants", {"key": "ci", "site": "SITE", "burst": 0},
     400, "invalid_input"),
    ("grant bad expiry", "POST", "/api/admin/grants",
     {"key": "ci", "site": "SITE", "expires": "soon"}, 400, "invalid_input"),
    ("grant unknown site", "POST", "/api/admin/grants",
     {"key": "ci", "site": "4c9a8d3e-0000-4000-8000-000000000000"}, 404, "not_found"),
    ("remove missing grant", "DELETE", "/api/admin/grants/ci/SITE", None, 404, "not_found"),
    ("bad limit", "GET", "/api/admin/records?limit=x", None, 400, "invalid_input"),
    ("unknown endpoint", "GET", "/api/admin/nothing", None, 404, "not_found"),
]  # fmt: skip


@pytest.mark.parametrize("name,method,path,body,status,code", BAD, ids=[b[0] for b in BAD])
async def test_admin_errors_have_one_shape(
    client, service, site: SiteCreds, admin, name, method, path, body, status, code
) -> None:
    await client.post("/api/admin/keys", json={"name": "ci"}, headers=admin)
    path = path.replace("SITE", site.sitekey)
    if isinstance(body, dict):
        body = {k: (site.sitekey if v == "SITE" else v) for k, v in body.items()}
    kwargs: dict[str, Any] = {"content": body} if isinstance(body, bytes) else {"json": body}
    if body is None:
        kwargs = {}
    r = await client.request(method, path, headers=admin, **kwargs)
    assert_error(r, status, code)


async def test_duplicate_key_is_a_conflict(client, admin) -> None:
    await client.post("/api/admin/keys", json={"name": "ci"}, headers=admin)
    r = await client.post("/api/admin/keys", json={"name": "ci"}, headers=admin)
    assert_error(r, 409, "conflict")


@pytest.mark.parametrize(
    "headers",
    [{}, {"Authorization": "Bearer wrong"}, {"Authorization": "Basic abc"},
     {"Authorization": "Bearer "}],
)  # fmt: skip
async def test_admin_needs_the_token(client, service, headers) -> None:
    new_admin_token(service.engine)
    for method, path in [("GET", "/api/admin/keys"), ("POST", "/api/admin/keys"),
                         ("GET", "/api/admin/grants"), ("GET", "/api/admin/records"),
                         ("POST", "/api/admin/keys/x/revoke")]:  # fmt: skip
        r = await client.request(method, path, headers=headers, json={"name": "x"})
        assert_error(r, 401, "unauthorized")


async def test_no_admin_token_yet_refuses_all(client) -> None:
    r = await client.get("/api/admin/keys", headers={"Authorization": "Bearer pga_x"})
    assert_error(r, 401, "unauthorized")


async def test_a_new_admin_token_replaces_the_old(client, service) -> None:
    old = new_admin_token(service.engine)
    new = new_admin_token(service.engine)
    fresh = await client.get("/api/admin/keys", headers={"Authorization": "Bearer " + new})
    assert fresh.json()["ok"] is True
    r = await client.get("/api/admin/keys", headers={"Authorization": "Bearer " + old})
    assert_error(r, 401, "unauthorized")
