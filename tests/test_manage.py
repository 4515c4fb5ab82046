"""The three doors' one set of rules: every change through a Manager writes its audit entry
with the actor, and no secret; the CLI's changes are entered as `cli` and the admin API's as
`admin-api`, from the client's address."""

from __future__ import annotations

import json
from pathlib import Path

import httpx
import pytest
import sqlalchemy as sa
from click.testing import CliRunner

from passgate import keys, settings
from passgate.audit import AuditLog, Entry
from passgate.cli import main
from passgate.console.accounts import AccountError
from passgate.console.sessions import SessionStore
from passgate.manage import Manager, site_defaults
from passgate.service import Service, open_engine
from passgate.sites import SiteError
from passgate.store.schema import audit_log
from passgate.tokenapi.admin import new_admin_token
from passgate.tokenapi.apikeys import ApiKeyError
from passgate.tokenapi.grants import GrantError
from tests.conftest import SiteCreds

PASSWORD = "correct horse battery"
MASTER = b"m" * 32


@pytest.fixture
def engine(tmp_path: Path) -> sa.Engine:
    return open_engine(settings.load(env={}, data_dir=str(tmp_path / "data")))


def all_entries(engine: sa.Engine) -> list[Entry]:
    return list(reversed(AuditLog(engine).list(limit=1000)))


def raw_log(engine: sa.Engine) -> str:
    with engine.connect() as conn:
        return json.dumps([list(r) for r in conn.execute(sa.select(audit_log)).all()])


def test_every_change_writes_its_entry_with_the_actor_and_no_secret(engine: sa.Engine) -> None:
    m = Manager(engine, MASTER, "user:alice", "198.51.100.4")
    site, secret = m.add_site(["shop.example"], name="shop", difficulty=5000)
    m.update_site(site.sitekey, difficulty=6000, name=None)
    _, rotated = m.rotate_secret(site.sitekey)
    _, token = m.add_key("ci")
    m.put_grant("ci", site.sitekey, 30.0, 5, None)
    m.remove_grant("ci", site.sitekey)
    m.revoke_key("ci")
    kid = m.rotate_signing_key()
    admin_token = m.new_admin_token()
    m.add_user("bob", PASSWORD, "viewer")
    m.set_password("bob", PASSWORD + "!")
    m.set_role("bob", "owner")
    m.remove_user("bob")
    m.remove_site(site.sitekey)
    entries = all_entries(engine)
    assert [(e.action, e.target) for e in entries] == [
        ("site.add", site.sitekey),
        ("site.update", site.sitekey),
        ("site.rotate_secret", site.sitekey),
        ("key.add", "ci"),
        ("grant.put", "ci"),
        ("grant.remove", "ci"),
        ("key.revoke", "ci"),
        ("signing_key.rotate", kid),
        ("admin_token.new", ""),
        ("user.add", "bob"),
        ("user.passwd", "bob"),
        ("user.role", "bob"),
        ("user.remove", "bob"),
        ("site.remove", site.sitekey),
    ]
    assert {(e.actor, e.ip) for e in entries} == {("user:alice", "198.51.100.4")}
    assert entries[0].detail["hostnames"] == ["shop.example"]
    assert entries[0].detail["difficulty"] == 5000
    assert entries[1].detail == {"difficulty": 6000}  # what was asked for, not the Nones
    assert entries[4].detail == {
        "sitekey": site.sitekey, "rate_per_min": 30.0, "burst": 5, "expires_at": None,
    }  # fmt: skip
    assert entries[9].detail == {"role": "viewer"} and entries[11].detail == {"role": "owner"}
    text = raw_log(engine)
    for secret_value in (secret, rotated, token, admin_token, PASSWORD, "secret_hash", "$argon2"):
        assert secret_value not in text


def test_a_refused_change_writes_nothing(engine: sa.Engine) -> None:
    m = Manager(engine, None, "cli")
    site, _ = m.add_site(["shop.example"])
    before = len(all_entries(engine))
    for change, error in [
        (lambda: m.add_site([]), SiteError),
        (lambda: m.update_site(site.sitekey, difficulty=0), SiteError),
        (lambda: m.rotate_secret("nope"), SiteError),
        (lambda: m.remove_site("nope"), SiteError),
        (lambda: m.add_key("a b"), ApiKeyError),
        (lambda: m.revoke_key("nobody"), ApiKeyError),
        (lambda: m.put_grant("nobody", site.sitekey, 60.0, 10, None), GrantError),
        (lambda: m.remove_grant("nobody", site.sitekey), GrantError),
        (lambda: m.add_user("bob", "short", "owner"), AccountError),
        (lambda: m.remove_user("nobody"), AccountError),
        (lambda: m.set_role("nobody", "owner"), AccountError),
        (lambda: m.rotate_signing_key(), keys.MasterKeyError),  # no master key given
    ]:
        with pytest.raises(error):
            change()
    assert len(all_entries(engine)) == before


def test_user_changes_end_sessions_through_the_manager(engine: sa.Engine) -> None:
    m = Manager(engine, None, "cli")
    bob = m.add_user("bob", PASSWORD, "owner")
    cookie, _ = SessionStore(engine).create(bob.id, 100.0)
    m.set_role("bob", "viewer")
    assert SessionStore(engine).get(cookie, 101.0) is None


def test_live_signing_keys_after_a_rotation(engine: sa.Engine) -> None:
    m = Manager(engine, MASTER, "cli")
    first = m.rotate_signing_key()
    second = m.rotate_signing_key()
    live = keys.live_keys(engine)
    assert [k["kid"] for k in live] == [second, first]
    assert [k["current"] for k in live] == [True, False]
    assert live[0]["retired_at"] is None and isinstance(live[1]["retired_at"], float)
    assert set(live[0]) == {"kid", "created_at", "retired_at", "current"}
    retired = live[1]["retired_at"]
    assert isinstance(retired, float)
    assert keys.live_keys(engine, now=retired + keys.RETIRED_KEYS_KEPT + 1) == [live[0]]


def test_site_defaults_follow_the_settings(tmp_path: Path) -> None:
    cfg = settings.load(env={}, data_dir=str(tmp_path))
    base = site_defaults(cfg)
    assert base == {
        "algorithm": cfg.default_algorithm,
        "difficulty": cfg.default_difficulty,
        "token_lifetime": cfg.token_lifetime,
    }
    assert site_defaults(cfg, "argon2id")["algorithm"] == "argon2id"
    with pytest.raises(SiteError):
        site_defaults(cfg, "md5")


# The doors: the CLI and the admin HTTP API enter their changes.


def test_cli_changes_are_entered_as_cli(tmp_path: Path) -> None:
    data = str(tmp_path / "data")

    def run(*args: str) -> str:
        result = CliRunner().invoke(main, ["--data-dir", data, *args], env={})
        assert result.exit_code == 0, result.output
        return result.output

    sitekey = json.loads(run("site", "add", "--hostname", "a.example", "--json"))["sitekey"]
    run("site", "update", sitekey, "--difficulty", "5000")
    run("site", "rotate-secret", sitekey)
    run("key", "add", "--name", "ci")
    run("grant", "add", "--key", "ci", "--site", sitekey, "--rate", "30/min")
    run("grant", "remove", "--key", "ci", "--site", sitekey)
    run("key", "revoke", "ci")
    run("keys", "rotate")
    run("admin-token")
    run("site", "remove", sitekey)
    entries = all_entries(open_engine(settings.load(env={}, data_dir=data)))
    assert [e.action for e in entries] == [
        "site.add", "site.update", "site.rotate_secret", "key.add", "grant.put",
        "grant.remove", "key.revoke", "signing_key.rotate", "admin_token.new", "site.remove",
    ]  # fmt: skip
    assert {(e.actor, e.ip) for e in entries} == {("cli", None)}
    assert entries[1].detail == {"difficulty": 5000}


def test_cli_refusals_are_not_entered(tmp_path: Path) -> None:
    data = str(tmp_path / "data")
    result = CliRunner().invoke(main, ["--data-dir", data, "key", "revoke", "nobody"], env={})
    assert result.exit_code == 1 and "no API key named 'nobody'" in result.output
    assert all_entries(open_engine(settings.load(env={}, data_dir=data))) == []


@pytest.mark.anyio
async def test_admin_api_changes_are_entered_as_admin_api(
    client: httpx.AsyncClient, service: Service, site: SiteCreds
) -> None:
    auth = {"Authorization": "Bearer " + new_admin_token(service.engine)}
    r = await client.post("/api/admin/keys", json={"name": "ci"}, headers=auth)
    token = r.json()["token"]
    await client.post(
        "/api/admin/grants", json={"key": "ci", "site": site.sitekey, "burst": 3}, headers=auth
    )
    await client.patch(f"/api/admin/sites/{site.sitekey}", json={"difficulty": 4000}, headers=auth)
    await client.delete(f"/api/admin/grants/ci/{site.sitekey}", headers=auth)
    await client.post("/api/admin/keys/ci/revoke", headers=auth)
    refused = await client.post("/api/admin/keys/nobody/revoke", headers=auth)
    assert refused.status_code == 404
    entries = all_entries(service.engine)
    assert [(e.action, e.target) for e in entries] == [
        ("key.add", "ci"),
        ("grant.put", "ci"),
        ("site.update", site.sitekey),
        ("grant.remove", "ci"),
        ("key.revoke", "ci"),
    ]
    assert {(e.actor, e.ip) for e in entries} == {("admin-api", "203.0.113.7")}
    assert entries[2].detail == {"difficulty": 4000}
    assert token not in raw_log(service.engine)
