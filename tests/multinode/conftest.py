"""Session fixtures for the multinode tests: one PostgreSQL and one Redis on loopback, and
clusters of `passgate serve` processes sharing them.

Without the servers installed these tests skip, except with CI=true, where they fail.
"""

from __future__ import annotations

import asyncio
import base64
import json
import os
import shutil
import tempfile
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest

from passgate import challenge

from .servers import Node, Postgres, Redis, ServerError, passgate, start_node

HOST = "shop.example"
DIFFICULTY = 50  # a handful of hashes per token: the tests mint thousands
TOKEN_LIFETIME = 900  # pre-minted tokens must outlive a slow run

CI = os.environ.get("CI", "").lower() in ("1", "true", "yes")


def _require(ok: bool, what: str) -> None:
    if ok:
        return
    if CI:
        pytest.fail(f"multinode tests need {what} (CI=true: they may not skip)")
    pytest.skip(f"needs {what}")


@dataclass
class Stores:
    pg: Postgres
    redis: Redis

    def restart_redis_empty(self) -> None:
        self.redis.kill()
        self.redis.start()

    def restart_postgres(self) -> None:
        self.pg.stop("fast")
        self.pg.start()


@dataclass
class Cluster:
    nodes: list[Node]
    env: dict[str, str]
    sitekey: str
    secret: str
    stores: Stores

    @property
    def urls(self) -> list[str]:
        return [n.url for n in self.nodes]

    def cli(self, *args: str) -> str:
        return passgate(self.env, *args)


@pytest.fixture(scope="session")
def stores(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stores]:
    _require(shutil.which("redis-server") is not None, "redis-server")
    _require(
        any(Path(p).exists() for p in ("/usr/local/bin/initdb", "/usr/lib/postgresql"))
        or shutil.which("initdb") is not None,
        "PostgreSQL's initdb and pg_ctl",
    )
    root = tmp_path_factory.mktemp("stores")
    # pytest's temp tree is root-only; PostgreSQL runs as postgres, so it gets its own dir
    pg_root = Path(tempfile.mkdtemp(prefix="passgate-pg-"))
    pg = Postgres(pg_root)
    redis = Redis(root / "redis")
    try:
        pg.init()
        pg.start()
        redis.start()
    except ServerError as exc:
        redis.kill()
        pg.stop("immediate")
        shutil.rmtree(pg_root, ignore_errors=True)
        pytest.fail(f"a store did not start: {exc}")
    try:
        yield Stores(pg, redis)
    finally:
        redis.kill()
        pg.stop("immediate")
        shutil.rmtree(pg_root, ignore_errors=True)


def _cluster(
    stores: Stores, tmp: Path, name: str, count: int, with_redis: bool
) -> Iterator[Cluster]:
    env = {
        **os.environ,
        "PASSGATE_DATABASE_URL": stores.pg.create_database(name),
        "PASSGATE_REDIS_URL": stores.redis.url if with_redis else "",
        "PASSGATE_MASTER_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode(),
        "PASSGATE_DATA_DIR": str(tmp / "data"),
        "PASSGATE_TOKEN_LIFETIME": str(TOKEN_LIFETIME),
        "PASSGATE_LOG_LEVEL": "warning",
        "PASSGATE_TRUSTED_PROXIES": "127.0.0.1",  # X-Forwarded-For plays many sources
    }
    env.pop("PASSGATE_CONFIG", None)
    passgate(env, "migrate")
    site = json.loads(
        passgate(
            env,
            "site",
            "add",
            "--hostname",
            HOST,
            "--difficulty",
            str(DIFFICULTY),
            "--no-adaptive",
            "--json",
        )  # fmt: skip  (these tests mint thousands of tokens from one address)
    )
    nodes: list[Node] = []
    try:
        for i in range(count):
            nodes.append(start_node(f"{name}-{i}", env, tmp))
        for node in nodes:
            assert httpx.get(node.url + "/readyz", timeout=5).status_code == 200
        yield Cluster(nodes, env, site["sitekey"], site["secret"], stores)
    finally:
        for node in nodes:
            node.stop()


@pytest.fixture(scope="session")
def cluster(stores: Stores, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Three nodes on PostgreSQL and Redis."""
    yield from _cluster(stores, tmp_path_factory.mktemp("cluster"), "passgate_redis", 3, True)


@pytest.fixture(scope="session")
def pg_cluster(stores: Stores, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Cluster]:
    """Two nodes on PostgreSQL alone: spends in PostgreSQL."""
    yield from _cluster(stores, tmp_path_factory.mktemp("pgcluster"), "passgate_pg", 2, False)


# -- what the tests do over HTTP ------------------------------------------------------------


def client() -> httpx.AsyncClient:
    return httpx.AsyncClient(
        timeout=10, limits=httpx.Limits(max_connections=200, max_keepalive_connections=100)
    )


async def mint(http: httpx.AsyncClient, cluster: Cluster, count: int, width: int = 16) -> list[str]:
    """`count` pass tokens earned the widget's way, spread over the nodes."""
    gate = asyncio.Semaphore(width)

    async def one(i: int) -> str:
        base = cluster.urls[i % len(cluster.urls)]
        async with gate:
            return await earn(http, base, cluster.sitekey)

    return list(await asyncio.gather(*(one(i) for i in range(count))))


async def earn(
    http: httpx.AsyncClient, base: str, sitekey: str, solve_on: str | None = None
) -> str:
    """A token earned the widget's way: a challenge from `base`, solved on `solve_on`; a
    solution answered with `renew` (its challenge predates Redis's epoch) is replaced by a
    fresh challenge once, as the widget does."""
    ask: dict[str, object] = {"sitekey": sitekey, "host": HOST}
    for renewals in (1, 0):
        r = await http.post(base + "/1/challenge", json=ask)
        assert r.status_code == 200, r.text
        data = r.json()
        ch = challenge.Challenge(
            sitekey, HOST, data["salt"], data["difficulty"], data["parts"], data["expires"]
        )
        solved = await http.post(
            (solve_on or base) + "/1/solve",
            json={"challenge": data["challenge"], "nonces": challenge.solve(ch)},
        )
        if not (renewals and solved.status_code == 400 and solved.json().get("renew")):
            break
        ask["renew"] = True
    assert solved.status_code == 200, solved.text
    tok: str = solved.json()["token"]
    return tok


async def verify(http: httpx.AsyncClient, base: str, secret: str, token: str) -> dict[str, object]:
    r = await http.post(base + "/siteverify", data={"secret": secret, "response": token})
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


async def race(http: httpx.AsyncClient, cluster: Cluster, token: str) -> list[dict[str, object]]:
    """The same token sent to every node at once."""
    return list(
        await asyncio.gather(*(verify(http, u, cluster.secret, token) for u in cluster.urls))
    )


def codes(body: dict[str, object]) -> list[str]:
    found = body.get("error-codes", [])
    assert isinstance(found, list)
    return [str(c) for c in found]


async def wait_ready(http: httpx.AsyncClient, cluster: Cluster, timeout: float = 30) -> float:
    """Seconds until every node's /readyz answers 200; fails past `timeout`."""
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        answers = await asyncio.gather(
            *(http.get(u + "/readyz") for u in cluster.urls), return_exceptions=True
        )
        if all(isinstance(a, httpx.Response) and a.status_code == 200 for a in answers):
            return time.monotonic() - start
        await asyncio.sleep(0.1)
    raise AssertionError(f"nodes not ready after {timeout}s")
