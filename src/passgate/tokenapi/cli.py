"""The token API's commands: `passgate key`, `grant`, `records` and `admin-token`."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, TypeVar

import click
import sqlalchemy as sa

from passgate.manage import Manager
from passgate.settings import Config
from passgate.tokenapi.apikeys import ApiKey, ApiKeyError, ApiKeyRegistry
from passgate.tokenapi.grants import (
    DEFAULT_BURST,
    DEFAULT_RATE,
    Grant,
    GrantError,
    GrantRegistry,
    parse_expiry,
    parse_rate,
)
from passgate.tokenapi.records import Record, RecordLog

T = TypeVar("T")
JSON_HELP = "Print JSON."


def store_engine(ctx: click.Context) -> sa.Engine:
    """The store of the command's configuration, migrated; a clean error when it is down."""
    from passgate.service import open_engine

    cfg: Config = ctx.obj
    try:
        return open_engine(cfg)
    except sa.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"cannot open the store: {exc.__class__.__name__}") from None


def _manager(ctx: click.Context) -> Manager:
    """The CLI's changes, entered in the audit log as `cli`."""
    return Manager(store_engine(ctx), None, "cli")


def _guard(fn: Callable[[], T]) -> T:
    try:
        return fn()
    except (ApiKeyError, GrantError) as exc:
        raise click.ClickException(str(exc)) from None


def _emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, ensure_ascii=False) if as_json else text)


def _when(ts: float | None) -> str:
    if ts is None:
        return "-"
    return datetime.fromtimestamp(ts, UTC).strftime("%Y-%m-%d %H:%M:%SZ")


@click.group("key")
def key_group() -> None:
    """Manage token-API keys (User-Token / api_token)."""


@key_group.command("add")
@click.option("--name", required=True, help="A unique name: letters, digits, _ . -")
@click.option("--json", "as_json", is_flag=True, help='Print exactly {"token": ...}.')
@click.pass_context
def key_add(ctx: click.Context, name: str, as_json: bool) -> None:
    """Create an API key and print its token (shown only here; stored hashed)."""
    _key, token = _guard(lambda: _manager(ctx).add_key(name))
    _emit(
        as_json,
        {"token": token},
        f"key:   {name}\ntoken: {token}\n(the token is shown only now; it is stored hashed)",
    )


def _key_text(k: ApiKey) -> str:
    state = "active" if k.active else f"revoked {_when(k.revoked_at)}"
    return f"{k.name:<24} {state:<28} created {_when(k.created_at)}"


@key_group.command("list")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def key_list(ctx: click.Context, as_json: bool) -> None:
    """List API keys (never their tokens)."""
    found = ApiKeyRegistry(store_engine(ctx)).list()
    _emit(as_json, [k.public() for k in found], "\n".join(map(_key_text, found)) or "no keys")


@key_group.command("revoke")
@click.argument("name")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def key_revoke(ctx: click.Context, name: str, as_json: bool) -> None:
    """Revoke an API key at once: its calls answer 401 and its jobs fail."""
    key = _guard(lambda: _manager(ctx).revoke_key(name))
    _emit(as_json, key.public(), f"revoked {key.name}")


@click.group("grant")
def grant_group() -> None:
    """Manage grants: which key may mint for which sitekey, how fast, until when."""


def _grant_text(g: Grant) -> str:
    expires = f"expires {_when(g.expires_at)}" if g.expires_at is not None else "no expiry"
    return f"{g.key_name:<24} {g.sitekey}  {g.rate_per_min:g}/min burst {g.burst}  {expires}"


@grant_group.command("add")
@click.option("--key", "key_name", required=True, help="The API key's name.")
@click.option("--site", "sitekey", required=True, help="The sitekey.")
@click.option("--rate", default=DEFAULT_RATE, show_default=True, help="e.g. 60/min, 2/s, 600/hour.")
@click.option("--burst", type=int, default=DEFAULT_BURST, show_default=True, help="Bucket size.")
@click.option("--expires", help="ISO 8601 time the grant ends (UTC unless it says).")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def grant_add(
    ctx: click.Context,
    key_name: str,
    sitekey: str,
    rate: str,
    burst: int,
    expires: str | None,
    as_json: bool,
) -> None:
    """Grant a key a site (or change the grant's rate, burst and expiry)."""
    grant = _guard(
        lambda: _manager(ctx).put_grant(
            key_name,
            sitekey,
            parse_rate(rate),
            burst,
            parse_expiry(expires) if expires else None,
        )
    )
    _emit(as_json, grant.public(), _grant_text(grant))


@grant_group.command("list")
@click.option("--key", "key_name", help="Only this key's grants.")
@click.option("--site", "sitekey", help="Only this sitekey's grants.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def grant_list(
    ctx: click.Context, key_name: str | None, sitekey: str | None, as_json: bool
) -> None:
    """List grants."""
    found = GrantRegistry(store_engine(ctx)).list(key_name, sitekey)
    _emit(as_json, [g.public() for g in found], "\n".join(map(_grant_text, found)) or "no grants")


@grant_group.command("remove")
@click.option("--key", "key_name", required=True, help="The API key's name.")
@click.option("--site", "sitekey", required=True, help="The sitekey.")
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def grant_remove(ctx: click.Context, key_name: str, sitekey: str, as_json: bool) -> None:
    """Remove a grant: the key can no longer mint for the site."""
    _guard(lambda: _manager(ctx).remove_grant(key_name, sitekey))
    _emit(as_json, {"removed": {"key": key_name, "sitekey": sitekey}}, "removed")


def _record_text(r: Record) -> str:
    return (
        f"{_when(r.created_at)}  {r.id}  {r.kind:<9} {r.outcome:<19} {r.key_name or '-':<16} "
        f"{r.sitekey or '-'}  {r.referer_host or '-'}  {r.cost_ms:.2f}ms"
        + (f"  dev={r.developer_id}" if r.developer_id else "")
    )


@click.command("records")
@click.option("--key", "key_name", help="Only this key's records.")
@click.option("--site", "sitekey", help="Only this sitekey's records.")
@click.option("--limit", type=click.IntRange(1, 1000), default=50, show_default=True)
@click.option("--json", "as_json", is_flag=True, help=JSON_HELP)
@click.pass_context
def records_cmd(
    ctx: click.Context, key_name: str | None, sitekey: str | None, limit: int, as_json: bool
) -> None:
    """List token-API call records, newest first, per key or per site."""
    found = RecordLog(store_engine(ctx)).list(key_name, sitekey, limit)
    _emit(as_json, [r.public() for r in found], "\n".join(map(_record_text, found)) or "no records")


@click.command("admin-token")
@click.option("--json", "as_json", is_flag=True, help='Print exactly {"token": ...}.')
@click.pass_context
def admin_token_cmd(ctx: click.Context, as_json: bool) -> None:
    """Create the admin API's token, replacing any earlier one (shown only here)."""
    token = _manager(ctx).new_admin_token()
    _emit(
        as_json,
        {"token": token},
        f"admin token: {token}\n(send it as Authorization: Bearer ...; shown only now)",
    )


COMMANDS = (key_group, grant_group, records_cmd, admin_token_cmd)


def register(main: click.Group) -> None:
    for command in COMMANDS:
        main.add_command(command)
