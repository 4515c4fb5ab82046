"""`passgate key`, `grant`, `records` and `admin-token` through click's runner."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from passgate.cli import main


@pytest.fixture
def run(tmp_path: Path):
    runner = CliRunner()

    def invoke(*args: str, ok: bool = True):
        result = runner.invoke(main, ["--data-dir", str(tmp_path / "data"), *args], env={})
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result

    return invoke


@pytest.fixture
def sitekey(run) -> str:
    out = run("site", "add", "--hostname", "shop.example", "--json").output
    return str(json.loads(out)["sitekey"])


def test_key_add_json_is_exactly_the_token(run, tmp_path: Path) -> None:
    out = json.loads(run("key", "add", "--name", "ci", "--json").output)
    assert set(out) == {"token"} and out["token"].startswith("pgk_")
    db = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("passgate.db*"))
    assert out["token"].encode() not in db  # stored hashed


def test_key_names(run) -> None:
    run("key", "add", "--name", "Ok_name.v-2")
    for bad in ("a b", "a/b", "", "x" * 65, "ключ"):
        assert "key name" in run("key", "add", "--name", bad, ok=False).output
    assert "exists" in run("key", "add", "--name", "Ok_name.v-2", ok=False).output


def test_key_list_and_revoke(run) -> None:
    run("key", "add", "--name", "ci")
    listed = json.loads(run("key", "list", "--json").output)
    assert listed[0]["name"] == "ci" and listed[0]["active"] is True
    assert "token" not in listed[0]
    assert json.loads(run("key", "revoke", "ci", "--json").output)["active"] is False
    assert "revoked" in run("key", "list").output
    assert "no API key" in run("key", "revoke", "nobody", ok=False).output


def test_grant_add_list_remove(run, sitekey: str) -> None:
    run("key", "add", "--name", "ci")
    g = json.loads(
        run("grant", "add", "--key", "ci", "--site", sitekey, "--rate", "2/s", "--burst", "4",
            "--expires", "2030-01-01T00:00:00+00:00", "--json").output
    )  # fmt: skip
    assert g == {
        "key": "ci", "sitekey": sitekey, "rate_per_min": 120.0, "burst": 4,
        "expires_at": "2030-01-01T00:00:00Z", "created_at": g["created_at"],
    }  # fmt: skip
    again = json.loads(run("grant", "add", "--key", "ci", "--site", sitekey, "--json").output)
    assert again["rate_per_min"] == 60.0 and again["burst"] == 10 and again["expires_at"] is None
    assert len(json.loads(run("grant", "list", "--key", "ci", "--json").output)) == 1
    assert json.loads(run("grant", "list", "--key", "other", "--json").output) == []
    run("grant", "remove", "--key", "ci", "--site", sitekey)
    assert run("grant", "list").output.strip() == "no grants"
    assert "no grant" in run("grant", "remove", "--key", "ci", "--site", sitekey, ok=False).output


@pytest.mark.parametrize(
    "args,message",
    [
        (["--rate", "fast"], "not a rate"),
        (["--rate", "0/min"], "above 0"),
        (["--burst", "0"], "burst"),
        (["--expires", "tomorrow"], "ISO 8601"),
    ],
)
def test_grant_bad_input(run, sitekey: str, args: list[str], message: str) -> None:
    run("key", "add", "--name", "ci")
    assert message in run("grant", "add", "--key", "ci", "--site", sitekey, *args, ok=False).output


def test_grant_needs_a_known_key_and_site(run, sitekey: str) -> None:
    assert "no API key" in run("grant", "add", "--key", "x", "--site", sitekey, ok=False).output
    run("key", "add", "--name", "ci")
    out = run("grant", "add", "--key", "ci", "--site", "4c9a8d3e-0000-4000-8000-000000000000",
              ok=False).output  # fmt: skip
    assert "no site" in out


def test_records_per_key_and_site(run, sitekey: str, tmp_path: Path) -> None:
    import time

    from passgate import settings
    from passgate.service import open_engine
    from passgate.tokenapi.records import Record, RecordLog

    run("key", "add", "--name", "ci")
    log = RecordLog(open_engine(settings.load(env={}, data_dir=str(tmp_path / "data"))))
    now = time.time()
    log.add(Record("a" * 32, "universal", "ok", 200, 1.5, now, 1, "ci", sitekey, "shop.example"))
    log.add(Record("b" * 32, "job", "no_grant", 403, 0.5, now + 1, 2, "other", "x"))
    per_key = json.loads(run("records", "--key", "ci", "--json").output)
    per_site = json.loads(run("records", "--site", sitekey, "--json").output)
    assert [r["id"] for r in per_key] == [r["id"] for r in per_site] == ["a" * 32]
    assert len(json.loads(run("records", "--json").output)) == 2
    assert "shop.example" in run("records").output
    assert run("records", "--key", "nobody").output.strip() == "no records"


def test_admin_token(run) -> None:
    out = json.loads(run("admin-token", "--json").output)
    assert set(out) == {"token"} and out["token"].startswith("pga_")


@pytest.mark.parametrize(
    "command",
    [["key"], ["key", "add"], ["key", "list"], ["key", "revoke"], ["grant"], ["grant", "add"],
     ["grant", "list"], ["grant", "remove"], ["records"], ["admin-token"]],
)  # fmt: skip
def test_every_command_has_help(run, command: list[str]) -> None:
    assert "Usage:" in run(*command, "--help").output
