"""The admin HTTP API's one token: made by `passgate admin-token` (or the console), shown
once, stored as its SHA-256 in the settings table."""

from __future__ import annotations

import hashlib
import hmac
import secrets

import sqlalchemy as sa

from passgate.store.schema import settings_kv

ADMIN_TOKEN_ROW = "admin_token_sha256"  # noqa: S105 - a row name
ADMIN_PREFIX = "pga_"


def new_admin_token(engine: sa.Engine) -> str:
    """A new admin token, replacing any earlier one; only its hash is stored."""
    token = ADMIN_PREFIX + secrets.token_urlsafe(32)
    digest = hashlib.sha256(token.encode()).hexdigest()
    with engine.begin() as conn:
        conn.execute(settings_kv.delete().where(settings_kv.c.name == ADMIN_TOKEN_ROW))
        conn.execute(settings_kv.insert().values(name=ADMIN_TOKEN_ROW, value=digest))
    return token


def admin_token_matches(engine: sa.Engine, presented: str) -> bool:
    with engine.connect() as conn:
        row = conn.execute(
            sa.select(settings_kv.c.value).where(settings_kv.c.name == ADMIN_TOKEN_ROW)
        ).first()
    digest = hashlib.sha256(presented.encode()).hexdigest()
    return row is not None and hmac.compare_digest(row[0], digest)
