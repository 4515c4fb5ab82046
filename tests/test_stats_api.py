"""The counters as traffic moves them: challenges, solves, siteverify outcomes, replays and
token-API calls, flushed to the store and read back by `passgate stats`."""

import json
import time

import pytest
from click.testing import CliRunner

from passgate import cli
from passgate.app import flush_stats
from passgate.service import Service
from passgate.store import stats as store
from tests.conftest import SiteCreds, earn_token
from tests.tokenapi_helpers import REFERER, add_key, grant, universal

pytestmark = pytest.mark.anyio


def report(service: Service, sitekey: str | None = None) -> dict:
    now = time.time()
    return store.report(service.engine, now - 3600, now + 60, 300, sitekey)


async def test_traffic_moves_the_counters(client, service: Service, site: SiteCreds) -> None:
    tokens = [(await earn_token(client, site.sitekey))["token"] for _ in range(3)]
    await client.post("/1/challenge", json={"sitekey": site.sitekey, "host": "shop.example"})
    for tok in tokens[:2]:
        ok = await client.post("/siteverify", data={"secret": site.secret, "response": tok})
        assert ok.json()["success"] is True
    again = await client.post("/siteverify", data={"secret": site.secret, "response": tokens[0]})
    assert again.json()["error-codes"] == ["already-seen-response"]
    await client.post("/siteverify", data={"secret": "0x" + "1" * 40, "response": tokens[2]})
    await client.post("/siteverify", content=b"{", headers={"content-type": "application/json"})

    key = add_key(service, "ci")
    grant(service, key, site.sitekey)
    body = {"sitekey": site.sitekey, "referer": REFERER}
    minted = (await universal(client, key.token, body)).json()["data"]["generated_pass_UUID"]
    await client.post("/siteverify", data={"secret": site.secret, "response": minted})
    await universal(client, key.token, {**body, "sitekey": "00000000-0000-4000-8000-0000000000aa"})
    await universal(client, "not-a-key", body)

    await flush_stats(service)
    mine = report(service)["sites"][site.sitekey]
    assert mine["challenges"]["issued"] == 4 and mine["challenges"]["solved"] == 3
    assert mine["challenges"]["expired"] == 0  # their lifetime has not passed
    bands = mine["difficulty"]
    assert sum(bands.values()) == 4 and bands["1x"] >= 1  # adaptive: repeats cost more
    assert mine["siteverify"]["success"] == 3
    assert mine["siteverify"]["failures"] == {  # a wrong secret counts for the token's site
        "already-seen-response": 1,
        "invalid-input-secret": 1,
    }
    assert mine["replays"] == 1
    assert mine["verified"] == {"widget": 2, "keys": {"ci": 1}, "by_interface": {"hcaptcha": 3}}
    assert mine["pass_rate"] == 0.5  # 2 widget successes of 4 challenges
    assert mine["tokenapi"]["ci"]["minted"] == 1
    assert mine["solve_seconds"]["count"] == 3 and mine["solve_seconds"]["p95"] is not None
    nobody = report(service)["sites"][""]
    assert nobody["siteverify"]["failures"] == {"bad-request": 1}
    assert nobody["tokenapi"]["ci"]["outcomes"] == {"unknown_sitekey": 1}
    assert nobody["tokenapi"]["(unknown key)"]["outcomes"] == {"unknown_key": 1}
    # nothing was counted under the unregistered sitekey
    assert set(report(service)["sites"]) == {site.sitekey, ""}


async def test_a_failed_flush_loses_nothing(client, service: Service, site: SiteCreds) -> None:
    await earn_token(client, site.sitekey)
    real = service.engine
    service.engine = None  # type: ignore[assignment]  # any call on it fails
    with pytest.raises(Exception):  # noqa: B017
        await flush_stats(service)
    service.engine = real
    await flush_stats(service)
    assert report(service)["sites"][site.sitekey]["challenges"]["solved"] == 1


async def test_stats_off_stores_nothing(tmp_path) -> None:
    from passgate import settings
    from passgate.service import build

    svc = build(settings.load(env={"PASSGATE_STATS": "off"}, data_dir=str(tmp_path)))
    try:
        svc.stats.issued("A", 1, 1, 2, time.time())
        await flush_stats(svc)
        assert report(svc)["sites"] == {}
    finally:
        await svc.close()


def test_the_cli_prints_the_report(tmp_path) -> None:
    from passgate import settings
    from passgate.service import build
    from passgate.store.db import make_engine

    cfg = settings.load(env={}, data_dir=str(tmp_path))
    svc = build(cfg)
    created, _secret = svc.sites.add(["shop.example"], name="shop")
    now = time.time()
    store.flush(
        svc.engine,
        {
            (int(now) // 60 * 60, created.sitekey, "issued", "1x"): 5,
            (int(now) // 60 * 60, created.sitekey, "verify", "hcaptcha:success"): 2,
        },
    )
    make_engine(cfg.effective_database_url).dispose()
    runner = CliRunner()
    args = ["--data-dir", str(tmp_path), "stats"]
    text = runner.invoke(cli.main, args)
    assert text.exit_code == 0, text.output
    assert f"shop ({created.sitekey})" in text.output and "issued 5" in text.output
    out = runner.invoke(cli.main, [*args, "--json", "--site", created.sitekey, "--step", "1h"])
    data = json.loads(out.output)
    assert data["total"]["siteverify"]["success"] == 2 and len(data["series"]) == 1
    bad = runner.invoke(cli.main, [*args, "--since", "yesterday"])
    assert bad.exit_code == 2 and "not a duration" in bad.output


@pytest.mark.parametrize(
    ("env", "message"),
    [
        ({"PASSGATE_STATS": "maybe"}, "PASSGATE_STATS must be on or off"),
        ({"PASSGATE_STATS_RETENTION_DAYS": "7"}, "at least 30"),
        ({"PASSGATE_METRICS_MAX_SITES": "0"}, "PASSGATE_METRICS_MAX_SITES"),
        ({"PASSGATE_METRICS_PORT": "70000"}, "PASSGATE_METRICS_PORT must be 1-65535"),
    ],
)
def test_bad_settings_are_clear_errors(tmp_path, env: dict, message: str) -> None:
    from passgate import settings
    from passgate.service import observers

    with pytest.raises(settings.SettingsError, match=message):
        observers(settings.load(env=env, data_dir=str(tmp_path)))


@pytest.mark.parametrize("flag", ["--metrics-port", "--console-port"])
def test_a_listener_on_the_public_port_is_refused(tmp_path, flag: str) -> None:
    out = CliRunner().invoke(
        cli.main, ["--data-dir", str(tmp_path), "serve", "--port", "18555", flag, "18555"]
    )
    assert out.exit_code == 1 and "must differ from the public port" in out.output
