"""`passgate serve --workers N`: N processes on one port, under uvicorn's supervising parent
(one listening socket shared by every worker, each accepting a few connections a turn:
Acceptor; a worker that dies is started again, and the others keep their connections).

Every guarantee holds across the workers because every piece of shared state lives in the
store, not in a process: spends, grant buckets, jobs, abuse counters, console sessions and
sign-in limits (the SQLite file, PostgreSQL or Redis), and the counters flush additively.
The parent migrates the store before any worker starts, and serves the Prometheus metrics
(the sum over the workers, prometheus-client's multiprocess mode).
"""

from __future__ import annotations

import asyncio
import ctypes
import errno
import json
import logging
import math
import os
import shutil
import signal
import socket
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from uvicorn.server import Server
from uvicorn.supervisors import Multiprocess, multiprocess
from uvicorn.supervisors.multiprocess import Process

from passgate.settings import Config

SETTINGS_ENV = "PASSGATE_WORKER_SETTINGS"  # the parent's effective settings, as JSON
PARENT_ENV = "PASSGATE_WORKER_PARENT"  # the supervising parent's pid
STARTED_ENV = "PASSGATE_WORKER_STARTED"  # when the parent started (unix time)
PR_SET_PDEATHSIG = 1  # prctl(2)
DEMO_ENV = "PASSGATE_WORKER_DEMO"  # the demo site (sitekey, secret), when it runs


def count(text: str) -> int:
    """`--workers`: a positive number, or `auto` (usable_cores()). Raises ValueError."""
    if text.strip().lower() == "auto":
        return usable_cores()
    n = int(text)
    if not 1 <= n <= 256:
        raise ValueError("--workers must be 1 to 256, or auto")
    return n


def usable_cores(cgroup: Path = Path("/sys/fs/cgroup"), membership: str | None = None) -> int:
    """The cores this process may run on (its CPU affinity), fewer where a cgroup quota
    allows less (`docker --cpus=2`, Kubernetes' CPU limit, systemd's CPUQuota=): the
    smallest quota over its period, rounded up, of the process's own cgroup and those above
    it (cgroup v2's cpu.max; `membership` is the path /proc/self/cgroup gives), else cgroup
    v1's cfs_quota_us and cfs_period_us."""
    cores = len(os.sched_getaffinity(0))
    own = _membership() if membership is None else membership
    parts = [p for p in own.strip("/").split("/") if p]
    quotas = [_v2_quota(cgroup.joinpath(*parts[:i])) for i in range(len(parts), -1, -1)]
    quotas.append(_v1_quota(cgroup / "cpu"))
    for quota in quotas:
        if quota is not None:
            cores = min(cores, math.ceil(quota))
    return max(1, cores)


def _membership() -> str:
    """This process's cgroup v2 path ("0::/a/b" in /proc/self/cgroup), or "/"."""
    try:
        for line in Path("/proc/self/cgroup").read_text().splitlines():
            if line.startswith("0::"):
                return line[3:] or "/"
    except OSError:
        pass
    return "/"


def _v2_quota(directory: Path) -> float | None:
    try:
        fields = (directory / "cpu.max").read_text().split()
        if len(fields) == 2 and fields[0] != "max":
            return int(fields[0]) / int(fields[1])
    except (OSError, ValueError, ZeroDivisionError):
        pass
    return None


def _v1_quota(directory: Path) -> float | None:
    try:
        quota = int((directory / "cpu.cfs_quota_us").read_text())
        period = int((directory / "cpu.cfs_period_us").read_text())
    except (OSError, ValueError):
        return None
    return quota / period if quota > 0 and period > 0 else None


def metrics_directory(cfg: Config) -> tuple[str, bool]:
    """The multiprocess directory the workers write their metrics to: PASSGATE_METRICS_DIR,
    emptied now (the parent is the node's supervisor), or a private temporary one. Returns
    (path, whether it is temporary)."""
    if cfg.metrics_dir:
        path = Path(cfg.metrics_dir)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()
        return str(path), False
    return tempfile.mkdtemp(prefix="passgate-metrics-"), True


def reserve_console_port(host: str, port: int) -> socket.socket:
    """Check now that the console's port is free, and hold it (bound, not listening) while
    the workers bind theirs with SO_REUSEPORT. Raises OSError."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    sock = socket.socket(family, socket.SOCK_STREAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
    try:
        sock.bind((host, port))
    except OSError:
        sock.close()
        raise
    return sock


def run(
    cfg: Config,
    host: str,
    port: int,
    workers: int,
    demo_site: tuple[str, str] | None,
    serve_metrics: Callable[[str], Any] | None,
) -> None:
    """Run `workers` worker processes under uvicorn's supervisor until a signal stops them.
    `serve_metrics(directory)` starts the parent's metrics listener over the workers' files
    and returns it (its shutdown() is called at the end)."""
    import uvicorn

    directory, temporary = ("", False)
    listener = None
    values = dict(cfg.values)
    if cfg.metrics_port or cfg.metrics_dir:
        directory, temporary = metrics_directory(cfg)
        values.update(metrics_port=0, metrics_dir=directory)  # workers write, the parent serves
    held = None
    try:
        if cfg.console == "on" and cfg.console_port:
            held = reserve_console_port(cfg.console_host, cfg.console_port)
        os.environ[SETTINGS_ENV] = json.dumps(values)
        os.environ[PARENT_ENV] = str(os.getpid())
        os.environ[STARTED_ENV] = repr(time.time())
        if demo_site is not None:
            os.environ[DEMO_ENV] = json.dumps(list(demo_site))
        if serve_metrics is not None and directory:
            listener = serve_metrics(directory)
        config = uvicorn.Config(
            "passgate.workers:app",
            factory=True,
            workers=workers,
            host=host,
            port=port,
            loop="uvloop",
            http="httptools",
            access_log=False,
            log_config=None,
            log_level=cfg.log_level,
            server_header=False,
            proxy_headers=False,  # X-Forwarded-For is read by web.client_ip, trusted only
            timeout_graceful_shutdown=GRACE_SECONDS,
        )
        gone = _metrics_forgetter(directory) if directory else None
        try:
            supervisor(config, [config.bind_socket()], gone).run()
        except KeyboardInterrupt:
            pass
    finally:
        if listener is not None:
            listener.shutdown()
        if held is not None:
            held.close()
        if temporary:
            shutil.rmtree(directory, ignore_errors=True)


ACCEPTS_PER_TURN = 8  # connections a worker accepts each time the shared socket is ready
EXHAUSTED = {errno.EMFILE, errno.ENFILE, errno.ENOBUFS, errno.ENOMEM}  # accept(2): pause
GRACE_SECONDS = 10  # a stopping worker waits this long for requests in flight, then ends


class Acceptor:
    """Accepts from the socket every worker shares, at most ACCEPTS_PER_TURN each turn of
    this worker's event loop, and hands each connection to uvicorn's HTTP protocol.

    uvloop's own server accepts until none is left: when a pool of keep-alive connections
    opens at once (a proxy's, a load generator's), whichever worker wakes first takes them
    all (BENCHMARKS.md: all of wrk's 32 on one of two workers in two runs of three). Taking
    a few a turn lets every worker that is awake take some, and a busy worker, whose turns
    are long, takes fewer. The socket stays shared: a worker that hangs or dies leaves the
    waiting connections to the others (one socket a worker, SO_REUSEPORT, does not).

    Stands in uvicorn's list of servers: close() and wait_closed()."""

    def __init__(self, loop: Any, sock: socket.socket, factory: Callable[[], Any]) -> None:
        self.loop, self.sock, self.factory = loop, sock, factory
        self.open = True
        self.tasks: set[Any] = set()
        sock.setblocking(False)
        loop.add_reader(sock.fileno(), self.accept)

    def accept(self) -> None:
        for _ in range(ACCEPTS_PER_TURN):
            try:
                conn, _ = self.sock.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as exc:
                if exc.errno not in EXHAUSTED:  # the peer's trouble (accept(2)): next one
                    continue
                logging.getLogger("passgate").error(  # out of descriptors or memory
                    "cannot accept connections: %s; retrying in 0.5 s", exc.strerror
                )
                self.loop.remove_reader(self.sock.fileno())
                self.loop.call_later(0.5, self._resume)
                return
            conn.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            task = self.loop.create_task(self._serve(conn))
            self.tasks.add(task)
            task.add_done_callback(self.tasks.discard)

    async def _serve(self, conn: socket.socket) -> None:
        try:
            await self.loop.connect_accepted_socket(self.factory, conn)
        except Exception:  # noqa: BLE001 - the peer left, or the loop is closing
            conn.close()

    def _resume(self) -> None:
        if self.open:
            self.loop.add_reader(self.sock.fileno(), self.accept)

    def close(self) -> None:
        if self.open:
            self.open = False
            self.loop.remove_reader(self.sock.fileno())

    async def wait_closed(self) -> None:
        return None


class FairServer(Server):
    """uvicorn's server, listening through Acceptor on the sockets it is given."""

    async def startup(self, sockets: list[socket.socket] | None = None) -> None:
        await super().startup(sockets=[])  # the lifespan, and no uvloop server
        if not self.started or not sockets:
            return
        loop = asyncio.get_running_loop()
        config = self.config

        def protocol() -> Any:
            return config.http_protocol_class(  # type: ignore[call-arg]
                config=config, server_state=self.server_state, app_state=self.lifespan.state
            )

        for sock in sockets:
            sock.listen(config.backlog)  # the parent binds; uvloop's server would listen
        self.servers = [Acceptor(loop, sock, protocol) for sock in sockets]  # type: ignore[misc]


class FairProcess(Process):
    """uvicorn's worker process, serving with FairServer."""

    @property
    def server(self) -> Server:
        if self._server is None:
            self._server = FairServer(config=self.config)
        return self._server


def supervisor(
    config: Any, sockets: list[socket.socket], gone: Callable[[int], None] | None
) -> Any:
    """uvicorn's supervising parent, whose workers listen through Acceptor, and which also
    calls `gone(pid)` for each worker that has left (died and was replaced, or was retired
    by a SIGHUP restart)."""
    multiprocess.Process = FairProcess  # type: ignore[misc]  # every worker it starts

    class Supervisor(Multiprocess):
        def keep_subprocess_alive(self) -> None:
            self._forgetting(super().keep_subprocess_alive)

        def restart_all(self) -> None:
            self._forgetting(super().restart_all)

        def handle_ttou(self) -> None:
            self._forgetting(super().handle_ttou)

        def handle_term(self) -> None:
            self._stop_listening()
            super().handle_term()

        def handle_int(self) -> None:
            self._stop_listening()
            super().handle_int()

        def _stop_listening(self) -> None:
            """The parent's copy of the socket closes at once; each worker closes its own as
            it stops, and new connections are then refused instead of waiting unanswered."""
            for sock in self.sockets:
                sock.close()

        def _forgetting(self, step: Callable[[], None]) -> None:
            before = {p.pid for p in self.processes}
            step()
            if gone is not None:
                for pid in before - {p.pid for p in self.processes}:
                    if pid is not None:
                        gone(pid)

    return Supervisor(config, sockets=sockets)


def _metrics_forgetter(directory: str) -> Callable[[int], None]:
    """Drop a departed worker's live gauges from the metrics directory (its counters and
    histograms stay: what it counted still counts)."""

    def gone(pid: int) -> None:
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(pid, directory)  # type: ignore[no-untyped-call]

    return gone


def exit_with_parent(parent: int) -> None:
    """Have the kernel send this worker SIGTERM when its parent dies (Linux prctl), so that
    a parent killed outright (SIGKILL, the OOM killer) leaves no worker serving the port on
    its own; a parent already gone (`parent` is no longer ours) stops the worker now."""
    try:
        libc = ctypes.CDLL(None, use_errno=True)
        libc.prctl(PR_SET_PDEATHSIG, signal.SIGTERM)
    except (OSError, AttributeError):  # not Linux: the supervisor's own checks remain
        return
    if parent and os.getppid() != parent:
        os.kill(os.getpid(), signal.SIGTERM)


def app() -> Any:
    """The ASGI app of one worker (uvicorn's factory), from the parent's settings."""
    from passgate import logs, service
    from passgate.app import create_app

    exit_with_parent(int(os.environ.get(PARENT_ENV, "0")))
    cfg = Config(json.loads(os.environ[SETTINGS_ENV]))
    logs.configure(cfg.log_format, cfg.log_level, cfg.node_name or socket.gethostname())
    demo = json.loads(os.environ[DEMO_ENV]) if DEMO_ENV in os.environ else None
    console_socket = None
    if cfg.console == "on" and cfg.console_port:
        from passgate.console.listener import bind

        console_socket = bind(cfg.console_host, cfg.console_port, reuse_port=True)
    svc = service.build(cfg, started=float(os.environ.get(STARTED_ENV) or time.time()))
    return create_app(svc, tuple(demo) if demo else None, console_socket)
