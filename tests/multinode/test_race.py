"""The same token sent to every node at once, 1,000 times over: exactly one success each."""

from __future__ import annotations

import asyncio
import time

import pytest

from .conftest import Cluster, client, codes, mint, race

pytestmark = [pytest.mark.multinode, pytest.mark.slow, pytest.mark.anyio]

TOKENS = 1000
IN_FLIGHT = 24  # tokens raced at once (three requests each)


async def test_one_success_per_token_across_nodes(cluster: Cluster) -> None:
    async with client() as http:
        started = time.monotonic()
        tokens = await mint(http, cluster, TOKENS)
        minted = time.monotonic() - started
        gate = asyncio.Semaphore(IN_FLIGHT)

        async def one(tok: str) -> list[dict[str, object]]:
            async with gate:
                return await race(http, cluster, tok)

        started = time.monotonic()
        results = await asyncio.gather(*(one(t) for t in tokens))
        raced = time.monotonic() - started

    doubles = [r for r in results if sum(b["success"] is True for b in r) > 1]
    misses = [r for r in results if sum(b["success"] is True for b in r) == 0]
    assert not doubles, f"{len(doubles)} tokens accepted more than once"
    assert not misses, f"{len(misses)} tokens never accepted: {misses[:3]}"
    for r in results:
        for body in r:
            if body["success"] is not True:
                assert codes(body) == ["already-seen-response"], body
    print(
        f"\nminted {TOKENS} tokens in {minted:.1f}s; raced them on {len(cluster.nodes)} nodes "
        f"in {raced:.1f}s; double accepts: {len(doubles)}"
    )
