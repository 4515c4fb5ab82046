"""Grants: one API key may mint for one sitekey, at a rate (per minute, with a burst) and
until an optional expiry. Without a grant, nothing is minted."""

from __future__ import annotations

import math
import re
import time
from dataclasses import dataclass
from datetime import UTC, datetime

import sqlalchemy as sa

from passgate.sites import SITEKEY_RE
from passgate.store.schema import api_keys, grants, sites
from passgate.tokenapi.apikeys import ApiKeyError, ApiKeyRegistry

DEFAULT_RATE = "60/min"
DEFAULT_BURST = 10
MAX_RATE_PER_MIN = 1_000_000.0
MAX_BURST = 1_000_000
_RATE_RE = re.compile(r"^\s*([0-9]{1,9}(?:\.[0-9]{1,9})?)\s*(?:/\s*([a-z]+))?\s*$", re.ASCII)
_PER_MINUTE = {
    "s": 60.0, "sec": 60.0, "second": 60.0,
    "m": 1.0, "min": 1.0, "minute": 1.0,
    "h": 1 / 60, "hr": 1 / 60, "hour": 1 / 60,
}  # fmt: skip


class GrantError(ValueError):
    """Bad grant input, or an unknown key, site or grant; the message says which."""


class GrantNotFound(GrantError):
    """The key, the site or the grant named does not exist."""


@dataclass(frozen=True)
class Grant:
    key_id: int
    key_name: str
    sitekey: str
    rate_per_min: float
    burst: int
    expires_at: float | None
    created_at: float

    @property
    def bucket(self) -> str:
        """The rate limiter's bucket for this grant."""
        return f"grant:{self.key_id}:{self.sitekey}"

    def expired(self, now: float) -> bool:
        return self.expires_at is not None and now >= self.expires_at

    def public(self) -> dict[str, object]:
        return {
            "key": self.key_name,
            "sitekey": self.sitekey,
            "rate_per_min": self.rate_per_min,
            "burst": self.burst,
            "expires_at": iso(self.expires_at) if self.expires_at is not None else None,
            "created_at": iso(self.created_at),
        }


def parse_rate(text: str) -> float:
    """Tokens per minute from `60/min`, `2/s`, `600/hour` or a bare number (per minute)."""
    m = _RATE_RE.match(text.lower()) if isinstance(text, str) else None
    per = _PER_MINUTE.get(m.group(2) or "min") if m else None
    if m is None or per is None:
        raise GrantError(f"not a rate: {text!r} (write e.g. 60/min, 2/s or 600/hour)")
    rate = float(m.group(1)) * per
    if not 0 < rate <= MAX_RATE_PER_MIN:
        raise GrantError(f"a rate must be above 0 and at most {MAX_RATE_PER_MIN:.0f}/min")
    return rate


def parse_expiry(text: str) -> float:
    """Seconds since the epoch from an ISO 8601 time; without an offset it is UTC."""
    try:
        when = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except (ValueError, AttributeError):
        raise GrantError(f"not an ISO 8601 time: {text!r} (e.g. 2026-12-31T23:59:00Z)") from None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    try:  # 9999-12-31T23:59-14:00 is in year 10000 in UTC, which iso() cannot show
        stamp = when.timestamp()
        datetime.fromtimestamp(stamp, UTC)
    except (ValueError, OverflowError, OSError):
        raise GrantError(f"not a time from year 1 to 9999 in UTC: {text!r}") from None
    return stamp


def check_burst(burst: int) -> int:
    if isinstance(burst, bool) or not isinstance(burst, int) or not 1 <= burst <= MAX_BURST:
        raise GrantError(f"burst must be a whole number from 1 to {MAX_BURST}")
    return burst


def iso(ts: float) -> str:
    return datetime.fromtimestamp(ts, UTC).isoformat(timespec="seconds").replace("+00:00", "Z")


def row_to_grant(m: sa.RowMapping) -> Grant:
    return Grant(
        key_id=m["key_id"],
        key_name=m["name"],
        sitekey=m["sitekey"],
        rate_per_min=m["rate_per_min"],
        burst=m["burst"],
        expires_at=m["expires_at"],
        created_at=m["created_at"],
    )


def _joined() -> sa.Select[tuple[object, ...]]:
    return sa.select(grants, api_keys.c.name).join(api_keys, api_keys.c.id == grants.c.key_id)


class GrantRegistry:
    """Reads and writes grants in the relational store."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def put(
        self,
        key_name: str,
        sitekey: str,
        rate_per_min: float,
        burst: int = DEFAULT_BURST,
        expires_at: float | None = None,
    ) -> Grant:
        """Grant a key a site, or replace the grant's rate, burst and expiry."""
        if not 0 < rate_per_min <= MAX_RATE_PER_MIN or math.isnan(rate_per_min):
            raise GrantError(f"a rate must be above 0 and at most {MAX_RATE_PER_MIN:.0f}/min")
        check_burst(burst)
        if expires_at is not None and not math.isfinite(expires_at):
            raise GrantError("the expiry must be a finite time")
        try:
            key = ApiKeyRegistry(self.engine).require(key_name)
        except ApiKeyError as exc:
            raise GrantNotFound(str(exc)) from None
        if not key.active:
            raise GrantError(f"the key {key_name!r} is revoked")
        if not isinstance(sitekey, str) or not SITEKEY_RE.match(sitekey):
            raise GrantError(f"not a sitekey: {sitekey!r}")
        values = {
            "rate_per_min": float(rate_per_min),
            "burst": burst,
            "expires_at": expires_at,
        }
        with self.engine.begin() as conn:
            if (
                conn.execute(sa.select(sites.c.sitekey).where(sites.c.sitekey == sitekey)).first()
                is None
            ):
                raise GrantNotFound(f"no site with sitekey {sitekey} on this passgate")
            where = (grants.c.key_id == key.id) & (grants.c.sitekey == sitekey)
            if conn.execute(grants.update().where(where).values(**values)).rowcount == 0:
                conn.execute(
                    grants.insert().values(
                        key_id=key.id, sitekey=sitekey, created_at=time.time(), **values
                    )
                )
        found = self.get(key.id, sitekey)
        assert found is not None
        return found

    def get(self, key_id: int, sitekey: str) -> Grant | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                _joined().where(grants.c.key_id == key_id, grants.c.sitekey == sitekey)
            ).first()
        return row_to_grant(row._mapping) if row else None

    def list(self, key_name: str | None = None, sitekey: str | None = None) -> list[Grant]:
        query = _joined().order_by(api_keys.c.name, grants.c.created_at)
        if key_name is not None:
            query = query.where(api_keys.c.name == key_name)
        if sitekey is not None:
            query = query.where(grants.c.sitekey == sitekey)
        with self.engine.connect() as conn:
            rows = conn.execute(query).all()
        return [row_to_grant(r._mapping) for r in rows]

    def remove(self, key_name: str, sitekey: str) -> None:
        try:
            key = ApiKeyRegistry(self.engine).require(key_name)
        except ApiKeyError as exc:
            raise GrantNotFound(str(exc)) from None
        with self.engine.begin() as conn:
            gone = conn.execute(
                grants.delete().where(grants.c.key_id == key.id, grants.c.sitekey == sitekey)
            ).rowcount
        if gone == 0:
            raise GrantNotFound(f"the key {key_name!r} has no grant for {sitekey}")
