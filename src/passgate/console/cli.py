"""The console's commands: `passgate user` (accounts: the only way to make them, and to
recover one) and `passgate audit` (the audit log)."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable
from typing import Any, TypeVar

import click

from passgate.audit import AuditLog, Entry, iso
from passgate.console.accounts import (
    ROLES,
    AccountError,
    User,
    UserRegistry,
    check_name,
    check_role,
)
from passgate.manage import Manager
from passgate.tokenapi.cli import store_engine

T = TypeVar("T")
ROLE_METAVAR = "|".join(ROLES)
STDIN_HELP = "Read the password from standard input (one line) instead of prompting."


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None


def _emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else text)


def _password(from_stdin: bool) -> str:
    """The new password: one line of standard input, or typed twice at a hidden prompt."""
    if from_stdin:
        text = sys.stdin.read()
        if text.endswith("\n"):
            text = text[:-1].removesuffix("\r")
        if "\n" in text or "\r" in text:
            raise click.ClickException("give the password as one line on standard input")
        return text
    value: str = click.prompt("Password", hide_input=True, confirmation_prompt=True)
    return value


def _known(users: UserRegistry, name: str) -> User:
    user = users.get(name)
    if user is None:
        raise click.ClickException(f"unknown user {name}")
    return user


@click.group("user")
def user_group() -> None:
    """Manage the console's accounts (owners change things, viewers only look)."""


@user_group.command("add")
@click.argument("name")
@click.option("--role", required=True, metavar=ROLE_METAVAR, help="owner or viewer.")
@click.option("--password-stdin", "from_stdin", is_flag=True, help=STDIN_HELP)
@click.pass_context
def user_add(ctx: click.Context, name: str, role: str, from_stdin: bool) -> None:
    """Add a console user (the password: at least 12 characters)."""
    manager = Manager(store_engine(ctx), None, "cli")
    try:  # before the prompt: no typing a password twice for nothing
        check_name(name)
        check_role(role)
    except AccountError as exc:
        raise click.ClickException(str(exc)) from None
    if manager.users.get(name) is not None:
        raise click.ClickException(f"a user named {name} exists already")
    password = _password(from_stdin)
    user = _guard(lambda: manager.add_user(name, password, role))
    click.echo(f"added {user.name} ({user.role})")


def _user_text(u: User) -> str:
    return f"{u.name:<24} {u.role:<7} created {iso(u.created_at)}  changed {iso(u.changed_at)}"


@user_group.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def user_list(ctx: click.Context, as_json: bool) -> None:
    """List the console's users (never their password hashes)."""
    found = UserRegistry(store_engine(ctx)).list()
    _emit(as_json, [u.public() for u in found], "\n".join(map(_user_text, found)) or "no users")


@user_group.command("remove")
@click.argument("name")
@click.pass_context
def user_remove(ctx: click.Context, name: str) -> None:
    """Remove a user; their sessions end at once."""
    _guard(lambda: Manager(store_engine(ctx), None, "cli").remove_user(name))
    click.echo(f"removed {name}")


@user_group.command("passwd")
@click.argument("name")
@click.option("--password-stdin", "from_stdin", is_flag=True, help=STDIN_HELP)
@click.pass_context
def user_passwd(ctx: click.Context, name: str, from_stdin: bool) -> None:
    """Set a user's password; their sessions end at once."""
    manager = Manager(store_engine(ctx), None, "cli")
    _known(manager.users, name)
    password = _password(from_stdin)
    _guard(lambda: manager.set_password(name, password))
    click.echo(f"password changed for {name}; their sessions have ended")


@user_group.command("role")
@click.argument("name")
@click.argument("role", metavar=ROLE_METAVAR)
@click.pass_context
def user_role(ctx: click.Context, name: str, role: str) -> None:
    """Change a user's role; their sessions end at once."""
    _guard(lambda: Manager(store_engine(ctx), None, "cli").set_role(name, role))
    click.echo(f"{name} is now {role}; their sessions have ended")


def _entry_text(e: Entry) -> str:
    detail = json.dumps(e.detail, ensure_ascii=False, sort_keys=True) if e.detail else ""
    parts = (iso(e.at), f"{e.actor:<12}", f"{e.action:<18}", e.target, e.ip, detail)
    return "  ".join(part for part in parts if part).rstrip()


@click.command("audit")
@click.option("--limit", type=click.IntRange(1, 10_000), default=50, show_default=True)
@click.option("--actor", help="Only this actor: cli, admin-api or user:NAME.")
@click.option("--action", "action", help="Only actions starting so: site., signin...")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def audit_cmd(
    ctx: click.Context, limit: int, actor: str | None, action: str | None, as_json: bool
) -> None:
    """Print the audit log, newest first: who changed what, when, and from where."""
    found = AuditLog(store_engine(ctx)).list(limit, actor, action)
    _emit(as_json, [e.public() for e in found], "\n".join(map(_entry_text, found)) or "no entries")


COMMANDS = (user_group, audit_cmd)


def register(main: click.Group) -> None:
    for command in COMMANDS:
        main.add_command(command)
