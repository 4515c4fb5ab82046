"""`passgate serve --workers 2` on the embedded SQLite store: real worker processes under
one port. Tokens raced across them are accepted once, a grant's rate is one limit, jobs run
once, a site change reaches every worker within a second, the metrics add up, and a worker
that dies is started again while the other keeps serving."""

from __future__ import annotations

import asyncio
import concurrent.futures as cf
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from passgate import workers
from tests.conftest import free_port
from tests.test_live import earn

pytestmark = pytest.mark.slow


@dataclass
class Pool:
    url: str
    metrics: str
    env: dict[str, str]
    proc: subprocess.Popen[bytes]
    sitekey: str
    secret: str

    def cli(self, *args: str) -> str:
        out = subprocess.run(
            [sys.executable, "-m", "passgate.cli", *args],
            env=self.env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert out.returncode == 0, out.stderr
        return out.stdout

    def children(self) -> list[int]:
        """The worker processes (not multiprocessing's resource tracker)."""
        out = subprocess.run(
            ["ps", "-ww", "--ppid", str(self.proc.pid), "-o", "pid=,args="],
            capture_output=True, text=True, check=False,
        ).stdout  # fmt: skip
        return [int(line.split()[0]) for line in out.splitlines() if "spawn_main" in line]


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Pool]:
    data = tmp_path_factory.mktemp("workers") / "data"
    env = {**os.environ, "PASSGATE_DATA_DIR": str(data), "PASSGATE_LOG_LEVEL": "warning"}
    env.pop("PASSGATE_CONFIG", None)
    site = json.loads(
        subprocess.run(
            [sys.executable, "-m", "passgate.cli", "site", "add", "--hostname", "localhost",
             "--difficulty", "1000", "--no-adaptive", "--json"],
            env=env, capture_output=True, text=True, check=True, timeout=60,
        ).stdout
    )  # fmt: skip
    port, mport = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "passgate.cli", "serve", "--port", str(port), "--workers", "2",
         "--metrics-port", str(mport)],
        env=env, stdout=subprocess.DEVNULL, stderr=(data.parent / "log").open("wb"),
    )  # fmt: skip
    p = Pool(
        f"http://127.0.0.1:{port}", f"http://127.0.0.1:{mport}/metrics", env, proc,
        site["sitekey"], site["secret"],
    )  # fmt: skip
    try:
        _wait_ready(p, data.parent / "log")
        yield p
    finally:  # stopped even when it never became ready: no server outlives the tests
        proc.send_signal(signal.SIGTERM)
        proc.wait(20)
    assert p.children() == []


def _wait_ready(p: Pool, log: Path) -> None:
    deadline = time.monotonic() + 30
    while len(p.children()) < 2 or not _healthy(p.url):
        assert p.proc.poll() is None and time.monotonic() < deadline, (
            p.children(),
            _healthy(p.url),
            log.read_text(),
        )
        time.sleep(0.2)


def _healthy(url: str) -> bool:
    try:
        return httpx.get(url + "/healthz", timeout=1).status_code == 200
    except httpx.TransportError:
        return False


def test_workers_counts() -> None:
    assert workers.count("3") == 3
    assert workers.count("auto") == len(os.sched_getaffinity(0))
    for bad in ("0", "-1", "many", "999"):
        with pytest.raises(ValueError):
            workers.count(bad)


def test_raced_tokens_are_accepted_once_and_both_workers_serve(pool: Pool) -> None:
    tokens = [earn(pool.url, pool.sitekey, "localhost") for _ in range(150)]
    before = {pid: cpu_seconds(pid) for pid in pool.children()}

    def verify(token: str) -> str:
        with httpx.Client() as c:  # a connection each: the kernel hands it to either worker
            body = c.post(pool.url + "/siteverify", data={"secret": pool.secret,
                                                         "response": token}).json()  # fmt: skip
        return "success" if body["success"] else body["error-codes"][0]

    with cf.ThreadPoolExecutor(24) as ex:
        outcomes = list(ex.map(verify, [t for t in tokens for _ in range(4)]))
    assert outcomes.count("success") == len(tokens)  # 0 double accepts
    assert outcomes.count("already-seen-response") == 3 * len(tokens)  # no internal-error
    busy = [cpu_seconds(pid) - before[pid] for pid in before]
    assert all(b > 0.05 for b in busy), busy  # both workers answered some
    deadline = time.monotonic() + 5  # each worker hands its counts over every second
    while True:
        text = httpx.get(pool.metrics).text
        line = next(
            (ln for ln in text.splitlines()
             if ln.startswith("passgate_siteverify_total") and 'outcome="success"' in ln),
            "",
        )  # fmt: skip
        if line.endswith(f" {float(len(tokens))}") or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert line.endswith(f" {float(len(tokens))}"), line


def test_a_grants_rate_is_one_limit_across_workers(pool: Pool) -> None:
    out = json.loads(pool.cli("key", "add", "--name", "racer", "--json"))
    pool.cli("grant", "add", "--key", "racer", "--site", pool.sitekey, "--rate", "1/min",
             "--burst", "5")  # fmt: skip

    def mint(_: int) -> int:
        with httpx.Client() as c:
            r = c.post(
                pool.url + "/api/wanda/hcaptcha/universal",
                headers={"User-Token": out["token"]},
                json={"sitekey": pool.sitekey, "referer": "http://localhost/"},
            )
        return int(r.json().get("status") == 1 or "generated_pass_UUID" in r.text)

    with cf.ThreadPoolExecutor(12) as ex:
        minted = sum(ex.map(mint, range(24)))
    assert minted == 5


def test_a_site_change_reaches_every_worker_within_a_second(pool: Pool) -> None:
    def challenge(host: str) -> int:
        with httpx.Client() as c:  # a connection each: the kernel hands it to either worker
            return c.post(pool.url + "/1/challenge",
                          json={"sitekey": pool.sitekey, "host": host}).status_code  # fmt: skip

    before = {pid: cpu_seconds(pid) for pid in pool.children()}
    with cf.ThreadPoolExecutor(16) as ex:  # every worker has the site cached before the change
        assert set(ex.map(challenge, ["localhost"] * 64)) == {200}
    assert all(cpu_seconds(pid) > before[pid] for pid in before)
    pool.cli("site", "update", pool.sitekey, "--hostname", "localhost", "--hostname",
             "moved.example")  # fmt: skip
    changed = time.monotonic()
    time.sleep(1.1)
    codes = []
    for _ in range(20):
        with httpx.Client() as c:
            codes.append(c.post(pool.url + "/1/challenge",
                                json={"sitekey": pool.sitekey, "host": "moved.example"}
                                ).status_code)  # fmt: skip
    assert codes == [200] * 20
    assert time.monotonic() - changed < 5


def test_a_dead_worker_is_restarted_while_the_other_serves(pool: Pool) -> None:
    first, second = pool.children()
    os.kill(second, signal.SIGKILL)
    failures = 0
    deadline = time.monotonic() + 4
    while time.monotonic() < deadline:
        try:
            with httpx.Client() as c:
                ok = c.post(
                    pool.url + "/1/challenge", json={"sitekey": pool.sitekey, "host": "localhost"}
                ).status_code
            failures += ok != 200
        except httpx.TransportError:
            failures += 1
        time.sleep(0.02)
    assert failures == 0
    deadline = time.monotonic() + 15
    while len(pool.children()) < 2 and time.monotonic() < deadline:
        time.sleep(0.2)
    now = pool.children()
    assert len(now) == 2 and first in now and second not in now


def test_usable_cores_follow_a_cgroup_quota(tmp_path: Path) -> None:
    cores = len(os.sched_getaffinity(0))
    assert workers.usable_cores(tmp_path) == cores  # no cgroup files: the affinity
    (tmp_path / "cpu.max").write_text("max 100000\n")
    assert workers.usable_cores(tmp_path) == cores
    (tmp_path / "cpu.max").write_text("150000 100000\n")  # docker --cpus=1.5
    assert workers.usable_cores(tmp_path) == min(cores, 2)
    (tmp_path / "cpu.max").write_text("50000 100000\n")
    assert workers.usable_cores(tmp_path) == 1
    (tmp_path / "cpu.max").unlink()
    (tmp_path / "cpu").mkdir()
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("100000\n")  # cgroup v1
    (tmp_path / "cpu" / "cpu.cfs_period_us").write_text("100000\n")
    assert workers.usable_cores(tmp_path) == 1
    (tmp_path / "cpu" / "cpu.cfs_quota_us").write_text("-1\n")
    assert workers.usable_cores(tmp_path) == cores
    service = tmp_path / "system.slice" / "passgate.service"  # systemd's CPUQuota=100%
    service.mkdir(parents=True)
    (service / "cpu.max").write_text("100000 100000\n")
    assert workers.usable_cores(tmp_path, "/system.slice/passgate.service") == 1
    assert workers.usable_cores(tmp_path, "/") == cores
    (service / "cpu.max").write_text("max 100000\n")
    (tmp_path / "system.slice" / "cpu.max").write_text("150000 100000\n")  # a parent's
    assert workers.usable_cores(tmp_path, "/system.slice/passgate.service") == min(cores, 2)


def test_a_bad_workers_value_changes_nothing(tmp_path: Path) -> None:
    env = {**os.environ, "PASSGATE_DATA_DIR": str(tmp_path / "data")}
    env.pop("PASSGATE_CONFIG", None)
    for bad in ("abc", "0", "1000"):
        out = subprocess.run(
            [sys.executable, "-m", "passgate.cli", "demo", "--workers", bad],
            env=env, capture_output=True, text=True, timeout=60, check=False,
        )  # fmt: skip
        assert out.returncode == 2 and "--workers" in out.stderr, out.stderr
        assert "secret" not in out.stdout  # the demo's secret was not replaced
    assert not (tmp_path / "data").exists() or not any((tmp_path / "data").iterdir())


def test_a_parent_killed_outright_takes_its_workers_and_gauges_with_it(tmp_path: Path) -> None:
    data, metrics_dir = tmp_path / "data", tmp_path / "metrics"
    env = {**os.environ, "PASSGATE_DATA_DIR": str(data), "PASSGATE_LOG_LEVEL": "warning",
           "PASSGATE_METRICS_DIR": str(metrics_dir)}  # fmt: skip
    env.pop("PASSGATE_CONFIG", None)
    port, mport = free_port(), free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "passgate.cli", "serve", "--port", str(port), "--workers", "2",
         "--metrics-port", str(mport)],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("wb"),
    )  # fmt: skip
    p = Pool(f"http://127.0.0.1:{port}", "", env, proc, "", "")
    try:
        _wait_ready(p, tmp_path / "log")
        first, second = p.children()
        deadline = time.monotonic() + 10  # each worker writes its live gauges
        while not all(list(metrics_dir.glob(f"gauge_live*_{pid}.db")) for pid in (first, second)):
            assert time.monotonic() < deadline, sorted(f.name for f in metrics_dir.iterdir())
            time.sleep(0.2)
        os.kill(second, signal.SIGKILL)
        deadline = time.monotonic() + 15
        while len(p.children()) < 2 or second in p.children():
            assert time.monotonic() < deadline
            time.sleep(0.2)
        assert not list(metrics_dir.glob(f"gauge_live*_{second}.db"))  # the dead one's gone
        assert list(metrics_dir.glob(f"gauge_live*_{first}.db"))
        survivors = p.children()
        proc.kill()  # SIGKILL: no chance to stop its workers itself
        proc.wait(10)
        deadline = time.monotonic() + 15
        while any(Path(f"/proc/{pid}").exists() for pid in survivors):
            assert time.monotonic() < deadline, "a worker outlived its parent"
            time.sleep(0.2)
        assert not _healthy(p.url)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
        for pid in p.children():
            os.kill(pid, signal.SIGKILL)


def test_the_untrusted_forwarded_for_warning_is_the_nodes_not_a_workers(pool: Pool) -> None:
    def ready() -> list[str]:
        with httpx.Client() as c:  # a connection each: either worker answers
            return list(c.get(pool.url + "/readyz").json().get("warnings", []))

    assert all(ready() == [] for _ in range(6))
    with httpx.Client() as c:  # one request, so one worker sees it
        c.get(pool.url + "/healthz", headers={"X-Forwarded-For": "198.51.100.9"})
    time.sleep(0.5)  # the worker records it in the store
    answers = [ready() for _ in range(12)]
    assert answers == [["untrusted_forwarded_for"]] * 12


def _served_connections(pid: int, port: int) -> int:
    """How many established connections to local `port` the process `pid` holds."""
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        for line in Path(table).read_text().splitlines()[1:]:
            fields = line.split()
            if fields[1].rsplit(":", 1)[1] == f"{port:04X}" and fields[3] == "01":
                inodes.add(fields[9])
    held = 0
    for fd in Path(f"/proc/{pid}/fd").iterdir():
        try:
            held += os.readlink(fd)[8:-1] in inodes
        except OSError:
            continue
    return held


def test_connections_opened_at_once_are_spread_over_the_workers(pool: Pool) -> None:
    """A proxy's or a load generator's keep-alive pool, opened in one go: each worker
    gets a share, and every connection is served."""
    port = int(pool.url.rsplit(":", 1)[1])
    totals = [0, 0]
    for _ in range(3):
        conns = [socket.socket() for _ in range(64)]
        try:
            for c in conns:  # every connect in flight before any is answered
                c.setblocking(False)
                c.connect_ex(("127.0.0.1", port))
            for c in conns:
                c.setblocking(True)
                c.settimeout(10)
                c.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            for c in conns:
                assert c.recv(4096).startswith(b"HTTP/1.1 200")
            shares = [_served_connections(pid, port) for pid in pool.children()]
        finally:
            for c in conns:
                c.close()
        assert sum(shares) == 64, shares
        totals = [t + n for t, n in zip(totals, shares, strict=True)]
    # A worker takes up to 8 a turn, so 192 connections are about 24 draws of 8: a worker
    # falls below an eighth of them about once in 10^5 runs.
    assert min(totals) >= 24, totals


def _loopback_listener() -> socket.socket:
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(64)
    return listener


@pytest.mark.anyio
async def test_a_worker_accepts_a_few_connections_a_turn() -> None:
    """The bound that lets the other workers take their share of a burst."""
    loop = asyncio.get_running_loop()
    listener = _loopback_listener()
    made: list[object] = []

    class Counting(asyncio.Protocol):
        def connection_made(self, transport: asyncio.BaseTransport) -> None:
            made.append(transport)

    clients = [socket.create_connection(listener.getsockname()) for _ in range(20)]
    time.sleep(0.1)  # every connection waiting in the queue
    acceptor = workers.Acceptor(loop, listener, Counting)
    try:
        acceptor.accept()  # one turn, as the loop calls it when the socket is ready
        assert len(acceptor.tasks) == workers.ACCEPTS_PER_TURN  # the rest wait their turn
        deadline = time.monotonic() + 5
        while len(made) < 20:  # the loop's later turns take the rest
            assert time.monotonic() < deadline, len(made)
            await asyncio.sleep(0.01)
    finally:
        acceptor.close()
        for t in made:
            t.close()  # type: ignore[attr-defined]
        for c in clients:
            c.close()
        listener.close()


@pytest.mark.anyio
async def test_a_worker_out_of_file_descriptors_pauses_instead_of_spinning() -> None:
    loop = asyncio.get_running_loop()
    listener = _loopback_listener()
    calls = [0]

    class Exhausted:
        def __init__(self, real: socket.socket) -> None:
            self.real = real

        def fileno(self) -> int:
            return self.real.fileno()

        def setblocking(self, flag: bool) -> None:
            self.real.setblocking(flag)

        def accept(self) -> tuple[socket.socket, object]:
            calls[0] += 1
            raise OSError(24, "Too many open files")

    client = socket.create_connection(listener.getsockname())
    acceptor = workers.Acceptor(loop, Exhausted(listener), asyncio.Protocol)  # type: ignore[arg-type]
    try:
        await asyncio.sleep(0.3)
        assert calls[0] == 1  # tried once, then paused (a ready socket would spin)
        await asyncio.sleep(0.5)
        assert 2 <= calls[0] <= 3  # and tried again after the pause
    finally:
        acceptor.close()
        client.close()
        listener.close()


def test_a_stopping_node_refuses_new_connections_and_ends_within_its_grace(
    tmp_path: Path,
) -> None:
    """SIGTERM while a client holds a request half sent: new connections are refused at
    once (a balancer moves on) instead of waiting unanswered, and the node ends within
    GRACE_SECONDS however long the client stalls."""
    env = {**os.environ, "PASSGATE_DATA_DIR": str(tmp_path / "data"),
           "PASSGATE_LOG_LEVEL": "warning"}  # fmt: skip
    env.pop("PASSGATE_CONFIG", None)
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "passgate.cli", "serve", "--port", str(port), "--workers", "2"],
        env=env, stdout=subprocess.DEVNULL, stderr=(tmp_path / "log").open("wb"),
    )  # fmt: skip
    p = Pool(f"http://127.0.0.1:{port}", "", env, proc, "", "")
    stalled = socket.socket()
    try:
        _wait_ready(p, tmp_path / "log")
        stalled = socket.create_connection(("127.0.0.1", port))
        stalled.sendall(
            b"POST /1/challenge HTTP/1.1\r\nHost: localhost\r\nContent-Type: application/json"
            b"\r\nContent-Length: 80\r\n\r\n{"
        )
        time.sleep(0.3)
        stopped = time.monotonic()
        proc.send_signal(signal.SIGTERM)
        time.sleep(1)
        late = socket.socket()
        late.settimeout(3)
        try:
            late.connect(("127.0.0.1", port))
            late.sendall(b"GET /healthz HTTP/1.1\r\nHost: localhost\r\n\r\n")
            late.recv(100)  # closed, or answered by a worker not yet stopping: not a hang
        except (ConnectionRefusedError, ConnectionResetError):
            pass
        except TimeoutError:
            pytest.fail("a new connection waited unanswered on a stopping node")
        finally:
            late.close()
        proc.wait(workers.GRACE_SECONDS + 10)
        assert time.monotonic() - stopped < workers.GRACE_SECONDS + 8
    finally:
        stalled.close()
        if proc.poll() is None:
            proc.kill()
            proc.wait(10)
