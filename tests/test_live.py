"""The real process: `passgate demo` on a loopback port, driven over HTTP and by the CLI."""

import json
import time

import httpx
import pytest

from passgate import challenge
from tests.conftest import LiveServer, start_server

pytestmark = pytest.mark.slow


def earn(base: str, sitekey: str, host: str = "localhost") -> str:
    data = httpx.post(f"{base}/1/challenge", json={"sitekey": sitekey, "host": host}).json()
    ch = challenge.Challenge(
        sitekey, host, data["salt"], data["difficulty"], data["parts"], data["expires"]
    )
    solved = httpx.post(
        f"{base}/1/solve", json={"challenge": data["challenge"], "nonces": challenge.solve(ch)}
    )
    assert solved.status_code == 200, solved.text
    return str(solved.json()["token"])


def test_demo_page_carries_the_demo_sitekey(live_server: LiveServer) -> None:
    r = httpx.get(live_server.base_url + "/demo")
    assert r.status_code == 200
    assert f'data-sitekey="{live_server.sitekey}"' in r.text
    assert "/1/api.js" in r.text


def test_demo_backend_accepts_once(live_server: LiveServer) -> None:
    tok = earn(live_server.base_url, live_server.sitekey)
    first = httpx.post(live_server.base_url + "/demo/verify", data={"response": tok}).json()
    second = httpx.post(live_server.base_url + "/demo/verify", data={"response": tok}).json()
    assert first["accepted"] is True and first["siteverify"]["hostname"] == "localhost"
    assert second["accepted"] is False
    assert second["siteverify"]["error-codes"] == ["already-seen-response"]


def test_cli_changes_reach_the_running_server(live_server: LiveServer) -> None:
    out = live_server.cli(
        "site", "add", "--hostname", "cli.example", "--difficulty", "500", "--json"
    )
    assert out.returncode == 0, out.stderr
    created = json.loads(out.stdout)
    deadline = time.monotonic() + 5
    while True:
        r = httpx.post(
            live_server.base_url + "/1/challenge",
            json={"sitekey": created["sitekey"], "host": "cli.example"},
        )
        if r.status_code == 200 or time.monotonic() > deadline:
            break
        time.sleep(0.2)
    assert r.status_code == 200
    tok = earn(live_server.base_url, created["sitekey"], "cli.example")
    body = httpx.post(
        live_server.base_url + "/siteverify", data={"secret": created["secret"], "response": tok}
    ).json()
    assert body["success"] is True and body["hostname"] == "cli.example"
    rotated = json.loads(
        live_server.cli("site", "rotate-secret", created["sitekey"], "--json").stdout
    )
    time.sleep(1.2)  # the server's site cache holds for a second
    tok = earn(live_server.base_url, created["sitekey"], "cli.example")
    old = httpx.post(
        live_server.base_url + "/siteverify", data={"secret": created["secret"], "response": tok}
    ).json()
    assert old["error-codes"] == ["invalid-input-secret"]
    new = httpx.post(
        live_server.base_url + "/siteverify", data={"secret": rotated["secret"], "response": tok}
    ).json()
    assert new["success"] is True


def test_demo_gets_a_fresh_secret_at_each_start(tmp_path) -> None:
    first = start_server(tmp_path / "data")
    try:
        tok = earn(first.base_url, first.sitekey)
    finally:
        first.process.terminate()
        first.process.wait(10)
    second = start_server(tmp_path / "data")
    try:
        assert second.sitekey == first.sitekey and second.secret != first.secret
        stale = httpx.post(
            second.base_url + "/siteverify", data={"secret": first.secret, "response": tok}
        ).json()
        assert stale["error-codes"] == ["invalid-input-secret"]
        # a token earned before the restart still verifies once, signed by the stored key
        ok = httpx.post(
            second.base_url + "/siteverify", data={"secret": second.secret, "response": tok}
        ).json()
        assert ok["success"] is True
    finally:
        second.process.terminate()
        second.process.wait(10)


def test_secrets_never_reach_the_log(tmp_path) -> None:
    import subprocess
    import sys

    from tests.conftest import free_port

    port = free_port()
    env = {
        **__import__("os").environ,
        "PASSGATE_DATA_DIR": str(tmp_path / "d"),
        "PASSGATE_DEFAULT_DIFFICULTY": "500",
    }
    proc = subprocess.Popen(
        [sys.executable, "-m", "passgate.cli", "demo", "--port", str(port), "--json"],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    assert proc.stdout is not None and proc.stderr is not None
    info = json.loads(proc.stdout.readline())
    base = f"http://127.0.0.1:{port}"
    for _ in range(100):
        try:
            httpx.get(base + "/healthz")
            break
        except httpx.TransportError:
            time.sleep(0.05)
    tok = earn(base, info["sitekey"])
    httpx.post(base + "/siteverify", params={"secret": info["secret"], "response": tok})
    httpx.post(base + "/siteverify", data={"secret": info["secret"], "response": tok})
    proc.terminate()
    _, err = proc.communicate(timeout=10)
    log = err.decode()
    assert "POST /siteverify 200" in log
    assert info["secret"] not in log and tok not in log
