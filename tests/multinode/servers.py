"""Real PostgreSQL, Redis and passgate processes on loopback ports, for the multinode tests.

PostgreSQL runs from the image's `initdb`/`pg_ctl` in a temporary directory; they refuse to
run as root, so as root they run through `runuser -u postgres --` in a directory owned by
postgres. Redis is Debian's `redis-server` with persistence off (the common cache setup).
Every helper raises when a server does not come up: with CI=true nothing may skip.
"""

from __future__ import annotations

import os
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import httpx

START_TIMEOUT = 30.0


class ServerError(RuntimeError):
    """A server the tests need did not start."""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def _wait_port(port: int, timeout: float, proc: subprocess.Popen[bytes] | None = None) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise ServerError(f"process exited with {proc.returncode} before port {port} opened")
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5):
                return
        except OSError:
            time.sleep(0.05)
    raise ServerError(f"nothing listens on 127.0.0.1:{port} after {timeout}s")


def _as_postgres() -> list[str]:
    if os.geteuid() != 0:
        return []
    runuser = shutil.which("runuser")
    if runuser is None:
        raise ServerError("running as root needs runuser to start PostgreSQL as postgres")
    return [runuser, "-u", "postgres", "--"]


def _pg_bin(name: str) -> str:
    for candidate in (shutil.which(name), f"/usr/local/bin/{name}"):
        if candidate and os.access(candidate, os.X_OK):
            return candidate
    found = sorted(Path("/usr/lib/postgresql").glob(f"*/bin/{name}"))
    if found:
        return str(found[-1])
    raise ServerError(f"PostgreSQL's {name} is not installed")


@dataclass
class Postgres:
    root: Path
    port: int = field(default_factory=free_port)

    @property
    def data(self) -> Path:
        return self.root / "pgdata"

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, *args: str, timeout: float = START_TIMEOUT) -> None:
        done = subprocess.run(
            [*_as_postgres(), *args], capture_output=True, text=True, timeout=timeout, check=False
        )
        if done.returncode != 0:
            log = (self.root / "pg.log").read_text() if (self.root / "pg.log").exists() else ""
            raise ServerError(f"{args[0]} failed: {done.stderr or done.stdout}\n{log[-2000:]}")

    def init(self) -> Postgres:
        self.root.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run(
            _pg_bin("initdb"),
            "-D",
            str(self.data),
            "-U",
            "postgres",
            "--auth=trust",
            "--no-sync",
            "-E",
            "UTF8",
            "--locale=C",
        )
        return self

    def start(self) -> None:
        opts = (
            f"-p {self.port} -k {self.root} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=200"
        )
        self._run(
            _pg_bin("pg_ctl"),
            "-D",
            str(self.data),
            "-o",
            opts,
            "-l",
            str(self.root / "pg.log"),
            "-w",
            "-t",
            str(int(START_TIMEOUT)),
            "start",
        )
        _wait_port(self.port, START_TIMEOUT)

    def stop(self, mode: str = "fast") -> None:
        if (self.data / "postmaster.pid").exists():
            self._run(_pg_bin("pg_ctl"), "-D", str(self.data), "-m", mode, "-w", "stop")

    def create_database(self, name: str) -> str:
        import psycopg

        with psycopg.connect(
            f"postgresql://postgres@127.0.0.1:{self.port}/postgres", autocommit=True
        ) as conn:
            conn.execute(f'CREATE DATABASE "{name}"')  # test-only name, not user input
        return self.url(name)


@dataclass
class Redis:
    root: Path
    port: int = field(default_factory=free_port)
    proc: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self) -> None:
        """Start empty, with no persistence: a restart forgets every key."""
        exe = shutil.which("redis-server")
        if exe is None:
            raise ServerError("redis-server is not installed (make test installs it)")
        self.root.mkdir(parents=True, exist_ok=True)
        self.proc = subprocess.Popen(
            [
                exe,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(self.root),
                "--maxmemory-policy",
                "noeviction",
                "--daemonize",
                "no",
                "--logfile",
                str(self.root / "redis.log"),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        _wait_port(self.port, START_TIMEOUT, self.proc)

    def kill(self) -> None:
        """SIGKILL: what a crash looks like; the data set is gone."""
        if self.proc is not None and self.proc.poll() is None:
            self.proc.send_signal(signal.SIGKILL)
            self.proc.wait(10)
        self.proc = None


@dataclass
class Node:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(10)


def passgate(env: dict[str, str], *args: str) -> str:
    """Run the CLI once and return its stdout; raises on failure."""
    done = subprocess.run(
        [sys.executable, "-m", "passgate.cli", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    if done.returncode != 0:
        raise ServerError(f"passgate {' '.join(args)} failed: {done.stderr}")
    return done.stdout


def start_node(name: str, env: dict[str, str], logdir: Path, *extra: str) -> Node:
    """`passgate serve` on a free loopback port, returned once /healthz answers; `extra` are
    more `serve` options (`--workers 2`)."""
    port = free_port()
    log = logdir / f"{name}.log"
    with open(log, "wb") as out:
        proc = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "passgate.cli",
                "serve",
                "--host",
                "127.0.0.1",
                "--port",
                str(port),
                *extra,
            ],
            env=env,
            stdout=out,
            stderr=subprocess.STDOUT,
        )
    node = Node(name, port, proc, log)
    deadline = time.monotonic() + START_TIMEOUT
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise ServerError(f"node {name} exited: {log.read_text()[-3000:]}")
        try:
            if httpx.get(node.url + "/healthz", timeout=1).status_code == 200:
                return node
        except httpx.TransportError:
            time.sleep(0.1)
    node.stop()
    raise ServerError(f"node {name} did not answer /healthz: {log.read_text()[-3000:]}")
