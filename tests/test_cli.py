"""The `passgate` command through click's runner, on a fresh data directory each time."""

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
        return result

    return invoke


def test_site_add_json_is_exactly_sitekey_and_secret(run) -> None:
    out = json.loads(run("site", "add", "--hostname", "shop.example", "--json").output)
    assert set(out) == {"sitekey", "secret"}
    assert out["secret"].startswith("0x") and len(out["secret"]) == 42


def test_secret_is_stored_hashed(run, tmp_path: Path) -> None:
    out = json.loads(run("site", "add", "--hostname", "shop.example", "--json").output)
    db = b"".join(p.read_bytes() for p in (tmp_path / "data").glob("passgate.db*"))
    assert out["secret"].encode() not in db
    assert out["sitekey"].encode() in db


def test_list_update_rotate_remove(run) -> None:
    sk = json.loads(run("site", "add", "--hostname", "a.example", "--name", "A", "--json").output)[
        "sitekey"
    ]
    listed = json.loads(run("site", "list", "--json").output)
    assert listed[0]["sitekey"] == sk and listed[0]["hostnames"] == ["a.example"]
    assert "secret" not in listed[0]
    upd = json.loads(
        run(
            "site",
            "update",
            sk,
            "--hostname",
            "b.example",
            "--difficulty",
            "5000",
            "--token-lifetime",
            "60",
            "--require-remoteip",
            "--bind-ip",
            "--json",
        ).output
    )
    assert upd["hostnames"] == ["b.example"] and upd["difficulty"] == 5000
    assert upd["token_lifetime"] == 60 and upd["require_remoteip"] and upd["bind_ip"]
    first = json.loads(run("site", "rotate-secret", sk, "--json").output)["secret"]
    second = json.loads(run("site", "rotate-secret", sk, "--json").output)["secret"]
    assert first != second
    run("site", "remove", sk)
    assert json.loads(run("site", "list", "--json").output) == []


@pytest.mark.parametrize(
    "args",
    [
        ("site", "add", "--hostname", "http://x.example/"),
        ("site", "add", "--hostname", "x.example", "--difficulty", "0"),
        ("site", "update", "00000000-0000-4000-8000-000000000000", "--difficulty", "5"),
        ("site", "remove", "nope"),
        ("site", "add"),
    ],
)
def test_bad_input_is_a_clear_error_not_a_traceback(run, args) -> None:
    result = run(*args, ok=False)
    assert result.exit_code != 0
    assert "Traceback" not in result.output
    assert "Error" in result.output


def test_config_masks_secrets(run, tmp_path: Path) -> None:
    runner = CliRunner()
    result = runner.invoke(
        main,
        ["config", "--json"],
        env={
            "PASSGATE_MASTER_KEY": "a-very-secret-master-key",
            "PASSGATE_DATABASE_URL": "postgresql://u:pw@h/db",
        },
    )
    out = json.loads(result.output)
    assert out["master_key"] == "********"
    assert "pw" not in out["database_url"] and out["database_url"].startswith("postgresql://u:")


def test_every_command_has_help(run) -> None:
    for args in (
        ["serve"],
        ["demo"],
        ["config"],
        ["migrate"],
        ["site", "add"],
        ["site", "update"],
        ["site", "list"],
        ["site", "rotate-secret"],
        ["site", "remove"],
        ["keys", "rotate"],
    ):
        assert "Usage:" in run(*args, "--help").output


def test_keys_rotate_prints_a_new_id(run) -> None:
    a = json.loads(run("keys", "rotate", "--json").output)["kid"]
    b = json.loads(run("keys", "rotate", "--json").output)["kid"]
    assert a != b


def test_site_abuse_settings(run) -> None:
    sk = json.loads(run("site", "add", "--hostname", "a.example", "--json").output)["sitekey"]
    (listed,) = json.loads(run("site", "list", "--json").output)
    assert listed["adaptive"] is True and listed["max_difficulty"] == 8_000_000
    assert (listed["prefix_v4"], listed["prefix_v6"], listed["allowlist"]) == (24, 48, [])
    upd = json.loads(
        run(
            "site", "update", sk, "--no-adaptive", "--max-difficulty", "1000000",
            "--prefix-v4", "28", "--prefix-v6", "56", "--allow", "192.0.2.0/24",
            "--allow", "2001:db8::/32", "--json",
        ).output
    )  # fmt: skip
    assert upd["adaptive"] is False and upd["max_difficulty"] == 1_000_000
    assert (upd["prefix_v4"], upd["prefix_v6"]) == (28, 56)
    assert upd["allowlist"] == ["192.0.2.0/24", "2001:db8::/32"]
    assert "fixed" in run("site", "list").output
    cleared = json.loads(run("site", "update", sk, "--clear-allow", "--json").output)
    assert cleared["allowlist"] == []
    for bad, words in (
        (["--prefix-v4", "8"], "between 16 and 32"),
        (["--prefix-v6", "80"], "between 32 and 64"),
        (["--allow", "office-wifi"], "CIDR"),
        (["--max-difficulty", "5"], "must not be below"),
    ):
        result = run("site", "update", sk, *bad, ok=False)
        assert result.exit_code != 0 and words in result.output, result.output
        assert "Traceback" not in result.output
    added = json.loads(
        run("site", "add", "--hostname", "b.example", "--no-adaptive", "--json").output
    )
    (b,) = [
        s
        for s in json.loads(run("site", "list", "--json").output)
        if s["sitekey"] == added["sitekey"]
    ]
    assert b["adaptive"] is False
