"""passgate.logs: the text and JSON formats, the access line, and a real `passgate serve`
driven through the whole API whose log, in either format, holds no secret, token, key or
query string."""

from __future__ import annotations

import json
import logging
import os
import re
import secrets
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import uvicorn

from passgate import logs
from passgate.client import PassgateClient
from passgate.settings import SettingsError
from tests.conftest import SLOW_DIFFICULTY, free_port
from tests.test_live import earn

ISO_UTC = re.compile(r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$")
TEXT_ACCESS = re.compile(
    r"^\d{4}-\d\d-\d\d \d\d:\d\d:\d\d,\d{3} INFO passgate\.access: "
    r"(?P<method>[A-Z]+) (?P<route>/\S*) (?P<status>\d{3}) \d+\.\dms$"
)
QUERY = re.compile(r"\?[\w.%-]+=|&[\w.%-]+=")
REQUIRED = ("time", "level", "event", "logger", "node")
ACCESS_REQUIRED = ("method", "route", "status", "duration_ms")
LOGGERS = ("", "alembic", *logs.UVICORN_LOGGERS, logs.UVICORN_ACCESS)


@pytest.fixture
def restore_logging() -> Iterator[None]:
    """Put back what configure (and uvicorn) change on the process-wide loggers."""
    saved = [
        (lg, list(lg.handlers), lg.level, lg.propagate) for lg in map(logging.getLogger, LOGGERS)
    ]
    yield
    for lg, handlers, level, propagate in saved:
        for h in list(lg.handlers):
            if h not in handlers:
                lg.removeHandler(h)
        for h in handlers:
            if h not in lg.handlers:
                lg.addHandler(h)
        lg.setLevel(level)
        lg.propagate = propagate


def lines(err: str) -> list[str]:
    return [line for line in err.splitlines() if line]


def test_json_line_parses_and_carries_the_fields(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("json", "info", "node-a")
    logging.getLogger("passgate.test").warning("%d sites", 3)
    logging.getLogger("passgate.test").debug("below the level")
    (line,) = lines(capsys.readouterr().err)
    record = json.loads(line)
    assert ISO_UTC.match(record.pop("time"))
    assert record == {
        "level": "warning",
        "event": "3 sites",
        "logger": "passgate.test",
        "node": "node-a",
    }


def test_access_line_in_json(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("json", "info", "node-a")
    logs.access("GET", "/api/records/{record_id}", 404, 1.23456)
    record = json.loads(capsys.readouterr().err)
    assert {k: record[k] for k in (*REQUIRED[1:], *ACCESS_REQUIRED)} == {
        "level": "info",
        "event": "request",
        "logger": "passgate.access",
        "node": "node-a",
        "method": "GET",
        "route": "/api/records/{record_id}",
        "status": 404,
        "duration_ms": 1.235,
    }


def test_access_line_in_text(restore_logging: None, capsys: pytest.CaptureFixture[str]) -> None:
    logs.configure("text", "info", "node-a")
    logs.access("POST", "/1/challenge", 200, 1.24)
    logging.getLogger("passgate").info("plain %s", "words")
    access, plain = lines(capsys.readouterr().err)
    assert TEXT_ACCESS.match(access) and access.endswith(" POST /1/challenge 200 1.2ms")
    assert re.match(r"^\S+ \S+ INFO passgate: plain words$", plain)


def test_access_cuts_off_a_query_string(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("json", "info", "n")
    logs.access("GET", "/siteverify?secret=0xabc&response=P1_x", 400, 0.1)
    record = json.loads(capsys.readouterr().err)
    assert record["route"] == "/siteverify" and "0xabc" not in json.dumps(record)


def test_exception_is_one_json_line_with_error_and_trace(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("json", "info", "n")
    try:
        raise KeyError("boom")
    except KeyError:
        logging.getLogger("passgate").exception("upkeep failed")
    (line,) = lines(capsys.readouterr().err)
    record = json.loads(line)
    assert record["event"] == "upkeep failed" and record["error"] == "KeyError"
    assert record["trace"].startswith("Traceback") and "KeyError: 'boom'" in record["trace"]


def test_access_enabled_follows_the_level(restore_logging: None) -> None:
    logs.configure("text", "warning", "n")
    assert logs.access_enabled() is False
    logs.configure("text", "INFO", "n")
    assert logs.access_enabled() is True


def test_configure_twice_leaves_one_handler(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logs.configure("text", "info", "n")
    logs.configure("json", "info", "n")
    logging.getLogger("passgate").info("once")
    assert [json.loads(line)["event"] for line in lines(capsys.readouterr().err)] == ["once"]
    assert logging.getLogger("alembic").level == logging.WARNING


@pytest.mark.parametrize(
    ("fmt", "level"), [("xml", "info"), ("", "info"), ("JSON ", "info"), ("json", "trace")]
)
def test_bad_format_or_level_raises(fmt: str, level: str) -> None:
    with pytest.raises(SettingsError):
        logs.configure(fmt, level, "n")


def test_uvicorn_logs_through_our_handler_and_its_access_log_is_off(
    restore_logging: None, capsys: pytest.CaptureFixture[str]
) -> None:
    logging.getLogger("uvicorn.error").addHandler(logging.StreamHandler(sys.stdout))
    logs.configure("json", "info", "n")
    # what uvicorn.run(..., log_config=None, access_log=False) does to the loggers
    uvicorn.Config("passgate.app:unused", log_config=None, access_log=False, log_level="info")
    for name in (*logs.UVICORN_LOGGERS, logs.UVICORN_ACCESS):
        assert logging.getLogger(name).handlers == []
    assert not logging.getLogger(logs.UVICORN_ACCESS).hasHandlers()
    logging.getLogger("uvicorn.error").info("Application startup complete.")
    out = capsys.readouterr()
    assert out.out == "" and json.loads(out.err)["logger"] == "uvicorn.error"


# A real server, in each format, driven through the whole API.

NODE = "node-logs"
DEMO_REFERER = "http://localhost:8000/demo"


@dataclass
class Creds:
    env: dict[str, str]
    sitekey: str
    secret: str
    api_key: str
    admin_token: str
    master_key: str


def cli(env: dict[str, str], *args: str) -> dict[str, Any]:
    done = subprocess.run(
        [sys.executable, "-m", "passgate.cli", *args, "--json"],
        env=env,
        capture_output=True,
        text=True,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    out: dict[str, Any] = json.loads(done.stdout)
    return out


@pytest.fixture(scope="module")
def creds(tmp_path_factory: pytest.TempPathFactory) -> Creds:
    """A site, an API key granted it and the admin token, made with the CLI."""
    master = "mk-" + secrets.token_urlsafe(24)
    env = {
        **os.environ,
        "PASSGATE_DATA_DIR": str(tmp_path_factory.mktemp("logs") / "data"),
        "PASSGATE_DEFAULT_DIFFICULTY": str(SLOW_DIFFICULTY),
        "PASSGATE_MASTER_KEY": master,
        "PASSGATE_LOG_LEVEL": "debug",
        "PASSGATE_NODE_NAME": NODE,
    }
    site = cli(env, "site", "add", "--hostname", "localhost")
    api_key = cli(env, "key", "add", "--name", "logs")["token"]
    cli(env, "grant", "add", "--key", "logs", "--site", site["sitekey"])
    admin = cli(env, "admin-token")["token"]
    return Creds(env, site["sitekey"], site["secret"], api_key, admin, master)


def serve(env: dict[str, str], log: Path) -> tuple[subprocess.Popen[bytes], str]:
    port = free_port()
    with log.open("wb") as err:
        proc = subprocess.Popen(
            [sys.executable, "-m", "passgate.cli", "serve", "--port", str(port)],
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=err,
        )
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline and proc.poll() is None:
        try:
            if httpx.get(base + "/healthz", timeout=1).status_code == 200:
                return proc, base
        except httpx.TransportError:
            time.sleep(0.05)
    proc.kill()
    proc.wait(10)
    raise RuntimeError("passgate did not start:\n" + log.read_text())


def drive(base: str, c: Creds, marker: str) -> list[str]:
    """Every kind of call, good and bad, with secrets in bodies, headers, paths and query
    strings; returns the tokens, keys and ids handed out on the way."""
    bearer = {"Authorization": "Bearer " + c.admin_token}
    with PassgateClient(base, c.api_key) as pg:
        res = pg.universal(sitekey=c.sitekey, referer=DEMO_REFERER, need_ekey=True)
        assert res.record_id is not None and res.ekey is not None
        pg.record(res.record_id)
        job = pg.create_job(website_url=DEMO_REFERER, website_key=c.sitekey)
        done = pg.wait(job.job_id, interval=0.2, timeout=10)
    tok = earn(base, c.sitekey)
    good = {"secret": c.secret, "response": tok}
    with httpx.Client(base_url=base, timeout=10) as http:
        assert http.get("/1/api.js", params={"hl": "en", "onload": marker}).status_code == 200
        http.get("/1/frame", params={"sitekey": c.sitekey, "hl": "en", "x": marker})
        http.options("/1/challenge", headers={"Origin": "http://localhost"})
        http.post("/1/challenge", json={"sitekey": marker, "host": "localhost"})
        http.post("/1/solve", json={"challenge": marker, "nonces": [1]})
        assert http.post("/siteverify", data=good).json()["success"] is True
        replay = http.post("/siteverify", data=good).json()
        assert replay["error-codes"] == ["already-seen-response"]
        for minted in (res.token, done.result):
            assert http.post("/siteverify", data={**good, "response": minted}).json()["success"]
        http.post("/siteverify", params=good)
        http.get("/siteverify", params=good)
        http.post("/siteverify", json=good)
        http.post("/siteverify", data={"secret": "0x" + marker, "response": tok})
        http.post("/siteverify", data={"secret": c.secret, "response": "P1_" + marker})
        http.post("/siteverify", data={"secret": c.secret})
        http.post("/siteverify", content=marker, headers={"Content-Type": "text/plain"})
        http.post("/api/wanda/hcaptcha/universal", headers={"User-Token": "pgk_" + marker})
        http.post("/api/createJob", json={"api_token": "pgk_" + marker, "data": {}})
        http.get("/api/records/" + marker, headers={"User-Token": c.api_key})
        assert http.get("/api/admin/keys", headers=bearer).status_code == 200
        http.get("/api/admin/records", params={"key": "logs", "limit": 5}, headers=bearer)
        http.get("/api/admin/keys", headers={"Authorization": "Bearer pga_" + marker})
        assert http.get(f"/no/such/{marker}", params={"token": marker}).status_code == 404
    return [tok, res.token, res.ekey, res.record_id, done.result]


@pytest.mark.slow
@pytest.mark.parametrize("fmt", ["text", "json"])
def test_no_secret_reaches_the_log(creds: Creds, fmt: str, tmp_path: Path) -> None:
    log = tmp_path / "stderr.log"
    marker = "SECRETMARKER" + secrets.token_hex(4)
    proc, base = serve({**creds.env, "PASSGATE_LOG_FORMAT": fmt}, log)
    try:
        handed = drive(base, creds, marker)
    finally:
        proc.send_signal(signal.SIGTERM)
        proc.wait(10)
    text = log.read_text()
    forbidden = {
        "site secret": creds.secret,
        "API key": creds.api_key,
        "admin token": creds.admin_token,
        "master key": creds.master_key,
        "marker": marker,
        **{f"handed out #{i}": s for i, s in enumerate(handed)},
    }
    assert [what for what, s in forbidden.items() if s in text] == []
    assert QUERY.findall(text) == []
    if fmt == "json":
        routes = json_access_routes(text)
    else:
        routes = {m["route"] for m in map(TEXT_ACCESS.match, text.splitlines()) if m}
        assert "INFO uvicorn.error: Application startup complete." in text
    assert {
        "/1/challenge",
        "/1/solve",
        "/siteverify",
        "/api/wanda/hcaptcha/universal",
        "/api/records/{record_id}",
        "/api/createJob",
        "/api/getJobResult",
        "/api/admin/keys",
    } <= routes


def json_access_routes(text: str) -> set[str]:
    """Checks that the log is one JSON object per line with the fields; the access routes."""
    routes: set[str] = set()
    loggers: set[str] = set()
    for line in text.splitlines():
        record = json.loads(line)
        assert isinstance(record, dict) and all(k in record for k in REQUIRED), line
        assert ISO_UTC.match(record["time"]) and record["node"] == NODE, line
        loggers.add(record["logger"])
        if record["logger"] == "passgate.access":
            assert all(k in record for k in ACCESS_REQUIRED), line
            assert record["event"] == "request" and record["level"] == "info", line
            assert isinstance(record["status"], int), line
            assert isinstance(record["duration_ms"], int | float), line
            routes.add(record["route"])
    assert "uvicorn.error" in loggers
    return routes
