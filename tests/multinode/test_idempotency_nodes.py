"""Turnstile's idempotency_key across nodes: a retry sent to another node gets the first
answer, and racing first requests on every node all answer alike."""

from __future__ import annotations

import asyncio
import uuid

import pytest

from .conftest import Cluster, client, mint

pytestmark = [pytest.mark.multinode, pytest.mark.slow, pytest.mark.anyio]

TS = "/turnstile/v0/siteverify"


async def test_a_retry_on_another_node_gets_the_first_answer(cluster: Cluster) -> None:
    async with client() as http:
        tokens = await mint(http, cluster, 12)
        for tok in tokens:
            key = str(uuid.uuid4())
            form = {"secret": cluster.secret, "response": tok, "idempotency_key": key}
            first = (await http.post(cluster.urls[0] + TS, data=form)).json()
            retries = [(await http.post(url + TS, data=form)).json() for url in cluster.urls]
            assert first["success"] is True
            assert all(r == first for r in retries), retries
            other = {**form, "idempotency_key": str(uuid.uuid4())}
            again = (await http.post(cluster.urls[-1] + TS, data=other)).json()
            assert again["error-codes"] == ["timeout-or-duplicate"]


async def test_racing_first_requests_on_every_node_answer_alike(cluster: Cluster) -> None:
    async with client() as http:
        tokens = await mint(http, cluster, 20)
        for tok in tokens:
            form = {"secret": cluster.secret, "response": tok, "idempotency_key": str(uuid.uuid4())}
            answers = await asyncio.gather(
                *(http.post(url + TS, data=form) for url in cluster.urls for _ in range(2))
            )
            bodies = [a.json() for a in answers]
            assert bodies[0]["success"] is True
            assert all(b == bodies[0] for b in bodies), bodies
