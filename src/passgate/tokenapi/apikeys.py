"""API keys for the token API: named random secrets, shown once, stored hashed, revocable."""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import time
from dataclasses import dataclass

import sqlalchemy as sa

from passgate.store.schema import api_keys

NAME_RE = re.compile(r"^[A-Za-z0-9_.-]{1,64}$")
TOKEN_PREFIX = "pgk_"  # noqa: S105 - a prefix, not a secret
MAX_TOKEN = 256


class ApiKeyError(ValueError):
    """A bad key name, a name in use, or an unknown key; the message says which."""


class ApiKeyExists(ApiKeyError):
    pass


class ApiKeyNotFound(ApiKeyError):
    pass


@dataclass(frozen=True)
class ApiKey:
    id: int
    name: str
    created_at: float
    revoked_at: float | None = None

    @property
    def active(self) -> bool:
        return self.revoked_at is None

    def public(self) -> dict[str, object]:
        return {
            "name": self.name,
            "created_at": self.created_at,
            "revoked_at": self.revoked_at,
            "active": self.active,
        }


def hash_token(token: str) -> str:
    """Key tokens carry 256 random bits, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(token.encode()).hexdigest()


def new_token() -> str:
    return TOKEN_PREFIX + secrets.token_urlsafe(32)


def check_name(name: str) -> str:
    if not isinstance(name, str) or not NAME_RE.match(name):
        raise ApiKeyError("a key name is 1-64 characters of A-Z a-z 0-9 _ . -")
    return name


def row_to_key(m: sa.RowMapping) -> ApiKey:
    return ApiKey(m["id"], m["name"], m["created_at"], m["revoked_at"])


class ApiKeyRegistry:
    """Reads and writes API keys in the relational store."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(self, name: str) -> tuple[ApiKey, str]:
        """Create a key; returns it with its token, which is not kept anywhere."""
        check_name(name)
        token = new_token()
        now = time.time()
        try:
            with self.engine.begin() as conn:
                key_id = conn.execute(
                    api_keys.insert().values(
                        name=name, token_hash=hash_token(token), created_at=now
                    )
                ).inserted_primary_key
        except sa.exc.IntegrityError:
            raise ApiKeyExists(
                f"a key named {name!r} exists already (names are never reused)"
            ) from None
        assert key_id is not None
        return ApiKey(int(key_id[0]), name, now), token

    def get(self, name: str) -> ApiKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.name == name)).first()
        return row_to_key(row._mapping) if row else None

    def require(self, name: str) -> ApiKey:
        key = self.get(name)
        if key is None:
            raise ApiKeyNotFound(f"no API key named {name!r}")
        return key

    def by_id(self, key_id: int) -> ApiKey | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.id == key_id)).first()
        return row_to_key(row._mapping) if row else None

    def list(self) -> list[ApiKey]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(api_keys).order_by(api_keys.c.id)).all()
        return [row_to_key(r._mapping) for r in rows]

    def revoke(self, name: str) -> ApiKey:
        """Revoke a key at once; revoking a revoked key is a no-op."""
        key = self.require(name)
        if key.active:
            now = time.time()
            with self.engine.begin() as conn:
                conn.execute(
                    api_keys.update()
                    .where(api_keys.c.id == key.id, api_keys.c.revoked_at.is_(None))
                    .values(revoked_at=now)
                )
            key = self.require(name)
        return key

    def authenticate(self, token: str) -> ApiKey | None:
        """The key a token belongs to (revoked ones included), or None."""
        if not token or len(token) > MAX_TOKEN:
            return None
        digest = hash_token(token)
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(api_keys).where(api_keys.c.token_hash == digest)).first()
        if row is None or not hmac.compare_digest(row._mapping["token_hash"], digest):
            return None
        return row_to_key(row._mapping)
