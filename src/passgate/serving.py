"""`passgate serve` and `passgate demo`: how the service starts, in one process or as
`--workers N`, with its own listeners for the metrics and the console, and the demo site."""

from __future__ import annotations

import json
import logging
import socket
import sys
from collections.abc import Callable
from typing import Any

import click
import sqlalchemy as sa

from passgate import algorithms, keys, logs, settings
from passgate.metrics import MetricsError
from passgate.settings import Config, SettingsError
from passgate.sites import Site, SiteError, SiteRegistry
from passgate.store.schema import settings_kv

DEMO_HOSTS = ["localhost", "127.0.0.1"]


def register(main: click.Group) -> None:
    main.add_command(serve)
    main.add_command(demo)


def _guard(fn: Callable[[], Any]) -> Any:
    try:
        return fn()
    except (
        SiteError, SettingsError, MetricsError, keys.MasterKeyError, algorithms.UnknownAlgorithm
    ) as exc:  # fmt: skip
        raise click.ClickException(str(exc)) from None


def _engine(cfg: Config) -> sa.Engine:
    from passgate.service import open_engine

    try:
        return open_engine(cfg)
    except sa.exc.SQLAlchemyError as exc:
        raise click.ClickException(f"cannot open the store: {exc.__class__.__name__}") from None


def _run(
    cfg: Config,
    host: str | None,
    port: int | None,
    demo_site: tuple[str, str] | None,
    workers: int = 1,
) -> None:
    import uvicorn

    from passgate import service
    from passgate import workers as worker_pool
    from passgate.app import create_app
    from passgate.widget.assets import MissingLibrary

    node = cfg.node_name or socket.gethostname()
    _guard(lambda: logs.configure(cfg.log_format, cfg.log_level, node))
    try:
        svc = _guard(lambda: service.build(cfg))  # migrates the store, once, before workers
    except sa.exc.SQLAlchemyError as exc:  # the database is down or refuses: exit cleanly
        raise click.ClickException(f"cannot open the store: {exc.__class__.__name__}") from None
    log = logging.getLogger("passgate")
    if cfg.console != "on" and cfg.console_port:
        log.warning("PASSGATE_CONSOLE is off: the console port %d is not served", cfg.console_port)
    if workers > 1:
        if cfg.console == "on" and cfg.console_port:
            log.info("console on http://%s:%d/console/", cfg.console_host, cfg.console_port)
        _run_workers(svc, cfg, host, port, demo_site, workers)
        return
    console_socket = None
    if cfg.console == "on" and cfg.console_port:
        from passgate.console.listener import ListenerError, bind

        try:
            console_socket = bind(cfg.console_host, cfg.console_port)
        except ListenerError as exc:
            raise click.ClickException(str(exc)) from None
        log.info("console on http://%s:%d/console/", cfg.console_host, cfg.console_port)
    try:
        app = create_app(svc, demo_site, console_socket)
    except MissingLibrary as exc:  # a checkout where `make` (npm ci) has not run
        raise click.ClickException(str(exc)) from None
    _check_ports(cfg, port)
    listener = None
    if svc.metrics is not None and cfg.metrics_port:  # its own listener, never the public port
        listener = _guard(lambda: svc.metrics.listen(cfg.metrics_host, cfg.metrics_port))
        logging.getLogger("passgate").info(
            "metrics on http://%s:%d/metrics", cfg.metrics_host, cfg.metrics_port
        )
    uvicorn.run(
        app,
        host=host or cfg.host,
        port=port or cfg.port,
        loop="uvloop",
        http="httptools",
        access_log=False,
        log_config=None,  # uvicorn's loggers propagate to the handler logs.configure set up
        log_level=cfg.log_level,
        server_header=False,
        proxy_headers=False,  # X-Forwarded-For is read by web.client_ip, from trusted proxies only
        timeout_graceful_shutdown=worker_pool.GRACE_SECONDS,
    )
    if listener is not None:
        listener.shutdown()


def _check_ports(cfg: Config, port: int | None) -> None:
    public = port or cfg.port
    for name, other in (("metrics", cfg.metrics_port), ("console", cfg.console_port)):
        if other and other == public:
            raise click.ClickException(
                f"the {name} port must differ from the public port ({public}): it is never "
                "served on the public port"
            )


def _run_workers(
    svc: Any,
    cfg: Config,
    host: str | None,
    port: int | None,
    demo_site: tuple[str, str] | None,
    workers: int,
) -> None:
    """`--workers N`: the parent checks what it can first (the store, the widget's files,
    the ports), then hands over to passgate.workers."""
    import asyncio

    from passgate import metrics
    from passgate import workers as worker_pool
    from passgate.widget.assets import MissingLibrary, table

    asyncio.run(svc.close())
    try:
        table()
    except MissingLibrary as exc:
        raise click.ClickException(str(exc)) from None
    _check_ports(cfg, port)

    def serve_metrics(directory: str) -> Any:
        if not cfg.metrics_port:
            return None
        server = _guard(
            lambda: metrics.serve_directory(cfg.metrics_host, cfg.metrics_port, directory)
        )
        logging.getLogger("passgate").info(
            "metrics of %d workers on http://%s:%d/metrics",
            workers,
            cfg.metrics_host,
            cfg.metrics_port,
        )
        return server

    try:
        worker_pool.run(cfg, host or cfg.host, port or cfg.port, workers, demo_site, serve_metrics)
    except OSError as exc:  # the console's port is taken
        raise click.ClickException(f"cannot listen for the console: {exc}") from None


def metrics_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--metrics-host", help="Address of the /metrics listener (default 127.0.0.1)."
    )(fn)
    return click.option(
        "--metrics-port",
        type=int,
        help="Serve Prometheus /metrics on this port, apart from the public one "
        "(PASSGATE_METRICS_PORT; default off).",
    )(fn)


def _listening(
    cfg: Config,
    metrics_port: int | None,
    metrics_host: str | None,
    console_port: int | None,
    console_host: str | None,
) -> Config:
    """The settings with the listeners' options given on the command line."""
    return settings.load_overrides(
        cfg, metrics_port=metrics_port, metrics_host=metrics_host, console_port=console_port,
        console_host=console_host,
    )  # fmt: skip


def workers_option(fn: Callable[..., Any]) -> Callable[..., Any]:
    return click.option(
        "--workers",
        default="1",
        show_default=True,
        metavar="N|auto",
        help="Processes serving the port: a number, or auto (one per usable core). They "
        "share every guarantee through the store; one that dies is restarted.",
    )(fn)


def _workers(text: str) -> int:
    from passgate import workers

    try:
        return workers.count(text)
    except ValueError:
        raise click.BadParameter(
            f"{text!r}: a number from 1 to 256, or auto", param_hint="--workers"
        ) from None


def console_options(fn: Callable[..., Any]) -> Callable[..., Any]:
    fn = click.option(
        "--console-host", help="Address of the console's own listener (default 127.0.0.1)."
    )(fn)
    return click.option(
        "--console-port",
        type=int,
        help="Serve the console on its own listener at this port, not under /console/ on "
        "the public port (PASSGATE_CONSOLE_PORT).",
    )(fn)


@click.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default 8000).")
@workers_option
@metrics_options
@console_options
@click.pass_context
def serve(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    workers: str,
    metrics_port: int | None,
    metrics_host: str | None,
    console_port: int | None,
    console_host: str | None,
) -> None:
    """Run the service (the console under /console/, unless --console-port or
    PASSGATE_CONSOLE=off). With --workers N, N processes share the port, on any store
    (docs/deploy.md)."""
    cfg = _listening(ctx.obj, metrics_port, metrics_host, console_port, console_host)
    _run(cfg, host, port, None, _workers(workers))


@click.command()
@click.option("--host", help="Address to bind (default 127.0.0.1).")
@click.option("--port", type=click.IntRange(1, 65535), help="Port (default 8000).")
@click.option("--json", "as_json", is_flag=True, help="Print the demo site as JSON first.")
@workers_option
@metrics_options
@console_options
@click.pass_context
def demo(
    ctx: click.Context,
    host: str | None,
    port: int | None,
    as_json: bool,
    workers: str,
    metrics_port: int | None,
    metrics_host: str | None,
    console_port: int | None,
    console_host: str | None,
) -> None:
    """Run the service with the demo site and page (a fresh secret at each start)."""
    cfg = _listening(ctx.obj, metrics_port, metrics_host, console_port, console_host)
    count = _workers(workers)  # before the demo's secret is replaced
    engine = _engine(cfg)
    registry = SiteRegistry(engine)
    site, secret = _guard(lambda: ensure_demo_site(registry, engine, cfg.default_difficulty))
    bind = host or cfg.host
    shown = "localhost" if bind in ("127.0.0.1", "localhost", "0.0.0.0") else bind  # noqa: S104
    url = f"http://{shown}:{port or cfg.port}/demo"
    info = {"sitekey": site.sitekey, "secret": secret, "url": url}
    text = f"passgate demo\n  sitekey: {site.sitekey}\n  secret:  {secret}\n  page:    {url}\n"
    click.echo(json.dumps(info) if as_json else text)
    sys.stdout.flush()
    engine.dispose()
    _run(cfg, host, port, (site.sitekey, secret), count)


def ensure_demo_site(
    registry: SiteRegistry, engine: sa.Engine, difficulty: int
) -> tuple[Site, str]:
    """The demo site, created once; its secret is replaced at every start."""
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(settings_kv.c.value).where(settings_kv.c.name == "demo_sitekey")
        ).first()
    if row is not None and registry.get(row[0]) is not None:
        registry.update(row[0], hostnames=DEMO_HOSTS)
        return registry.rotate_secret(row[0])
    site, secret = registry.add(DEMO_HOSTS, name="demo", difficulty=difficulty)
    with engine.begin() as conn:
        conn.execute(settings_kv.delete().where(settings_kv.c.name == "demo_sitekey"))
        conn.execute(settings_kv.insert().values(name="demo_sitekey", value=site.sitekey))
    return site, secret
