"""The token API against a real `passgate demo` process: the README flow (key add, grant add,
the client, siteverify), and a job that survives the server being killed and restarted."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import httpx
import pytest

from passgate.client import PassgateClient
from tests.conftest import LiveServer, start_server

pytestmark = pytest.mark.slow

DEMO_REFERER = "http://localhost:8000/demo"


def key_and_grant(server: LiveServer, name: str, *grant_args: str) -> str:
    made = server.cli("key", "add", "--name", name, "--json")
    assert made.returncode == 0, made.stderr
    token = str(json.loads(made.stdout)["token"])
    granted = server.cli("grant", "add", "--key", name, "--site", server.sitekey, *grant_args)
    assert granted.returncode == 0, granted.stderr
    return token


def verify(server: LiveServer, secret: str, token: str) -> dict[str, object]:
    r = httpx.post(server.base_url + "/siteverify", data={"secret": secret, "response": token})
    return dict(r.json())


def test_readme_flow_against_the_demo(live_server: LiveServer) -> None:
    token = key_and_grant(live_server, "readme")
    with PassgateClient(live_server.base_url, token) as pg:
        res = pg.universal(sitekey=live_server.sitekey, referer=DEMO_REFERER)
        job = pg.create_job(website_url=DEMO_REFERER, website_key=live_server.sitekey)
        done = pg.wait(job.job_id, interval=0.2, timeout=10)
    for minted in (res.token, done.result):
        first = verify(live_server, live_server.secret, minted)
        assert first["success"] is True and first["hostname"] == "localhost"
        assert first["score_reason"] == ["automation", "key_readme"]
        assert verify(live_server, live_server.secret, minted)["error-codes"] == [
            "already-seen-response"
        ]
    listed = live_server.cli("records", "--key", "readme", "--json")
    assert len(json.loads(listed.stdout)) == 2


def test_a_job_survives_a_restart(tmp_path: Path) -> None:
    data_dir = tmp_path / "data"
    server = start_server(data_dir)
    try:
        token = key_and_grant(server, "restart", "--rate", "10/min", "--burst", "1")
        with PassgateClient(server.base_url, token) as pg:
            pg.universal(sitekey=server.sitekey, referer=DEMO_REFERER)  # empties the bucket
            job = pg.create_job(website_url=DEMO_REFERER, website_key=server.sitekey)
            assert pg.get_job_result(job.job_id).status == "running"
    finally:
        server.process.send_signal(signal.SIGKILL)
        server.process.wait(10)
    time.sleep(0.5)
    again = start_server(data_dir)
    try:
        assert again.sitekey == server.sitekey
        with PassgateClient(again.base_url, token) as pg:
            done = pg.wait(job.job_id, interval=0.5, timeout=30)
        assert done.result.startswith("P1_")
        assert verify(again, again.secret, done.result)["success"] is True
    finally:
        again.process.terminate()
        again.process.wait(10)
