"""`passgate user` and `passgate audit` through click's runner: accounts made from the CLI
only, passwords from standard input or typed twice, changes that end sessions, and the
audit log read back."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import sqlalchemy as sa
from click.testing import CliRunner, Result

from passgate import settings
from passgate.audit import AuditLog
from passgate.cli import main
from passgate.console.accounts import UserRegistry
from passgate.console.sessions import SessionStore
from passgate.service import open_engine

PASSWORD = "correct horse battery"


@pytest.fixture
def data(tmp_path: Path) -> str:
    return str(tmp_path / "data")


@pytest.fixture
def run(data: str):
    def invoke(*args: str, ok: bool = True, input: str | None = None) -> Result:  # noqa: A002
        result = CliRunner().invoke(main, ["--data-dir", data, *args], input=input, env={})
        if ok:
            assert result.exit_code == 0, result.output
        else:
            assert result.exit_code != 0, result.output
        return result

    return invoke


def engine(data: str) -> sa.Engine:
    return open_engine(settings.load(env={}, data_dir=data))


def test_there_is_no_default_account(run) -> None:
    assert run("user", "list").output.strip() == "no users"
    assert json.loads(run("user", "list", "--json").output) == []


def test_add_with_password_stdin(run, data: str) -> None:
    out = run("user", "add", "alice", "--role", "owner", "--password-stdin", input=PASSWORD + "\n")
    assert out.output.strip() == "added alice (owner)"
    assert PASSWORD not in out.output
    users = UserRegistry(engine(data))
    assert users.authenticate("alice", PASSWORD) is not None
    assert users.authenticate("alice", PASSWORD + "\n") is None  # the newline is not kept


def test_add_prompts_twice_with_hidden_input(run, data: str) -> None:
    out = run("user", "add", "bob", "--role", "viewer", input=f"{PASSWORD}\n{PASSWORD}\n")
    assert out.output.count("Password") == 1 and "Repeat for confirmation" in out.output
    assert PASSWORD not in out.output  # hidden
    assert UserRegistry(engine(data)).authenticate("bob", PASSWORD) is not None


def test_prompts_that_differ_make_no_user(run) -> None:
    out = run(
        "user", "add", "bob", "--role", "viewer", input=f"{PASSWORD}\nsomething else!\n", ok=False
    )
    assert "do not match" in out.output
    assert run("user", "list").output.strip() == "no users"


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (("user", "add", "bob", "--role", "viewer", "--password-stdin"), "short\n",
         "Error: the password must be at least 12 characters"),
        (("user", "add", "bob", "--role", "admin", "--password-stdin"), PASSWORD,
         "Error: a role is one of owner, viewer, not 'admin'"),
        (("user", "add", "b b", "--role", "owner", "--password-stdin"), PASSWORD,
         "Error: a user name is 1-64 characters"),
        (("user", "add", "bob", "--role", "owner", "--password-stdin"), f"{PASSWORD}\nmore\n",
         "Error: give the password as one line on standard input"),
        (("user", "remove", "nobody"), None, "Error: unknown user nobody"),
        (("user", "passwd", "nobody", "--password-stdin"), PASSWORD, "Error: unknown user nobody"),
        (("user", "role", "nobody", "owner"), None, "Error: unknown user nobody"),
    ],
)  # fmt: skip
def test_clear_errors(run, args: tuple[str, ...], stdin: str | None, message: str) -> None:
    out = run(*args, input=stdin, ok=False)
    assert out.exit_code == 1 and message in out.output
    assert "Traceback" not in out.output


def test_an_existing_user_is_refused_before_the_prompt(run) -> None:
    run("user", "add", "alice", "--role", "owner", "--password-stdin", input=PASSWORD)
    out = run("user", "add", "alice", "--role", "viewer", ok=False)
    assert "Error: a user named alice exists already" in out.output
    assert "Password" not in out.output


def test_list_passwd_role_remove(run, data: str) -> None:
    run("user", "add", "bob", "--role", "viewer", "--password-stdin", input=PASSWORD)
    run("user", "add", "alice", "--role", "owner", "--password-stdin", input=PASSWORD)
    listed = json.loads(run("user", "list", "--json").output)
    assert [(u["name"], u["role"]) for u in listed] == [("alice", "owner"), ("bob", "viewer")]
    assert "hash" not in json.dumps(listed)
    text = run("user", "list").output
    assert "alice" in text and "owner" in text and "$argon2" not in text
    out = run("user", "passwd", "bob", "--password-stdin", input="a new long password\n")
    assert out.output.strip() == "password changed for bob; their sessions have ended"
    users = UserRegistry(engine(data))
    assert users.authenticate("bob", PASSWORD) is None
    assert users.authenticate("bob", "a new long password") is not None
    assert run("user", "role", "bob", "owner").output.strip() == (
        "bob is now owner; their sessions have ended"
    )
    assert run("user", "role", "bob", "root", ok=False).exit_code == 1
    assert run("user", "remove", "bob").output.strip() == "removed bob"
    assert [u["name"] for u in json.loads(run("user", "list", "--json").output)] == ["alice"]


@pytest.mark.parametrize(
    "change",
    [
        ("user", "passwd", "bob", "--password-stdin"),
        ("user", "role", "bob", "viewer"),
        ("user", "remove", "bob"),
    ],
)
def test_changes_end_the_users_sessions(run, data: str, change: tuple[str, ...]) -> None:
    run("user", "add", "bob", "--role", "owner", "--password-stdin", input=PASSWORD)
    run("user", "add", "carol", "--role", "owner", "--password-stdin", input=PASSWORD)
    db = engine(data)
    users, sessions = UserRegistry(db), SessionStore(db)
    bob, carol = users.get("bob"), users.get("carol")
    assert bob is not None and carol is not None
    dies, _ = sessions.create(bob.id, 1000.0)
    lives, _ = sessions.create(carol.id, 1000.0)
    run(*change, input="a new long password\n")
    assert sessions.get(dies, 1001.0) is None
    assert sessions.get(lives, 1001.0) is not None


def test_user_changes_are_audited_as_cli(run, data: str) -> None:
    run("user", "add", "bob", "--role", "owner", "--password-stdin", input=PASSWORD)
    run("user", "passwd", "bob", "--password-stdin", input="a new long password")
    run("user", "role", "bob", "viewer")
    run("user", "remove", "bob")
    run("user", "remove", "bob", ok=False)  # refused: not entered
    entries = AuditLog(engine(data)).list()
    assert [(e.actor, e.action, e.target, e.detail) for e in entries] == [
        ("cli", "user.remove", "bob", {}),
        ("cli", "user.role", "bob", {"role": "viewer"}),
        ("cli", "user.passwd", "bob", {}),
        ("cli", "user.add", "bob", {"role": "owner"}),
    ]
    assert PASSWORD not in json.dumps([e.public() for e in entries])


def test_audit_command(run) -> None:
    assert run("audit").output.strip() == "no entries"
    sitekey = json.loads(run("site", "add", "--hostname", "a.example", "--json").output)["sitekey"]
    run("key", "add", "--name", "ci")
    run("user", "add", "bob", "--role", "owner", "--password-stdin", input=PASSWORD)
    listed = json.loads(run("audit", "--json").output)
    assert [e["action"] for e in listed] == ["user.add", "key.add", "site.add"]
    assert listed[2]["target"] == sitekey and listed[2]["actor"] == "cli"
    assert listed[2]["at"].endswith("Z")
    one = json.loads(run("audit", "--json", "--limit", "1").output)
    assert [e["action"] for e in one] == ["user.add"]
    sites = json.loads(run("audit", "--json", "--action", "site.").output)
    assert [e["action"] for e in sites] == ["site.add"]
    assert json.loads(run("audit", "--json", "--actor", "admin-api").output) == []
    text = run("audit", "--action", "key.").output
    assert "cli" in text and "key.add" in text and "ci" in text
    assert run("audit", "--limit", "0", ok=False).exit_code == 2
