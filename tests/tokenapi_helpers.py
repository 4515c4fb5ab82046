"""Helpers shared by the token-API tests: keys, grants and a call to the universal endpoint."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import httpx

from passgate.service import Service
from passgate.tokenapi.apikeys import ApiKeyRegistry
from passgate.tokenapi.grants import GrantRegistry

UNIVERSAL = "/api/wanda/hcaptcha/universal"
REFERER = "https://shop.example/login"


@dataclass
class Key:
    name: str
    token: str


def add_key(service: Service, name: str = "ci") -> Key:
    _key, token = ApiKeyRegistry(service.engine).add(name)
    return Key(name, token)


def grant(
    service: Service,
    key: Key,
    sitekey: str,
    rate: float = 600.0,
    burst: int = 10,
    expires_at: float | None = None,
) -> None:
    GrantRegistry(service.engine).put(key.name, sitekey, rate, burst, expires_at)


async def universal(
    client: httpx.AsyncClient, token: str | None, body: Any, **headers: str
) -> httpx.Response:
    h = {k.replace("_", "-"): v for k, v in headers.items()}
    if token is not None:
        h["User-Token"] = token
    if isinstance(body, bytes | str):
        return await client.post(
            UNIVERSAL, content=body, headers={**h, "Content-Type": "application/json"}
        )
    return await client.post(UNIVERSAL, json=body, headers=h)


def minted_count(service: Service) -> int:
    """Records with a token id: tokens actually handed out."""
    from passgate.tokenapi.records import RecordLog

    return sum(1 for r in RecordLog(service.engine).list(limit=1000) if r.token_id)
