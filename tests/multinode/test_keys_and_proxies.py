"""Signing keys rotated through the shared store reach every node, and a real server reads
X-Forwarded-For only from PASSGATE_TRUSTED_PROXIES."""

from __future__ import annotations

import asyncio
import base64
import json
import time
from pathlib import Path
from typing import Any

import httpx
import pytest

from passgate import challenge, token

from .conftest import HOST, Cluster, client, earn, race, verify
from .servers import start_node

pytestmark = [pytest.mark.multinode, pytest.mark.slow, pytest.mark.anyio]


async def _challenge(http: httpx.AsyncClient, base: str, sitekey: str) -> dict[str, Any]:
    r = await http.post(base + "/1/challenge", json={"sitekey": sitekey, "host": HOST})
    assert r.status_code == 200, r.text
    data: dict[str, Any] = r.json()
    return data


async def _solve(http: httpx.AsyncClient, base: str, sitekey: str, data: dict[str, Any]) -> str:
    ch = challenge.Challenge(
        sitekey, HOST, data["salt"], data["difficulty"], data["parts"], data["expires"]
    )
    r = await http.post(
        base + "/1/solve", json={"challenge": data["challenge"], "nonces": challenge.solve(ch)}
    )
    assert r.status_code == 200, r.text
    tok: str = r.json()["token"]
    return tok


async def test_rotation_on_one_node_is_honoured_on_all(cluster: Cluster) -> None:
    a, b, c = cluster.urls
    async with client() as http:
        old_token = await earn(http, a, cluster.sitekey)
        old_kid = token.key_id(old_token)
        kid = json.loads(cluster.cli("keys", "rotate", "--json"))["kid"]
        assert kid != old_kid

        # a challenge signed under the new key on A is accepted by B at once
        deadline = time.monotonic() + 10
        while True:
            data = await _challenge(http, a, cluster.sitekey)
            if challenge.key_id(str(data["challenge"])) == kid or time.monotonic() > deadline:
                break
            await asyncio.sleep(0.2)
        assert challenge.key_id(str(data["challenge"])) == kid, "A never signed with the new key"
        new_token = await _solve(http, b, cluster.sitekey, data)
        assert token.key_id(new_token) == kid  # B signs with it too now
        # a token minted under the new key verifies on every node, once
        assert [x["success"] for x in await race(http, cluster, new_token)].count(True) == 1
        # a token under the old key still verifies until it expires
        assert (await verify(http, c, cluster.secret, old_token))["success"] is True

        # within the refresh period, every node signs new tokens with the new key
        await asyncio.sleep(6)
        for base in cluster.urls:
            assert token.key_id(await earn(http, base, cluster.sitekey)) == kid


def _bound_ip(text: str) -> str | None:
    payload = text[len(token.PREFIX) :].rpartition(".")[0]
    claims = json.loads(base64.urlsafe_b64decode(payload + "=" * (-len(payload) % 4)))
    ip: str | None = claims.get("i")
    return ip


async def test_forwarded_for_only_from_trusted_proxies(cluster: Cluster, tmp_path: Path) -> None:
    spoof = {"X-Forwarded-For": "198.51.100.7"}
    untrusting = start_node("untrusting", {**cluster.env, "PASSGATE_TRUSTED_PROXIES": ""}, tmp_path)
    try:
        async with httpx.AsyncClient(timeout=10, headers=spoof) as http:
            # no trusted proxies: the header is ignored, uvicorn's own handling included
            untrusted = await earn(http, untrusting.url, cluster.sitekey)
            assert _bound_ip(untrusted) == "127.0.0.1"
            ready = (await http.get(untrusting.url + "/readyz")).json()
            assert ready == {"ok": True, "warnings": ["untrusted_forwarded_for"]}
            # the cluster lists 127.0.0.1 as a proxy: the client is the hop it forwarded
            trusted = await earn(http, cluster.urls[0], cluster.sitekey)
            assert _bound_ip(trusted) == "198.51.100.7"
    finally:
        untrusting.stop()
