"""`--workers 2` on PostgreSQL and Redis: a node of two worker processes beside the
cluster's single-process nodes keeps single use and serves through a worker's death."""

from __future__ import annotations

import asyncio
import os
import signal
import subprocess
import time
from collections.abc import Iterator

import httpx
import pytest

from .conftest import Cluster, client, earn, verify
from .servers import Node, start_node

pytestmark = [pytest.mark.multinode, pytest.mark.slow]


@pytest.fixture(scope="module")
def pooled(cluster: Cluster, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Node]:
    node = start_node("workers", cluster.env, tmp_path_factory.mktemp("pool"), "--workers", "2")
    yield node
    node.stop()


def workers_of(node: Node) -> list[int]:
    out = subprocess.run(
        ["ps", "-ww", "--ppid", str(node.proc.pid), "-o", "pid=,args="],
        capture_output=True, text=True, check=False,
    ).stdout  # fmt: skip
    return [int(line.split()[0]) for line in out.splitlines() if "spawn_main" in line]


def test_tokens_raced_over_workers_and_nodes_are_accepted_once(
    cluster: Cluster, pooled: Node
) -> None:
    async def go() -> list[int]:
        async with client() as http:
            tokens = [await earn(http, pooled.url, cluster.sitekey) for _ in range(60)]
            targets = [pooled.url, pooled.url, pooled.url, cluster.urls[0]]

            async def race(token: str) -> int:
                answers = await asyncio.gather(
                    *(verify(http, u, cluster.secret, token) for u in targets)
                )
                return sum(1 for a in answers if a["success"] is True)

            return list(await asyncio.gather(*(race(t) for t in tokens)))

    accepted = asyncio.run(go())
    assert accepted == [1] * 60


def test_a_dead_worker_is_replaced_on_redis_and_postgresql(cluster: Cluster, pooled: Node) -> None:
    victim = workers_of(pooled)[0]
    os.kill(victim, signal.SIGKILL)
    for _ in range(40):
        r = httpx.post(pooled.url + "/1/challenge",
                       json={"sitekey": cluster.sitekey, "host": "shop.example"})  # fmt: skip
        assert r.status_code == 200
    end = time.monotonic() + 15
    while len(workers_of(pooled)) < 2 and time.monotonic() < end:
        time.sleep(0.2)
    assert len(workers_of(pooled)) == 2 and victim not in workers_of(pooled)
