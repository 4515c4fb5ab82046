"""Two `passgate serve` processes on one SQLite file, behind a trusted loopback proxy: one
prefix's solves on either raise its price on both, and a quiet prefix stays at the base."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from collections.abc import Iterator

import httpx
import pytest

from passgate import challenge
from tests.conftest import free_port

pytestmark = pytest.mark.slow

BASE = 256
HOST = "shop.example"


def _serve(env: dict[str, str]) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    proc = subprocess.Popen(
        [sys.executable, "-m", "passgate.cli", "serve", "--port", str(port)],
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    raise RuntimeError("passgate did not start")


@pytest.fixture(scope="module")
def pair(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[list[str], str, str]]:
    data = tmp_path_factory.mktemp("abuse") / "data"
    env = {
        **os.environ,
        "PASSGATE_DATA_DIR": str(data),
        "PASSGATE_TRUSTED_PROXIES": "127.0.0.1",
        "PASSGATE_LOG_LEVEL": "warning",
    }
    out = subprocess.run(
        [sys.executable, "-m", "passgate.cli", "site", "add", "--hostname", HOST,
         "--difficulty", str(BASE), "--max-difficulty", str(1000 * BASE), "--json"],
        env=env, capture_output=True, text=True, check=True,
    )  # fmt: skip
    site = json.loads(out.stdout)
    procs = [_serve(env) for _ in range(2)]
    try:
        yield [base for _, base in procs], site["sitekey"], site["secret"]
    finally:
        for proc, _ in procs:
            proc.terminate()
            proc.wait(10)


def _earn(base: str, sitekey: str, ip: str) -> tuple[int, str]:
    xff = {"X-Forwarded-For": ip}
    data = httpx.post(
        base + "/1/challenge", json={"sitekey": sitekey, "host": HOST}, headers=xff
    ).json()
    ch = challenge.Challenge(
        sitekey, HOST, data["salt"], data["difficulty"], data["parts"], data["expires"]
    )
    r = httpx.post(
        base + "/1/solve",
        json={"challenge": data["challenge"], "nonces": challenge.solve(ch)},
        headers=xff,
    )
    assert r.status_code == 200, r.text
    return int(data["difficulty"]), str(r.json()["token"])


def test_one_prefix_escalates_across_processes_sharing_sqlite(pair) -> None:
    (a, b), sitekey, secret = pair
    paid = [_earn((a, b)[i % 2], sitekey, f"203.0.113.{i}")[0] for i in range(24)]
    assert paid[0] == BASE and paid[-1] > 3 * BASE, paid
    # the same price on both processes, read from the shared file
    on_a = httpx.post(
        a + "/1/challenge", json={"sitekey": sitekey, "host": HOST},
        headers={"X-Forwarded-For": "203.0.113.250"},
    ).json()["difficulty"]  # fmt: skip
    on_b = httpx.post(
        b + "/1/challenge", json={"sitekey": sitekey, "host": HOST},
        headers={"X-Forwarded-For": "203.0.113.251"},
    ).json()["difficulty"]  # fmt: skip
    assert on_a > 3 * BASE and abs(on_a - on_b) <= 0.02 * on_a  # decay between the two
    price, tok = _earn(b, sitekey, "198.51.100.20")
    assert price == BASE  # a quiet prefix
    body = httpx.post(b + "/siteverify", data={"secret": secret, "response": tok}).json()
    assert body["success"] is True and body["score"] == 0.0
    _, hot = _earn(a, sitekey, "203.0.113.99")
    body = httpx.post(a + "/siteverify", data={"secret": secret, "response": hot}).json()
    assert body["score"] >= 0.7 and "prefix_velocity" in body["score_reason"]
