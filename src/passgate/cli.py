"""The `passgate` command: serve, demo, config, migrate, and managing sites and keys."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import click
import sqlalchemy as sa

from passgate import algorithms, keys, serving, settings
from passgate.console import cli as console_cli
from passgate.manage import Manager, site_defaults
from passgate.metrics import MetricsError
from passgate.settings import Config, SettingsError
from passgate.sites import Site, SiteError, SiteRegistry
from passgate.tokenapi import cli as tokenapi_cli


def _config(ctx: click.Context) -> Config:
    cfg: Config = ctx.obj
    return cfg


def _emit(as_json: bool, data: Any, text: str) -> None:
    click.echo(json.dumps(data, indent=None if isinstance(data, dict) else 2) if as_json else text)


def _fail(message: str) -> None:
    raise click.ClickException(message)


def _engine(cfg: Config) -> sa.Engine:
    from passgate.service import open_engine

    try:
        return open_engine(cfg)
    except sa.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"cannot open the store: {exc.__class__.__name__}") from None


def _sites(ctx: click.Context) -> SiteRegistry:
    return SiteRegistry(_engine(_config(ctx)))


def _manager(ctx: click.Context, master: bool = False) -> Manager:
    """The CLI's changes, entered in the audit log as `cli`; `master` loads the master key
    (keys.MasterKeyError when it is unusable)."""
    cfg = _config(ctx)
    engine = _engine(cfg)
    return Manager(engine, keys.master_key(cfg) if master else None, "cli")


def _guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (
        SiteError,
        SettingsError,
        MetricsError,
        keys.MasterKeyError,
        algorithms.UnknownAlgorithm,
    ) as exc:
        raise click.ClickException(str(exc)) from None


@click.group(context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--data-dir", help="Data directory (PASSGATE_DATA_DIR).")
@click.option("--config", "config_path", help="TOML settings file (PASSGATE_CONFIG).")
@click.pass_context
def main(ctx: click.Context, data_dir: str | None, config_path: str | None) -> None:
    """passgate: a self-hosted proof-of-work CAPTCHA, wire-compatible with hCaptcha."""
    try:
        ctx.obj = settings.load(toml_path=config_path, data_dir=data_dir)
    except SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@main.command("config")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def config_cmd(ctx: click.Context, as_json: bool) -> None:
    """Print the effective configuration, secrets masked."""
    values = _config(ctx).masked()
    lines = [f"{s.env:<34} {values[s.name]!s:<24} {s.help}" for s in settings.SETTINGS]
    _emit(as_json, values, "\n".join(lines))


@main.command()
@click.pass_context
def migrate(ctx: click.Context) -> None:
    """Apply the store's migrations."""
    _engine(_config(ctx))
    click.echo("store is at the newest schema")


@main.group()
def site() -> None:
    """Manage sites: sitekeys, secrets, hostnames and per-site settings."""


def _site_text(s: Site) -> str:
    flags = [
        f for f, on in (("require-remoteip", s.require_remoteip), ("bind-ip", s.bind_ip)) if on
    ]
    abuse = (
        f"  adaptive max={s.cap} prefixes=/{s.prefix_v4},/{s.prefix_v6}"
        if s.adaptive
        else "  fixed"
    ) + (f"  allow={','.join(s.allowlist)}" if s.allowlist else "")
    return (
        f"{s.sitekey}  {s.name or '-'}  hosts={','.join(s.hostnames)}  difficulty={s.difficulty}"
        f"  lifetime={s.token_lifetime}s{abuse}" + (f"  {' '.join(flags)}" if flags else "")
    )


def abuse_options(func: Any) -> Any:
    """The per-site abuse settings, shared by `site add` and `site update`."""
    for option in reversed(
        [
            click.option(
                "--adaptive/--no-adaptive",
                default=None,
                help="Per-source difficulty (docs/abuse.md); on for new sites.",
            ),
            click.option(
                "--max-difficulty",
                type=int,
                help="The site's cap, in expected attempts of its algorithm (0: that "
                "algorithm's default: 8,000,000 for sha256, 3,400 for argon2id).",
            ),
            click.option("--prefix-v4", type=int, help="IPv4 prefix length, 16-32 (24)."),
            click.option("--prefix-v6", type=int, help="IPv6 prefix length, 32-64 (48)."),
            click.option(
                "--allow",
                "allow",
                multiple=True,
                help="A CIDR always given the base difficulty (repeat; replaces the list).",
            ),
            click.option("--clear-allow", is_flag=True, help="Empty the allow-list."),
            click.option(
                "--algorithm",
                type=click.Choice(algorithms.NAMES),
                help="Proof of work: sha256, or argon2id (hardware-fair). Without "
                "--difficulty or --max-difficulty, both reset to its defaults.",
            ),
            click.option(
                "--fallback",
                type=click.Choice(["sha256", "none"]),
                help="argon2id sites: let browsers without WebAssembly solve SHA-256 at a "
                "higher price (docs/abuse.md).",
            ),
        ]
    ):
        func = option(func)
    return func


def _abuse_settings(
    adaptive: bool | None,
    max_difficulty: int | None,
    prefix_v4: int | None,
    prefix_v6: int | None,
    allow: tuple[str, ...],
    clear_allow: bool,
    algorithm: str | None,
    fallback: str | None,
) -> dict[str, Any]:
    if clear_allow and allow:
        raise click.UsageError("give --allow or --clear-allow, not both")
    return {
        "algorithm": algorithm,
        "fallback": fallback,
        "adaptive": adaptive,
        "max_difficulty": max_difficulty,
        "prefix_v4": prefix_v4,
        "prefix_v6": prefix_v6,
        "allowlist": [] if clear_allow else (list(allow) if allow else None),
    }


@site.command("add")
@click.option(
    "--hostname", "hostnames", multiple=True, required=True, help="Allowed hostname (repeat)."
)
@click.option("--name", default="", help="A label for the site.")
@click.option(
    "--difficulty", type=int, help="Expected attempts of the site's algorithm (the base)."
)
@abuse_options
@click.option("--json", "as_json", is_flag=True, help='Print exactly {"sitekey", "secret"}.')
@click.pass_context
def site_add(
    ctx: click.Context,
    /,
    hostnames: tuple[str, ...],
    name: str,
    difficulty: int | None,
    as_json: bool,
    **abuse: Any,
) -> None:
    """Register a site and print its sitekey and secret (shown only here)."""
    cfg = _config(ctx)
    manager = _manager(ctx)
    chosen = _abuse_settings(**abuse)
    if chosen["fallback"] == "none":
        chosen["fallback"] = None

    def add() -> tuple[Site, str]:
        defaults = site_defaults(cfg, chosen["algorithm"])
        chosen["algorithm"] = defaults["algorithm"]
        return manager.add_site(
            list(hostnames),
            name=name,
            difficulty=defaults["difficulty"] if difficulty is None else difficulty,
            token_lifetime=defaults["token_lifetime"],
            **chosen,
        )

    new, secret = _guard(add)
    _emit(
        as_json,
        {"sitekey": new.sitekey, "secret": secret},
        f"sitekey: {new.sitekey}\nsecret:  {secret}\n(shown only now: only its hash is kept)",
    )


@site.command("update")
@click.argument("sitekey")
@click.option(
    "--hostname", "hostnames", multiple=True, help="Replace the allowed hostnames (repeat)."
)
@click.option("--name", help="A new label.")
@click.option("--difficulty", type=int, help="Expected attempts of the site's algorithm.")
@click.option("--token-lifetime", type=int, help="Seconds a pass token lives (10-3600).")
@click.option(
    "--require-remoteip/--no-require-remoteip", default=None, help="siteverify needs remoteip."
)
@click.option(
    "--bind-ip/--no-bind-ip", default=None, help="Tokens verify only from the solver's IP."
)
@abuse_options
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def site_update(
    ctx: click.Context,
    /,
    sitekey: str,
    hostnames: tuple[str, ...],
    name: str | None,
    difficulty: int | None,
    token_lifetime: int | None,
    require_remoteip: bool | None,
    bind_ip: bool | None,
    as_json: bool,
    **abuse: Any,
) -> None:
    """Change a site's hostnames or settings."""
    manager = _manager(ctx)
    updated = _guard(
        lambda: manager.update_site(
            sitekey,
            hostnames=list(hostnames) or None,
            difficulty=difficulty,
            token_lifetime=token_lifetime,
            require_remoteip=require_remoteip,
            bind_ip=bind_ip,
            name=name,
            **_abuse_settings(**abuse),
        )
    )
    _emit(as_json, updated.public(), _site_text(updated))


@site.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def site_list(ctx: click.Context, as_json: bool) -> None:
    """List sites (never their secrets)."""
    all_sites = _sites(ctx).all()
    _emit(
        as_json,
        [s.public() for s in all_sites],
        "\n".join(map(_site_text, all_sites)) or "no sites",
    )


@site.command("rotate-secret")
@click.argument("sitekey")
@click.option("--json", "as_json", is_flag=True, help='Print exactly {"sitekey", "secret"}.')
@click.pass_context
def site_rotate(ctx: click.Context, sitekey: str, as_json: bool) -> None:
    """Replace a site's secret; the old one stops working within a second."""
    manager = _manager(ctx)
    updated, secret = _guard(lambda: manager.rotate_secret(sitekey))
    _emit(as_json, {"sitekey": updated.sitekey, "secret": secret}, f"secret:  {secret}")


@site.command("remove")
@click.argument("sitekey")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def site_remove(ctx: click.Context, sitekey: str, as_json: bool) -> None:
    """Remove a site; its tokens stop verifying."""
    manager = _manager(ctx)
    _guard(lambda: manager.remove_site(sitekey))
    _emit(as_json, {"removed": sitekey}, f"removed {sitekey}")


@main.group("keys")
def keys_group() -> None:
    """Manage token signing keys."""


@keys_group.command("rotate")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def keys_rotate(ctx: click.Context, as_json: bool) -> None:
    """Start signing with a new key; tokens under older keys verify until they expire."""
    kid = _guard(lambda: _manager(ctx, master=True).rotate_signing_key())
    _emit(as_json, {"kid": kid}, f"new signing key {kid}")


@main.command("stats")
@click.option("--site", "sitekey", help="One site's counters (its sitekey).")
@click.option("--since", default="1h", show_default=True, help="How far back: 15m, 1h, 7d...")
@click.option("--step", help="Also a series in steps of this length (15m, 1h...), for charts.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON.")
@click.pass_context
def stats_cmd(
    ctx: click.Context, sitekey: str | None, since: str, step: str | None, as_json: bool
) -> None:
    """Print the counters: challenges, siteverify outcomes, replays, pass rate, solve times,
    token-API calls per key (docs/observability.md). The console charts the same report."""
    import time

    from passgate import stats
    from passgate.store import stats as stats_store

    cfg = _config(ctx)
    try:
        back = stats.parse_since(since)
        steps = stats.parse_since(step) if step else None
    except ValueError as exc:
        raise click.BadParameter(str(exc)) from None
    if steps is not None and steps % 60:
        raise click.BadParameter("the step must be whole minutes")
    engine = _engine(cfg)
    now = time.time()
    try:
        report = stats_store.report(
            engine,
            now - back,
            now,
            cfg.challenge_lifetime,
            sitekey,
            int(steps) if steps else None,
        )
        names = {s.sitekey: s.name for s in SiteRegistry(engine).all()}
    except sa.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"cannot read the store: {exc.__class__.__name__}") from None
    finally:
        engine.dispose()
    text = f"since {since} ago (counts are flushed every few seconds)\n" + stats.render_text(
        report, names
    )
    _emit(as_json, report, text)


serving.register(main)  # serve, demo
tokenapi_cli.register(main)  # key, grant, records, admin-token
console_cli.register(main)  # user, audit


if __name__ == "__main__":
    main()
