"""Hot shared state in Redis: `RedisSpends`, the single-use spend set (safe against a Redis
that restarts empty), and `RedisRateLimiter`, the token API's grant buckets.

One Lua script does the whole spend atomically: check the epoch, then `SET key NX PX ttl`.

The epoch answers the restart question. Redis run as a cache (no RDB, no AOF) forgets every
spent key when it restarts, which would reopen spent tokens. So the script keeps
`passgate:epoch`, a key with no expiry: when it is missing, Redis has lost its data set
(restart, flush or failover to an empty replica), and the script starts a new epoch, whose
value is Redis's own clock (`TIME`, ms) plus a one-second margin.

What is minted names the epoch it was minted under: a token minted at `/1/solve` carries the
epoch its challenge was spent under, one minted by the token API the epoch read just before,
and a challenge the epoch this node last saw. A key that names an epoch is accepted only in
that epoch: a restart or flush starts a new one, so everything issued before it is refused
for good (`SpendRefused`: siteverify answers `expired-input-response`, the widget silently
asks for a fresh challenge), and everything minted after it verifies at once on every node,
however soon after the restart. A key that names another epoch, or none (issued by the
previous release), falls back to the clock: it is accepted only when issued after the
current epoch's value, which is as safe as the clock margin. A challenge issued by a node
that has not yet seen the new epoch (it looks every second) is refused once: the widget's
next `/1/challenge` asks with `renew`, and the node reads the epoch from Redis for it. No
spent token is ever accepted again.

Redis must not evict: `maxmemory-policy noeviction` (an evicted spend key would reopen its
token). A warning is logged at the first connection when the policy says otherwise.
"""

from __future__ import annotations

import logging
import math
import secrets
from typing import Any

import redis.asyncio as aioredis
from redis import exceptions as rerr
from redis.asyncio.retry import Retry
from redis.backoff import NoBackoff
from redis.exceptions import RedisError, ResponseError

from passgate.store import SpendRefused, StoreUnavailable
from passgate.tokenapi.ratelimit import Take

log = logging.getLogger("passgate.store")

SOCKET_TIMEOUT = 1.0  # seconds; an unreachable Redis fails a request closed within this
MAX_CONNECTIONS = 64
PREFIX = "passgate:"
EPOCH_KEY = PREFIX + "epoch"
EPOCH_MARGIN_MS = 1000  # unbound keys: refuse what nodes issued up to a second after it began
TTL_MARGIN_MS = 60_000  # keys outlive their token by a minute, for clock skew across nodes
MAX_LIFETIME = 3600  # a site's longest token lifetime: the conservative issue time

# KEYS[1] epoch key, KEYS[2] spend key; ARGV[1] issued (ms), ARGV[2] expiry (ms),
# ARGV[3] epoch margin (ms), ARGV[4] TTL margin (ms), ARGV[5] this call's nonce (the value
# stored, so a retry of a call whose reply was lost still wins), ARGV[6] the epoch the key
# was minted under, or "" when it names none. A key is checked when it names the current
# epoch, or was issued after the epoch began (its margin included). Returns {result,
# epoch}: result 1 first use, 0 used, -1 minted before the current epoch.
SPEND_LUA = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000)
local epoch = tonumber(redis.call('GET', KEYS[1]))
if not epoch then
  epoch = now + tonumber(ARGV[3])
  redis.call('SET', KEYS[1], epoch)
end
if tonumber(ARGV[1]) < epoch and tonumber(ARGV[6] ~= '' and ARGV[6] or -1) ~= epoch then
  return {-1, epoch}
end
local ttl = tonumber(ARGV[2]) - now + tonumber(ARGV[4])
if ttl < 1000 then
  ttl = 1000
end
if redis.call('SET', KEYS[2], ARGV[5], 'NX', 'PX', ttl) then
  return {1, epoch}
end
if redis.call('GET', KEYS[2]) == ARGV[5] then
  return {1, epoch}
end
return {0, epoch}
"""

EPOCH_LUA = """
local epoch = redis.call('GET', KEYS[1])
if not epoch then
  local t = redis.call('TIME')
  epoch = tonumber(t[1]) * 1000 + math.floor(tonumber(t[2]) / 1000) + tonumber(ARGV[1])
  redis.call('SET', KEYS[1], epoch)
end
return epoch
"""


def connect(url: str) -> aioredis.Redis:
    """A client with small timeouts, a bounded pool and one retry on a broken connection
    (a pooled connection to a Redis that has since restarted fails once, then reconnects).
    Timeouts are not retried, so a request waits about a second at most. A retried spend is
    safe: the script recognizes its own nonce.
    """
    pool = aioredis.BlockingConnectionPool.from_url(
        url,
        max_connections=MAX_CONNECTIONS,
        timeout=SOCKET_TIMEOUT,
        socket_timeout=SOCKET_TIMEOUT,
        socket_connect_timeout=SOCKET_TIMEOUT,
        retry=Retry(NoBackoff(), 1, supported_errors=(rerr.ConnectionError,)),
        health_check_interval=10,
    )
    return aioredis.Redis(connection_pool=pool)


class RedisSpends:
    def __init__(self, url: str) -> None:
        self.client = connect(url)
        self._spend = self.client.register_script(SPEND_LUA)
        self._epoch = self.client.register_script(EPOCH_LUA)
        self._checked_policy = False
        self.epoch_ms: int | None = None  # the epoch this node last saw

    async def spend(
        self,
        key: str,
        expires_at: float,
        issued_at: float | None = None,
        epoch: int | None = None,
    ) -> bool:
        """First use wins; raises SpendRefused for keys minted under an earlier epoch (or,
        naming none, issued before Redis last restarted)."""
        if issued_at is None:
            issued_at = expires_at - MAX_LIFETIME
        args: list[int | str] = [
            int(issued_at * 1000),
            int(expires_at * 1000),
            EPOCH_MARGIN_MS,
            TTL_MARGIN_MS,
            secrets.token_hex(8),
            "" if epoch is None else int(epoch),
        ]
        try:
            result, current = await self._spend(
                keys=[EPOCH_KEY, PREFIX + "spent:" + key], args=args
            )
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis: {type(exc).__name__}: {exc}") from None
        self.epoch_ms = int(current)
        if not self._checked_policy:
            await self._check_policy()
        if result == -1:
            raise SpendRefused("minted before Redis's current epoch (Redis restarted empty)")
        return bool(result == 1)

    async def prune(self, now: float) -> int:
        return 0  # keys carry their own expiry

    async def ping(self) -> None:
        """Reachable and writable, with the epoch in place."""
        await self.current_epoch()

    async def epoch(self) -> float:
        """The current epoch's value, in unix seconds (started now if Redis has none)."""
        return await self.current_epoch() / 1000

    async def current_epoch(self) -> int:
        """The current epoch (ms), read from Redis now, started if Redis has none; what a
        token minted now binds. Raises StoreUnavailable."""
        try:
            value: Any = await self._epoch(keys=[EPOCH_KEY], args=[EPOCH_MARGIN_MS])
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis: {type(exc).__name__}: {exc}") from None
        self.epoch_ms = int(value)
        return self.epoch_ms

    async def close(self) -> None:
        try:
            await self.client.aclose()
        except (RedisError, OSError):
            pass

    async def _check_policy(self) -> None:
        self._checked_policy = True
        try:
            policy = (await self.client.config_get("maxmemory-policy")).get("maxmemory-policy")
        except (ResponseError, RedisError, OSError):
            return  # CONFIG may be disabled (managed Redis); docs/deploy.md says what to set
        if policy not in (None, "noeviction"):
            log.warning(
                "Redis maxmemory-policy is %s: evicted spend keys would reopen spent tokens; "
                "set it to noeviction",
                policy,
            )


# KEYS[1] the bucket; ARGV rate per minute, burst, now (seconds). The arithmetic is
# passgate.tokenapi.ratelimit.spend's, in Lua, so the bucket moves atomically in Redis.
TAKE_LUA = """
local rate = tonumber(ARGV[1])
local burst = tonumber(ARGV[2])
local now = tonumber(ARGV[3])
local held = redis.call('HMGET', KEYS[1], 'tokens', 'at')
local tokens, at
if not held[1] then
  tokens = burst
  at = now
else
  local before = tonumber(held[2])
  at = math.max(now, before)
  tokens = math.min(burst, tonumber(held[1]) + math.max(0, now - before) * rate / 60)
end
local allowed = 0
local wait = 0
if tokens >= 1 then
  tokens = tokens - 1
  allowed = 1
elseif rate > 0 then
  wait = (1 - tokens) * 60 / rate
else
  wait = -1
end
redis.call('HSET', KEYS[1], 'tokens', string.format('%.17g', tokens),
  'at', string.format('%.17g', at))
local full = 31536000
if rate > 0 then
  full = (burst - tokens) * 60 / rate
end
redis.call('PEXPIRE', KEYS[1], math.ceil((at - now + full) * 1000) + 1000)
return {allowed, string.format('%.17g', wait)}
"""


class RedisRateLimiter:
    """Grant buckets in Redis: one limit across every node. Idle buckets expire by
    themselves once full again. Shares RedisSpends's client (its pool and timeouts)."""

    def __init__(self, client: aioredis.Redis) -> None:
        self.client = client
        self._take = client.register_script(TAKE_LUA)

    async def take(self, bucket: str, rate_per_min: float, burst: int, now: float) -> Take:
        args: list[int | str] = [repr(float(rate_per_min)), int(burst), repr(float(now))]
        try:
            allowed, wait = await self._take(keys=[PREFIX + "bucket:" + bucket], args=args)
        except (RedisError, OSError) as exc:
            raise StoreUnavailable(f"Redis: {type(exc).__name__}: {exc}") from None
        if allowed == 1:
            return Take(True)
        seconds = float(wait)
        return Take(False, math.inf if seconds < 0 else seconds)

    async def prune(self, now: float) -> int:
        return 0  # buckets carry their own expiry

    async def close(self) -> None:
        return None  # the client belongs to RedisSpends
