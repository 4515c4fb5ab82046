"""Prometheus metrics: parsed by prometheus-client's own parser, moving with the traffic, on
their own listener only, with label values that cannot grow with what clients send."""

import os
import signal
import time
import uuid
from collections.abc import AsyncIterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from passgate import settings
from passgate.app import create_app
from passgate.service import Service, build
from tests.conftest import SLOW_DIFFICULTY, LiveServer, earn_token, free_port, start_server
from tests.tokenapi_helpers import REFERER, add_key, grant, universal


def samples(text: str) -> dict[tuple, float]:
    """Every sample as {(name, sorted labels): value}."""
    out = {}
    for family in text_string_to_metric_families(text):
        for s in family.samples:
            out[(s.name, tuple(sorted(s.labels.items())))] = s.value
    return out


def value(found: dict, name: str, **labels: str) -> float:
    return found.get((name, tuple(sorted(labels.items()))), 0.0)


def series(found: dict) -> set:
    return {k for k in found if k[0].startswith("passgate_")}


@pytest.fixture
async def metered(tmp_path) -> AsyncIterator[Service]:
    cfg = settings.load(
        env={"PASSGATE_METRICS_PORT": "9", "PASSGATE_METRICS_MAX_SITES": "3"},
        data_dir=str(tmp_path / "data"),
    )
    svc = build(cfg)  # the listener is the CLI's; here the metrics are read directly
    yield svc
    await svc.close()


@pytest.fixture
async def mclient(metered: Service) -> AsyncIterator[httpx.AsyncClient]:
    transport = httpx.ASGITransport(app=create_app(metered), client=("203.0.113.9", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://passgate.test") as c:
        yield c


@pytest.mark.anyio
async def test_counters_move_with_the_traffic(mclient, metered: Service) -> None:
    created, secret = metered.sites.add(["shop.example"], difficulty=SLOW_DIFFICULTY)
    site = created.sitekey
    tok = (await earn_token(mclient, site))["token"]
    for _ in range(2):
        await mclient.post("/siteverify", data={"secret": secret, "response": tok})
    key = add_key(metered, "ci")
    grant(metered, key, site)
    await universal(mclient, key.token, {"sitekey": site, "referer": REFERER})
    await universal(mclient, "wrong", {"sitekey": site, "referer": REFERER})
    await mclient.get("/api/records/abc", headers={"User-Token": key.token})
    await mclient.get("/no/such/path")
    assert metered.metrics is not None
    found = samples(metered.metrics.render().decode())
    assert value(found, "passgate_challenges_total", site=site, event="issued") == 1
    assert value(found, "passgate_challenges_total", site=site, event="solved") == 1
    assert value(found, "passgate_challenge_difficulty_total", site=site, band="1x") == 1
    assert value(found, "passgate_solve_seconds_count") == 1
    sv = "passgate_siteverify_total"
    assert value(found, sv, site=site, interface="hcaptcha", outcome="success") == 1
    assert value(found, sv, site=site, interface="hcaptcha", outcome="already-seen-response") == 1
    assert value(found, "passgate_replays_total", site=site, interface="hcaptcha") == 1
    assert value(found, "passgate_tokenapi_calls_total", key="ci", outcome="ok") == 1
    assert value(found, "passgate_tokenapi_calls_total", key="unknown", outcome="unknown_key") == 1
    hist = "passgate_http_request_duration_seconds_count"
    assert value(found, hist, route="/siteverify") == 2
    assert value(found, hist, route="/api/records/{record_id}") == 1
    assert value(found, hist, route="unmatched") == 1
    routes = {dict(k[1]).get("route") for k in found if k[0] == hist}
    assert "/no/such/path" not in routes and "/api/records/abc" not in routes


@pytest.mark.anyio
async def test_a_thousand_random_sitekeys_add_no_series(mclient, metered: Service) -> None:
    assert metered.metrics is not None
    await mclient.post("/siteverify", data={"secret": "0x" + "1" * 40, "response": "x"})
    await mclient.post("/1/challenge", json={"sitekey": str(uuid.uuid4()), "host": "a.example"})
    before = series(samples(metered.metrics.render().decode()))
    for _ in range(1000):
        key = str(uuid.uuid4())
        await mclient.post("/1/challenge", json={"sitekey": key, "host": "a.example"})
        await mclient.post(
            "/siteverify",
            data={
                "secret": "0x" + uuid.uuid4().hex + "abcdefgh",
                "sitekey": key,
                "response": uuid.uuid4().hex,
            },
        )
    after = series(samples(metered.metrics.render().decode()))
    assert after == before
    text = metered.metrics.render().decode()
    assert "203.0.113.9" not in text  # no address ever becomes a label


@pytest.mark.anyio
async def test_sites_past_the_cap_share_one_series(metered: Service) -> None:
    m = metered.metrics
    assert m is not None
    for i in range(5):
        metered.stats.issued(f"site-{i}", 1, 1, 2, time.time())
    found = samples(m.render().decode())
    sites = {dict(k[1])["site"] for k in found if k[0] == "passgate_challenges_total"}
    assert sites == {"site-0", "site-1", "site-2", "other"}
    assert value(found, "passgate_challenges_total", site="other", event="issued") == 2


# -- the real listener ----------------------------------------------------------------------


def stop(server: LiveServer) -> None:
    server.process.send_signal(signal.SIGTERM)
    server.process.wait(15)


@pytest.mark.slow
def test_the_listener_serves_metrics_and_the_public_port_does_not(tmp_path) -> None:
    port = free_port()
    server = start_server(tmp_path / "data", {"PASSGATE_METRICS_PORT": str(port)})
    try:
        assert httpx.get(server.base_url + "/metrics").status_code == 404
        from tests.test_live import earn

        earn(server.base_url, server.sitekey)
        found = samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
        assert value(found, "passgate_challenges_total", site=server.sitekey, event="solved") == 1
        assert value(found, "passgate_store_up", store="spends") == 1
        earn(server.base_url, server.sitekey)
        again = samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
        assert value(again, "passgate_challenges_total", site=server.sitekey, event="solved") == 2
    finally:
        stop(server)


@pytest.mark.slow
def test_two_processes_on_one_file_add_up_in_the_store_and_in_metrics(tmp_path) -> None:
    """Two processes on one SQLite file and one metrics directory: the stored counts and
    either process's /metrics are the sum of both."""
    mdir = tmp_path / "metrics"
    ports = [free_port(), free_port()]
    servers = [
        start_server(
            tmp_path / "data",
            {"PASSGATE_METRICS_PORT": str(p), "PASSGATE_METRICS_DIR": str(mdir)},
        )
        for p in ports
    ]
    try:
        for i, server in enumerate(servers):
            for _ in range(3 + i):
                r = httpx.post(
                    server.base_url + "/1/challenge",
                    json={"sitekey": server.sitekey, "host": "localhost"},
                )
                assert r.status_code == 200
        sitekey = servers[0].sitekey
        for port in ports:  # each process hands its counts to the files every second
            deadline = time.monotonic() + 5
            while True:
                found = samples(httpx.get(f"http://127.0.0.1:{port}/metrics").text)
                issued = value(found, "passgate_challenges_total", site=sitekey, event="issued")
                if issued == 7 or time.monotonic() > deadline:
                    break
                time.sleep(0.2)
            assert issued == 7
            http = "passgate_http_request_duration_seconds_count"
            assert value(found, http, route="/1/challenge") == 7
    finally:
        for server in servers:
            stop(server)  # a clean stop flushes what is left
    out = servers[0].cli("stats", "--json", "--since", "1h")
    assert out.returncode == 0, out.stderr
    import json

    assert json.loads(out.stdout)["sites"][sitekey]["challenges"]["issued"] == 7
    assert os.listdir(mdir)  # the multiprocess files


@pytest.mark.anyio
async def test_counters_never_decrease_across_flushes_and_failed_ones(metered: Service) -> None:
    """A flush moves counts from pending to the process's totals, and a failed flush keeps
    them for the store: a scrape sees every count once, before and after either."""
    from passgate.app import flush_stats

    m = metered.metrics
    assert m is not None
    seen = []
    for i in range(6):
        metered.stats.issued("S", 1, 1, 2, time.time())
        if i == 2:
            real, metered.engine = metered.engine, None  # this flush fails
            with pytest.raises(Exception):  # noqa: B017
                await flush_stats(metered)
            metered.engine = real
        else:
            await flush_stats(metered)
        found = samples(m.render().decode())
        seen.append(value(found, "passgate_challenges_total", site="S", event="issued"))
    assert seen == [1, 2, 3, 4, 5, 6]
    now = time.time()
    from passgate.store import stats as store

    stored = store.report(metered.engine, now - 600, now + 60, 300)
    assert stored["sites"]["S"]["challenges"]["issued"] == 6  # the failed flush's count too


@pytest.mark.anyio
async def test_the_listener_serves_only_metrics_and_survives_a_reset(metered: Service) -> None:
    import socket
    import struct

    m = metered.metrics
    assert m is not None
    port = free_port()
    server = m.listen("127.0.0.1", port)
    try:
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"http://127.0.0.1:{port}/other")).status_code == 404
            ok = await c.get(f"http://127.0.0.1:{port}/metrics")
        assert ok.status_code == 200 and "passgate_store_up" in ok.text
        s = socket.create_connection(("127.0.0.1", port))
        s.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        s.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\n\r\n")
        s.close()  # a reset mid-answer: one log line, and the listener carries on
        async with httpx.AsyncClient() as c:
            assert (await c.get(f"http://127.0.0.1:{port}/metrics")).status_code == 200
    finally:
        server.shutdown()


@pytest.mark.anyio
async def test_a_bad_metrics_port_is_a_clear_error(metered: Service) -> None:
    from passgate.metrics import MetricsError

    assert metered.metrics is not None
    with pytest.raises(MetricsError, match="1-65535"):
        metered.metrics.listen("127.0.0.1", 70000)


@pytest.mark.anyio
async def test_a_database_that_refuses_the_flush_is_down(metered: Service) -> None:
    from passgate.app import watch_and_flush
    from passgate.store import StoreUnavailable

    m = metered.metrics
    assert m is not None
    metered.stats.issued("S", 1, 1, 2, time.time())
    await watch_and_flush(metered)
    assert m.up == {"database": 1.0, "spends": 1.0}
    metered.stats.issued("S", 1, 1, 2, time.time())
    real = metered.engine
    ping = metered.ping

    async def reads_answer() -> dict[str, bool]:
        return {"database": True, "spends": True}

    import sqlalchemy as sa

    metered.ping = reads_answer  # type: ignore[method-assign]
    metered.engine = sa.create_engine("sqlite:////nonexistent/dir/passgate.db")  # writes fail
    try:
        with pytest.raises(StoreUnavailable):
            await watch_and_flush(metered)
        assert m.up["database"] == 0.0
    finally:
        metered.engine, metered.ping = real, ping  # type: ignore[method-assign]
