"""Stores failing under the nodes: fail closed (`internal-error`, 503), never accept a token
twice, and recover without a restart of passgate."""

from __future__ import annotations

import asyncio
import json
import time
from collections import Counter

import pytest
import redis.asyncio
import redis.exceptions

from .conftest import (
    Cluster,
    client,
    codes,
    earn,
    mint,
    race,
    verify,
    wait_ready,
)

pytestmark = [pytest.mark.multinode, pytest.mark.slow, pytest.mark.anyio]

REFUSED = {"already-seen-response", "internal-error", "expired-input-response"}


def _tally(results: dict[str, list[dict[str, object]]], wins: Counter[str]) -> Counter[str]:
    seen: Counter[str] = Counter()
    for tok, bodies in results.items():
        for body in bodies:
            if body["success"] is True:
                wins[tok] += 1
                seen["success"] += 1
            else:
                (code,) = codes(body)
                assert code in REFUSED, body
                seen[code] += 1
    return seen


async def _universal(http, base: str, cluster: Cluster, api_token: str):
    return await http.post(
        base + "/api/wanda/hcaptcha/universal",
        json={"sitekey": cluster.sitekey, "referer": "https://shop.example/"},
        headers={"User-Token": api_token},
    )


def _api_key(cluster: Cluster, name: str) -> str:
    api_token: str = json.loads(cluster.cli("key", "add", "--name", name, "--json"))["token"]
    cluster.cli("grant", "add", "--key", name, "--site", cluster.sitekey, "--rate", "600/min")
    return api_token


def _assert_store_unavailable(r) -> None:
    body = r.json()
    assert r.status_code == 503, r.text
    assert body["status"] == 0 and body["data"] is None, body
    assert set(body) == {"status", "msg", "id", "data", "cost"}, body


async def test_redis_killed_mid_load(cluster: Cluster) -> None:
    wins: Counter[str] = Counter()
    api_token = _api_key(cluster, "redis-outage")
    async with client() as http:
        tokens = await mint(http, cluster, 600)
        results: dict[str, list[dict[str, object]]] = {}
        gate = asyncio.Semaphore(12)

        async def one(tok: str) -> None:
            async with gate:
                results[tok] = await race(http, cluster, tok)
                await asyncio.sleep(0.01)  # keep the load going while Redis dies

        load = asyncio.gather(*(one(t) for t in tokens))
        while len(results) < 150:
            await asyncio.sleep(0.01)
        cluster.stores.redis.kill()
        await asyncio.sleep(1.5)
        during = [await verify(http, u, cluster.secret, tokens[-1]) for u in cluster.urls]
        assert all(codes(b) == ["internal-error"] for b in during), during
        ready = await http.get(cluster.urls[0] + "/readyz")
        assert ready.status_code == 503
        assert ready.json() == {
            "ok": False,
            "error": "store_unavailable",
            "stores": {"database": True, "spends": False},
        }
        challenge = await http.post(
            cluster.urls[1] + "/1/solve", json={"challenge": "C1.x.y", "nonces": [0]}
        )
        assert challenge.status_code == 400  # a bad challenge needs no store
        _assert_store_unavailable(await _universal(http, cluster.urls[2], cluster, api_token))
        cluster.stores.redis.start()
        restarted = time.monotonic()
        recovered = await wait_ready(http, cluster)
        fresh = await mint(http, cluster, 30)
        first_success = time.monotonic() - restarted
        await load
        first = _tally(results, wins)

        # every token once more, on every node: nothing issued before the restart verifies
        again = {t: await race(http, cluster, t) for t in tokens[::3]}
        second = _tally(again, wins)
        after = {t: await race(http, cluster, t) for t in fresh}
        third = _tally(after, wins)
        assert (await _universal(http, cluster.urls[2], cluster, api_token)).status_code == 200

    assert max(wins.values()) == 1, "a token was accepted twice"
    assert first["success"] >= 150 and first["internal-error"] > 0, first
    assert second["success"] == 0 and second["expired-input-response"] > 0, second
    assert third["success"] == len(fresh), third
    print(
        f"\nRedis killed mid-load: first pass {dict(first)}, second pass {dict(second)}, "
        f"after recovery {dict(third)}; nodes ready {recovered:.2f}s after Redis restarted, "
        f"fresh tokens minted {first_success:.1f}s after; double accepts: 0"
    )


async def test_redis_restarted_empty_keeps_spent_tokens_refused(cluster: Cluster) -> None:
    async with client() as http:
        await wait_ready(http, cluster)
        tokens = await mint(http, cluster, 20)
        for tok in tokens[:10]:
            assert (await verify(http, cluster.urls[0], cluster.secret, tok))["success"] is True
        cluster.stores.restart_redis_empty()
        await wait_ready(http, cluster)
        for tok in tokens:  # spent or not, issued before the restart: refused everywhere
            for body in await race(http, cluster, tok):
                assert codes(body) == ["expired-input-response"], body
        fresh = await mint(http, cluster, 5)
        for tok in fresh:
            assert sum(b["success"] is True for b in await race(http, cluster, tok)) == 1


async def _redis_answers(cluster: Cluster, timeout: float = 10) -> float:
    """Waits until Redis answers PING, asking it directly (no node touches it); returns the
    monotonic time it first answered."""
    client = redis.asyncio.Redis.from_url(cluster.stores.redis.url, socket_timeout=0.2)
    try:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                if await client.ping():
                    return time.monotonic()
            except redis.exceptions.RedisError:
                await asyncio.sleep(0.01)
        raise AssertionError("Redis did not answer")
    finally:
        await client.aclose()


async def _fresh_tokens_verify_at_once(http, cluster: Cluster, api_token: str, since: float):
    """Minted on one node right after Redis came back empty, verified at once on another:
    a token-API token and a widget token (challenge, solve and verify on three nodes)."""
    a, b, c = cluster.urls
    r = await _universal(http, a, cluster, api_token)
    assert r.status_code == 200, r.text
    api_tok = r.json()["data"]["generated_pass_UUID"]
    widget_tok = await earn(http, b, cluster.sitekey, solve_on=c)
    minted_after = time.monotonic() - since
    assert (await verify(http, b, cluster.secret, api_tok))["success"] is True
    assert (await verify(http, a, cluster.secret, widget_tok))["success"] is True
    for tok in (api_tok, widget_tok):  # and still only once
        for body in await race(http, cluster, tok):
            assert codes(body) == ["already-seen-response"], body
    assert minted_after < 3.0, minted_after  # these tests mean "right after"
    return minted_after


async def test_tokens_minted_right_after_redis_restarts_verify_at_once(cluster: Cluster) -> None:
    api_token = _api_key(cluster, "after-restart")
    async with client() as http:
        await wait_ready(http, cluster)
        before = await mint(http, cluster, 6)
        assert (await verify(http, cluster.urls[0], cluster.secret, before[0]))["success"]
        cluster.stores.restart_redis_empty()
        back = await _redis_answers(cluster)
        took = await _fresh_tokens_verify_at_once(http, cluster, api_token, back)
        for tok in before:  # spent or not, minted before the restart: refused everywhere
            for body in await race(http, cluster, tok):
                assert codes(body) == ["expired-input-response"], body
        # and the next tokens, within a second of the first spends after the restart
        for tok in await mint(http, cluster, 6):
            assert sum(b["success"] is True for b in await race(http, cluster, tok)) == 1
    print(f"\nfirst tokens after the restart minted and verified {took:.2f}s after Redis answered")


async def test_tokens_minted_right_after_a_flushall_verify_at_once(cluster: Cluster) -> None:
    api_token = _api_key(cluster, "after-flush")
    async with client() as http:
        await wait_ready(http, cluster)
        before = await mint(http, cluster, 4)
        assert (await verify(http, cluster.urls[1], cluster.secret, before[0]))["success"]
        flusher = redis.asyncio.Redis.from_url(cluster.stores.redis.url)
        try:
            await flusher.flushall()
        finally:
            await flusher.aclose()
        await _fresh_tokens_verify_at_once(http, cluster, api_token, time.monotonic())
        for tok in before:
            for body in await race(http, cluster, tok):
                assert codes(body) == ["expired-input-response"], body


async def _postgres_restart(cluster: Cluster, spent_answer: str) -> None:
    api_token = _api_key(cluster, "pg-outage")
    admin = json.loads(cluster.cli("admin-token", "--json"))["token"]
    async with client() as http:
        await wait_ready(http, cluster)
        tokens = await mint(http, cluster, 20)
        for tok in tokens[:10]:
            assert (await verify(http, cluster.urls[-1], cluster.secret, tok))["success"] is True
        cluster.stores.pg.stop("fast")
        try:
            await asyncio.sleep(1.2)  # past the one-second site cache
            for body in await race(http, cluster, tokens[10]):
                assert codes(body) == ["internal-error"], body
            down = await http.post(
                cluster.urls[0] + "/1/challenge", json={"sitekey": cluster.sitekey, "host": "x.y"}
            )
            assert down.status_code == 503 and down.json()["error"] == "network-error"
            ready = await http.get(cluster.urls[0] + "/readyz")
            assert ready.status_code == 503 and ready.json()["stores"]["database"] is False
            _assert_store_unavailable(await _universal(http, cluster.urls[0], cluster, api_token))
            r = await http.get(
                cluster.urls[-1] + "/api/admin/keys", headers={"Authorization": f"Bearer {admin}"}
            )
            assert r.status_code == 503, r.text
            assert r.json()["ok"] is False and r.json()["error"] == "store_unavailable", r.text
        finally:
            cluster.stores.pg.start()
        await wait_ready(http, cluster)
        for tok in tokens[:10]:
            for body in await race(http, cluster, tok):
                assert codes(body) == [spent_answer], body
        for tok in tokens[10:]:
            assert sum(b["success"] is True for b in await race(http, cluster, tok)) == 1
        assert (await _universal(http, cluster.urls[0], cluster, api_token)).status_code == 200
        tok = await earn(http, cluster.urls[0], cluster.sitekey, solve_on=cluster.urls[-1])
        assert sum(b["success"] is True for b in await race(http, cluster, tok)) == 1


async def test_postgres_restarted_with_redis(cluster: Cluster) -> None:
    await _postgres_restart(cluster, "already-seen-response")


async def test_postgres_restarted_postgres_only(pg_cluster: Cluster) -> None:
    await _postgres_restart(pg_cluster, "already-seen-response")


async def test_race_on_postgres_only(pg_cluster: Cluster) -> None:
    async with client() as http:
        tokens = await mint(http, pg_cluster, 300)
        gate = asyncio.Semaphore(24)

        async def one(tok: str) -> int:
            async with gate:
                bodies = await race(http, pg_cluster, tok)
            for b in bodies:
                assert b["success"] is True or codes(b) == ["already-seen-response"], b
            return sum(b["success"] is True for b in bodies)

        wins = await asyncio.gather(*(one(t) for t in tokens))
    assert set(wins) == {1}
