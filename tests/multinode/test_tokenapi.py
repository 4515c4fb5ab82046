"""The token API on several nodes: one grant's rate is one limit, and a job created on one
node completes and is read on another."""

from __future__ import annotations

import asyncio
import json
import time

import pytest

from .conftest import HOST, Cluster, client, verify

pytestmark = [pytest.mark.multinode, pytest.mark.slow, pytest.mark.anyio]

BURST = 5


def _key_with_grant(cluster: Cluster, name: str, rate: str, burst: int) -> str:
    token: str = json.loads(cluster.cli("key", "add", "--name", name, "--json"))["token"]
    cluster.cli(
        "grant",
        "add",
        "--key",
        name,
        "--site",
        cluster.sitekey,
        "--rate",
        rate,
        "--burst",
        str(burst),
        "--json",
    )
    return token


@pytest.mark.parametrize("which", ["cluster", "pg_cluster"])
async def test_grant_rate_is_one_limit_across_nodes(which: str, request) -> None:
    cluster: Cluster = request.getfixturevalue(which)
    token = _key_with_grant(cluster, f"rate-{which}", "1/min", BURST)
    body = {"sitekey": cluster.sitekey, "referer": f"https://{HOST}/login"}
    async with client() as http:
        calls = [
            http.post(
                cluster.urls[i % len(cluster.urls)] + "/api/wanda/hcaptcha/universal",
                json=body,
                headers={"User-Token": token},
            )
            for i in range(BURST * 4)
        ]
        answers = await asyncio.gather(*calls)
    statuses = sorted(a.status_code for a in answers)
    assert statuses.count(200) == BURST, statuses
    assert statuses.count(429) == BURST * 3, statuses
    assert all(a.json()["status"] == 0 for a in answers if a.status_code == 429)
    assert all("retry-after" in a.headers for a in answers if a.status_code == 429)
    assert _buckets_held_where_expected(cluster) > 0


def _buckets_held_where_expected(cluster: Cluster) -> int:
    """Grant buckets live in Redis when it is configured, else in PostgreSQL."""
    if cluster.env["PASSGATE_REDIS_URL"]:
        import redis

        with redis.Redis.from_url(cluster.env["PASSGATE_REDIS_URL"]) as r:
            return len(r.keys("passgate:bucket:*"))
    import psycopg

    url = "postgresql://" + cluster.env["PASSGATE_DATABASE_URL"].partition("://")[2]
    with psycopg.connect(url) as conn:
        row = conn.execute("SELECT count(*) FROM rate_buckets").fetchone()
    return int(row[0]) if row else 0


async def test_job_created_on_one_node_is_read_on_another(cluster: Cluster) -> None:
    token = _key_with_grant(cluster, "jobs", "60/min", BURST)
    a, b, c = cluster.urls
    async with client() as http:
        created = await http.post(
            a + "/api/createJob",
            json={
                "api_token": token,
                "data": {
                    "type_job_id": "11",
                    "website_url": f"https://{HOST}/login",
                    "website_key": cluster.sitekey,
                },
            },
        )
        assert created.status_code == 200, created.text
        assert created.json()["error"] is False, created.text
        job_id = created.json()["job_id"]
        deadline = time.monotonic() + 20
        while True:
            r = await http.post(
                b + "/api/getJobResult", json={"api_token": token, "job_id": job_id}
            )
            assert r.json()["error"] is False, r.text
            if r.json()["status"] != "running" or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert r.json()["status"] == "success", r.text
        verified = await verify(http, c, cluster.secret, r.json()["result"])
        assert verified["success"] is True, verified
        assert verified["score_reason"] == ["automation", "key_jobs"]
