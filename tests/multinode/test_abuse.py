"""Abuse resistance across nodes: one prefix's solves on any node raise its price on every
node, on PostgreSQL alone and on Redis, while a quiet prefix pays the base; a counter
store outage issues challenges at the cap and loses no spend."""

from __future__ import annotations

import json

import httpx
import pytest

from passgate import challenge

from .conftest import HOST, Cluster, client, codes, wait_ready

pytestmark = [pytest.mark.multinode, pytest.mark.slow, pytest.mark.anyio]

BASE = 64


def _adaptive_site(cluster: Cluster) -> tuple[str, str]:
    site = json.loads(
        cluster.cli(
            "site", "add", "--hostname", HOST, "--difficulty", str(BASE),
            "--max-difficulty", str(1000 * BASE), "--json",
        )
    )  # fmt: skip
    return site["sitekey"], site["secret"]


async def _price(http: httpx.AsyncClient, base: str, sitekey: str, ip: str) -> dict:
    r = await http.post(
        base + "/1/challenge",
        json={"sitekey": sitekey, "host": HOST},
        headers={"X-Forwarded-For": ip},
    )
    assert r.status_code == 200, r.text
    body: dict = r.json()
    return body


async def _earn(
    http: httpx.AsyncClient, base: str, sitekey: str, ip: str, solve_on: str | None = None
) -> tuple[int, str]:
    data = await _price(http, base, sitekey, ip)
    ch = challenge.Challenge(
        sitekey, HOST, data["salt"], data["difficulty"], data["parts"], data["expires"]
    )
    r = await http.post(
        (solve_on or base) + "/1/solve",
        json={"challenge": data["challenge"], "nonces": challenge.solve(ch)},
        headers={"X-Forwarded-For": ip},
    )
    assert r.status_code == 200, r.text
    return int(data["difficulty"]), str(r.json()["token"])


async def _escalates_across_nodes(cluster: Cluster) -> None:
    sitekey, secret = _adaptive_site(cluster)
    urls = cluster.urls
    async with client() as http:
        await wait_ready(http, cluster)
        paid = []
        for i in range(24):
            price, _ = await _earn(
                http, urls[i % len(urls)], sitekey, f"203.0.113.{i}", urls[(i + 1) % len(urls)]
            )
            paid.append(price)
        assert paid[0] == BASE and paid[-1] > 3 * BASE, paid
        prices = [(await _price(http, u, sitekey, "203.0.113.200"))["difficulty"] for u in urls]
        assert min(prices) > 3 * BASE and max(prices) - min(prices) <= 0.02 * max(prices)
        quiet = [(await _price(http, u, sitekey, "198.51.100.9"))["difficulty"] for u in urls]
        assert quiet == [BASE] * len(urls)
        _, tok = await _earn(http, urls[0], sitekey, "203.0.113.201")
        body = (
            await http.post(urls[-1] + "/siteverify", data={"secret": secret, "response": tok})
        ).json()
        assert body["success"] is True and body["score"] >= 0.7, body
        assert "prefix_velocity" in body["score_reason"]


async def test_one_prefix_escalates_across_nodes_on_redis(cluster: Cluster) -> None:
    await _escalates_across_nodes(cluster)


async def test_one_prefix_escalates_across_nodes_on_postgres_alone(pg_cluster: Cluster) -> None:
    await _escalates_across_nodes(pg_cluster)


async def test_a_redis_outage_prices_at_the_cap_and_loses_no_spend(cluster: Cluster) -> None:
    sitekey, secret = _adaptive_site(cluster)
    a, b, _ = cluster.urls
    async with client() as http:
        await wait_ready(http, cluster)
        _, before = await _earn(http, a, sitekey, "192.0.2.10")
        cluster.stores.redis.kill()
        try:
            down = await _price(http, b, sitekey, "192.0.2.11")
            assert down["difficulty"] == 1000 * BASE  # the site's cap: the gate stays shut
            r = await http.post(b + "/siteverify", data={"secret": secret, "response": before})
            assert codes(r.json()) == ["internal-error"]  # fails closed, token unspent
        finally:
            cluster.stores.redis.start()
        await wait_ready(http, cluster)
        # the restart emptied Redis: the token predates the new epoch, refused for good
        r = await http.post(a + "/siteverify", data={"secret": secret, "response": before})
        assert codes(r.json()) == ["expired-input-response"]
        price, tok = await _earn(http, a, sitekey, "192.0.2.12")
        assert price == BASE  # counters start afresh, as docs/abuse.md says
        r = await http.post(b + "/siteverify", data={"secret": secret, "response": tok})
        assert r.json()["success"] is True
