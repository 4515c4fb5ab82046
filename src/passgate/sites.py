"""Sites: sitekeys, hashed secrets, allowed hostnames and per-site settings, in the store."""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import secrets
import time
import uuid
from dataclasses import dataclass, replace
from typing import Any

import sqlalchemy as sa

from passgate import algorithms
from passgate.abuse import prefix
from passgate.store.schema import sites

SITEKEY_RE = re.compile(r"^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$")
SECRET_RE = re.compile(r"^0x[0-9a-fA-F]{40}$")
HOSTNAME_RE = re.compile(
    r"^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)(\.[a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?)*$"
)
MIN_DIFFICULTY, MAX_DIFFICULTY = 1, 1_000_000_000
MIN_LIFETIME, MAX_LIFETIME = 10, 3600
MAX_NAME = 200
FALLBACK_MULTIPLE = 4  # the SHA-256 fallback costs 4x SHA-256's default base
FALLBACKS = ("sha256",)


class SiteError(ValueError):
    """Bad site input or an unknown site; the message says which."""


@dataclass(frozen=True)
class Site:
    sitekey: str
    name: str
    secret_hash: str
    hostnames: tuple[str, ...]
    difficulty: int
    token_lifetime: int
    require_remoteip: bool = False
    bind_ip: bool = False
    adaptive: bool = False  # per-source difficulty (docs/abuse.md); on for new sites
    max_difficulty: int | None = None  # the cap; None: abuse.difficulty's default
    prefix_v4: int = prefix.DEFAULT_V4
    prefix_v6: int = prefix.DEFAULT_V6
    allowlist: tuple[str, ...] = ()  # CIDRs that always get the base difficulty
    algorithm: str = algorithms.SHA256  # passgate.algorithms: what one attempt is
    fallback: str | None = None  # "sha256": browsers without WebAssembly get SHA-256

    @property
    def cap(self) -> int:
        """The site's highest difficulty (expected attempts of its algorithm): never below
        its base."""
        default = algorithms.get(self.algorithm).default_cap
        return max(self.difficulty, self.max_difficulty or default)

    def pricing(self, algorithm: str) -> tuple[int, int]:
        """(base, cap) in attempts of `algorithm`: the site's own, or for its SHA-256
        fallback FALLBACK_MULTIPLE times SHA-256's default base, capped at SHA-256's
        default cap (docs/abuse.md prices that door)."""
        if algorithm == self.algorithm:
            return self.difficulty, self.cap
        sha = algorithms.get(algorithms.SHA256)
        return FALLBACK_MULTIPLE * sha.default_difficulty, sha.default_cap

    def allows(self, host: str) -> bool:
        """The host is listed, or is a subdomain of a listed name."""
        host = host.lower().rstrip(".")
        return any(host == h or host.endswith("." + h) for h in self.hostnames)

    def secret_matches(self, secret: str) -> bool:
        return hmac.compare_digest(self.secret_hash, hash_secret(secret))

    def public(self) -> dict[str, object]:
        return {
            "sitekey": self.sitekey,
            "name": self.name,
            "hostnames": list(self.hostnames),
            "difficulty": self.difficulty,
            "token_lifetime": self.token_lifetime,
            "require_remoteip": self.require_remoteip,
            "bind_ip": self.bind_ip,
            "adaptive": self.adaptive,
            "max_difficulty": self.cap,
            "prefix_v4": self.prefix_v4,
            "prefix_v6": self.prefix_v6,
            "allowlist": list(self.allowlist),
            "algorithm": self.algorithm,
            "fallback": self.fallback,
        }


def hash_secret(secret: str) -> str:
    """Secrets carry 160 random bits, so one SHA-256 is enough to store them safely."""
    return hashlib.sha256(secret.encode()).hexdigest()


def new_secret() -> str:
    return "0x" + secrets.token_hex(20)


@functools.lru_cache(maxsize=4096)
def normalize_hostname(raw: str) -> str:
    host = raw.strip().lower().rstrip(".")
    if "://" in host or "/" in host or ":" in host.strip("[]") and not _is_ipv6(host):
        raise SiteError(f"not a hostname: {raw!r} (give a bare host like shop.example)")
    if not (HOSTNAME_RE.match(host) or _is_ipv6(host)):
        raise SiteError(f"not a hostname: {raw!r}")
    return host


def _is_ipv6(host: str) -> bool:
    import ipaddress

    try:
        ipaddress.IPv6Address(host.strip("[]"))
    except ValueError:
        return False
    return True


def check_name(name: str) -> str:
    """A site's label: at most MAX_NAME printable characters (no control characters, no
    lone surrogates). Raises SiteError."""
    if len(name) > MAX_NAME:
        raise SiteError(f"the name must be at most {MAX_NAME} characters")
    if not name.isprintable() or any(0xD800 <= ord(c) <= 0xDFFF for c in name):
        raise SiteError("the name must be printable text")
    return name


def _check_range(name: str, value: int, lo: int, hi: int) -> int:
    if not lo <= value <= hi:
        raise SiteError(f"{name} must be between {lo} and {hi}")
    return value


def _row_to_site(row: sa.Row[tuple[object, ...]]) -> Site:
    m = row._mapping
    return Site(
        sitekey=m["sitekey"],
        name=m["name"],
        secret_hash=m["secret_hash"],
        hostnames=tuple(json.loads(m["hostnames"])),
        difficulty=m["difficulty"],
        token_lifetime=m["token_lifetime"],
        require_remoteip=bool(m["require_remoteip"]),
        bind_ip=bool(m["bind_ip"]),
        adaptive=bool(m["adaptive"]),
        max_difficulty=m["max_difficulty"],
        prefix_v4=m["prefix_v4"],
        prefix_v6=m["prefix_v6"],
        allowlist=tuple(json.loads(m["allowlist"])),
        algorithm=m["algorithm"],
        fallback=m["fallback"],
    )


class SiteRegistry:
    """Reads and writes sites in the relational store."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(
        self,
        hostnames: list[str],
        name: str = "",
        difficulty: int = algorithms.ALGORITHMS[algorithms.SHA256].default_difficulty,
        token_lifetime: int = 120,
        sitekey: str | None = None,
        algorithm: str = algorithms.SHA256,
        fallback: str | None = None,
        **abuse: Any,
    ) -> tuple[Site, str]:
        """Create a site; returns it with its secret, which is not kept anywhere. `abuse`
        takes the keywords of `update`'s abuse settings; adaptation is on unless
        `adaptive=False`. `difficulty` counts attempts of `algorithm`."""
        if not hostnames:
            raise SiteError("a site needs at least one --hostname")
        secret = new_secret()
        site = Site(
            sitekey=sitekey or str(uuid.uuid4()),
            name=check_name(name),
            secret_hash=hash_secret(secret),
            hostnames=tuple(dict.fromkeys(normalize_hostname(h) for h in hostnames)),
            difficulty=_check_range("difficulty", difficulty, MIN_DIFFICULTY, MAX_DIFFICULTY),
            token_lifetime=_check_range(
                "token lifetime", token_lifetime, MIN_LIFETIME, MAX_LIFETIME
            ),
            adaptive=True,
        )
        site = replace(site, **_algorithm_changes(site, algorithm, fallback, reset=False))
        site = replace(site, **_abuse_changes(site, **abuse))
        with self.engine.begin() as conn:
            conn.execute(sites.insert().values(**_values(site), created_at=time.time()))
        return site, secret

    def get(self, sitekey: str) -> Site | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sites).where(sites.c.sitekey == sitekey)).first()
        return _row_to_site(row) if row else None

    def by_secret_hash(self, digest: str) -> Site | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(sites).where(sites.c.secret_hash == digest)).first()
        return _row_to_site(row) if row else None

    def all(self) -> list[Site]:
        with self.engine.connect() as conn:
            rows = conn.execute(sa.select(sites).order_by(sites.c.created_at)).all()
        return [_row_to_site(r) for r in rows]

    def require(self, sitekey: str) -> Site:
        site = self.get(sitekey)
        if site is None:
            raise SiteError(f"no site with sitekey {sitekey}")
        return site

    def update(
        self,
        sitekey: str,
        hostnames: list[str] | None = None,
        difficulty: int | None = None,
        token_lifetime: int | None = None,
        require_remoteip: bool | None = None,
        bind_ip: bool | None = None,
        name: str | None = None,
        algorithm: str | None = None,
        fallback: str | None = None,
        **abuse: Any,
    ) -> Site:
        """Change what is given (None leaves a setting as it is); `abuse` takes
        `adaptive`, `max_difficulty` (0 for the default cap), `prefix_v4`, `prefix_v6` and
        `allowlist` (a list of CIDRs, which replaces the old one). A new `algorithm` given
        without `difficulty` or `max_difficulty` resets both to its defaults; `fallback` is
        "sha256" or "none". Raises SiteError."""
        site = self.require(sitekey)
        changes: dict[str, object] = {}
        if hostnames:
            changes["hostnames"] = tuple(dict.fromkeys(normalize_hostname(h) for h in hostnames))
        if difficulty is not None:
            changes["difficulty"] = _check_range(
                "difficulty", difficulty, MIN_DIFFICULTY, MAX_DIFFICULTY
            )
        if token_lifetime is not None:
            changes["token_lifetime"] = _check_range(
                "token lifetime", token_lifetime, MIN_LIFETIME, MAX_LIFETIME
            )
        for key, value in (
            ("require_remoteip", require_remoteip),
            ("bind_ip", bind_ip),
            ("name", None if name is None else check_name(name)),
        ):
            if value is not None:
                changes[key] = value
        site = replace(site, **changes)  # type: ignore[arg-type]
        if algorithm is not None or fallback is not None:
            reset = algorithm is not None and difficulty is None
            switched = algorithm is not None and algorithm != site.algorithm
            if (reset or switched) and abuse.get("max_difficulty") is None:
                abuse["max_difficulty"] = 0  # the new algorithm's default cap: other units
            site = replace(
                site,
                **_algorithm_changes(site, algorithm or site.algorithm, fallback, reset=reset),
            )
        site = replace(site, **_abuse_changes(site, **abuse))
        self._save(site)
        return site

    def rotate_secret(self, sitekey: str) -> tuple[Site, str]:
        secret = new_secret()
        site = replace(self.require(sitekey), secret_hash=hash_secret(secret))
        self._save(site)
        return site, secret

    def remove(self, sitekey: str) -> None:
        with self.engine.begin() as conn:
            if conn.execute(sites.delete().where(sites.c.sitekey == sitekey)).rowcount == 0:
                raise SiteError(f"no site with sitekey {sitekey}")

    def _save(self, site: Site) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                sites.update().where(sites.c.sitekey == site.sitekey).values(**_values(site))
            )


def _algorithm_changes(
    site: Site, algorithm: str, fallback: str | None, reset: bool
) -> dict[str, Any]:
    """The algorithm and fallback fields; with `reset`, the algorithm's default difficulty."""
    try:
        alg = algorithms.get(algorithm)
    except algorithms.UnknownAlgorithm as exc:
        raise SiteError(str(exc)) from None
    changes: dict[str, Any] = {"algorithm": alg.name}
    if reset:
        changes["difficulty"] = alg.default_difficulty
    if fallback is not None:
        if fallback == "none":
            changes["fallback"] = None
        elif fallback in FALLBACKS:
            changes["fallback"] = fallback
        else:
            raise SiteError(f"fallback must be one of {', '.join(FALLBACKS)} or none")
    if alg.name == algorithms.SHA256:
        if changes.get("fallback"):
            raise SiteError("a SHA-256 site needs no fallback")
        changes["fallback"] = None
    return changes


def _abuse_changes(
    site: Site,
    adaptive: bool | None = None,
    max_difficulty: int | None = None,
    prefix_v4: int | None = None,
    prefix_v6: int | None = None,
    allowlist: list[str] | None = None,
) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    if adaptive is not None:
        changes["adaptive"] = adaptive
    if max_difficulty is not None:
        if max_difficulty == 0:
            changes["max_difficulty"] = None
        else:
            changes["max_difficulty"] = _check_range(
                "max difficulty", max_difficulty, MIN_DIFFICULTY, MAX_DIFFICULTY
            )
    try:
        v4, v6 = prefix.check_lengths(
            site.prefix_v4 if prefix_v4 is None else prefix_v4,
            site.prefix_v6 if prefix_v6 is None else prefix_v6,
        )
        if allowlist is not None:
            changes["allowlist"] = prefix.check_allowlist(allowlist)
    except prefix.PrefixError as exc:
        raise SiteError(str(exc)) from None
    changes["prefix_v4"], changes["prefix_v6"] = v4, v6
    cap = changes.get("max_difficulty", site.max_difficulty)
    if cap is not None and cap < site.difficulty:
        raise SiteError(
            f"max difficulty ({cap}) must not be below the difficulty ({site.difficulty})"
        )
    return changes


def _values(site: Site) -> dict[str, object]:
    return {
        "sitekey": site.sitekey,
        "name": site.name,
        "secret_hash": site.secret_hash,
        "hostnames": json.dumps(list(site.hostnames)),
        "difficulty": site.difficulty,
        "token_lifetime": site.token_lifetime,
        "require_remoteip": site.require_remoteip,
        "bind_ip": site.bind_ip,
        "adaptive": site.adaptive,
        "max_difficulty": site.max_difficulty,
        "prefix_v4": site.prefix_v4,
        "prefix_v6": site.prefix_v6,
        "allowlist": json.dumps(list(site.allowlist)),
        "algorithm": site.algorithm,
        "fallback": site.fallback,
    }
