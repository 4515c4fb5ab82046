"""Start and stop the servers under test: pinned to one core, on 127.0.0.1 only."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
VENV_BIN = Path(sys.executable).parent
SERVER_CORE = 0
CLIENT_CORE = 1
HOST = "127.0.0.1"


def free_port() -> int:
    with socket.socket() as s:
        s.bind((HOST, 0))
        return int(s.getsockname()[1])


def pinned(cmd: list[str], core: int) -> list[str]:
    """The command under `taskset`, when the machine has the core to give it."""
    if (os.cpu_count() or 1) > core:
        return ["taskset", "-c", str(core), *cmd]
    return cmd


@dataclass
class Server:
    name: str
    port: int
    proc: subprocess.Popen[bytes]
    log: Path
    env: dict[str, str] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://{HOST}:{self.port}"

    def rss_kib(self) -> tuple[int, int]:
        """(VmRSS, VmHWM) of the server process in KiB."""
        status = Path(f"/proc/{self.proc.pid}/status").read_text()
        fields = dict(line.split(":", 1) for line in status.splitlines() if ":" in line)
        return int(fields["VmRSS"].split()[0]), int(fields["VmHWM"].split()[0])

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGINT)
            try:
                self.proc.wait(10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)


def start(
    name: str,
    cmd: list[str],
    port: int,
    workdir: Path,
    env: dict[str, str] | None = None,
    ready_path: str = "/",
    timeout: float = 30.0,
    pin: bool = True,
) -> Server:
    """Run `cmd` pinned to the server core (unless not `pin`: every core) and wait until it
    answers on `port`."""
    log = workdir / f"{name}.log"
    full_env = {**os.environ, **(env or {})}
    proc = subprocess.Popen(  # noqa: S603
        pinned(cmd, SERVER_CORE) if pin else cmd,
        cwd=ROOT,
        env=full_env,
        stdout=log.open("wb"),
        stderr=subprocess.STDOUT,
    )
    server = Server(name, port, proc, log, env or {})
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(f"{name} exited early: {log.read_text()[-2000:]}")
        try:
            with socket.create_connection((HOST, port), timeout=0.5) as s:
                s.sendall(f"GET {ready_path} HTTP/1.1\r\nHost: localhost\r\n\r\n".encode())
                if s.recv(16).startswith(b"HTTP/1.1"):
                    return server
        except OSError:
            time.sleep(0.1)
    server.stop()
    raise RuntimeError(f"{name} did not answer on port {port} within {timeout}s")


def start_ceiling(workdir: Path, workers: int = 1) -> Server:
    """The bare Starlette app on uvicorn; with `workers` > 1, on every core."""
    port = free_port()
    cmd = [
        str(VENV_BIN / "uvicorn"),
        "bench.ceiling:app",
        "--host",
        HOST,
        "--port",
        str(port),
        "--workers",
        str(workers),
        "--loop",
        "uvloop",
        "--http",
        "httptools",
        "--no-access-log",
        "--log-level",
        "warning",
    ]
    return start(f"ceiling-{workers}", cmd, port, workdir, pin=workers == 1)


def start_passgate(
    workdir: Path,
    data_dir: Path,
    name: str = "passgate",
    env: dict[str, str] | None = None,
    workers: int = 1,
    pin: bool = True,
) -> Server:
    """`passgate serve` as a user runs it, on the embedded store in `data_dir`; `env` adds
    settings (PASSGATE_TRUSTED_PROXIES, ...); `workers` > 1 runs `--workers N`."""
    port = free_port()
    env = {"PASSGATE_DATA_DIR": str(data_dir), "PASSGATE_LOG_LEVEL": "warning", **(env or {})}
    cmd = [str(VENV_BIN / "passgate"), "serve", "--host", HOST, "--port", str(port)]
    if workers > 1:
        cmd += ["--workers", str(workers)]
    return start(name, cmd, port, workdir, env=env, ready_path="/1/api.js", pin=pin)


def tree_cpu_seconds(pid: int) -> float:
    """utime + stime of a process and its children (a `--workers` parent and its workers),
    in seconds."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    pids = [pid]
    while pids:
        p = pids.pop()
        try:
            fields = Path(f"/proc/{p}/stat").read_text().rpartition(")")[2].split()
            total += (int(fields[11]) + int(fields[12])) / tick
            children = Path(f"/proc/{p}/task/{p}/children").read_text().split()
        except OSError:
            continue
        pids += [int(c) for c in children]
    return total


def children_cpu_seconds(pid: int) -> dict[int, float]:
    """utime + stime of each direct child of `pid` (a `--workers` parent's workers), in
    seconds."""
    out = {}
    try:
        children = Path(f"/proc/{pid}/task/{pid}/children").read_text().split()
    except OSError:
        return out
    for child in map(int, children):
        out[child] = tree_cpu_seconds(child)
    return out
