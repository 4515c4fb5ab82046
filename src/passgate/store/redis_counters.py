"""The abuse counters (abuse.counters) in Redis, beside the spend set: one history for every
node, in little memory.

Layout. A prefix hash (16 hex chars) lives in a bucket hash named by its first 4 hex chars,
`passgate:abuse:{4 hex}` (65,536 buckets), under a field of its remaining 6 bytes (raw),
valued `struct.pack('<ddd', solved, issued, at)`: 24 bytes of IEEE doubles, the very numbers
SQLite stores. Buckets stay small (15 fields each at 10^6 live prefixes), so Redis keeps them
listpack-encoded (`hash-max-listpack-entries` 128 or more, `-value` 64, the defaults; a
warning is logged otherwise): 46 MiB of Redis memory for 10^6 live prefixes, 82 MiB at the
default cap of 2 x 10^6, where a key per prefix would take over 150 bytes each. Every write
refreshes its bucket's expiry to RETENTION, so a bucket nobody touched for an hour vanishes
by itself.

Counting. `passgate:abuse:n` holds the number of live prefixes, and `passgate:abuse:groups`
the same number per group of 16 buckets (the first 3 hex chars): a script that creates a
field increments both. Pruning goes group by group, one script each: it deletes the fields
decayed below QUIET (or unused for RETENTION), counts what the group's buckets hold, and
moves both counts by the difference, so a bucket that expired on its own is accounted for at
the next prune, and the counts never drift. The cap reads `passgate:abuse:n`: a charge whose
prefix is new and finds `max_entries` live is refused (`Full`) before it writes anything.

Every add is one Lua script, atomic, decaying and adding exactly as SQLite's upsert does
(exp(-dt / TAU), `at` the later of the two), so nodes never overwrite each other. Reads are
two HGETs and never write: /1/challenge works on a Redis that is out of memory. (A charge
whose reply is lost to a broken connection is retried once by the client, like a spend, and
may then count twice: a count, never a gate.) Counts come
back as `%.17g` text (Lua would truncate numbers to integers). Pruning scans all 4,096
groups in pipelined scripts of 16 buckets each (a fraction of a millisecond of Redis time
apiece), and runs on one node per `prune_gap` seconds (`passgate:abuse:pruning`).
"""

from __future__ import annotations

import logging
import math
import struct
from typing import Any

import redis.asyncio as aioredis
from redis.exceptions import RedisError

from passgate.abuse.counters import (
    DEFAULT_MAX_ENTRIES,
    NEW_FROM_ISSUES,
    QUIET,
    QUIET_HISTORY,
    RETENTION,
    SPREAD,
    Full,
    History,
    IssueBuffer,
)
from passgate.abuse.difficulty import TAU, decay
from passgate.abuse.prefix import Source
from passgate.store import StoreUnavailable
from passgate.store.redis import PREFIX

log = logging.getLogger("passgate.store")

ABUSE = PREFIX + "abuse:"
LIVE_KEY = ABUSE + "n"
GROUPS_KEY = ABUSE + "groups"
PRUNING_KEY = ABUSE + "pruning"
BUCKET_CHARS = 4  # 65,536 buckets
GROUP_CHARS = 3  # 4,096 groups of 16 buckets: one prune script each
FLUSH_CHUNK = 1000  # issued counts per flush script
PRUNE_PIPELINE = 64  # prune scripts per round trip
MIN_LISTPACK_ENTRIES = 64  # buckets hold 30 on average at the default cap of 2 x 10^6
PRUNE_GAP = 20.0  # seconds: one node prunes, the others skip until this has passed
MEMORY_SHARE = 0.9  # of Redis's maxmemory, past which no new entry is created
_ROW = struct.Struct("<ddd")

# The add every script shares: decays the field to `now` and adds; creates it (counting it)
# when missing. KEYS[1] is the live count, KEYS[2] the group counts.
_ADD_LUA = """
local now = tonumber(ARGV[1])
local function add(bucket, field, group, solved, issued)
  local held = redis.call('HGET', bucket, field)
  local s, i, at = 0, 0, now
  if held then
    s, i, at = struct.unpack('<ddd', held)
    if now > at then
      local f = math.exp(-(now - at) / TAU)
      s, i, at = s * f, i * f, now
    end
  else
    redis.call('INCR', KEYS[1])
    redis.call('HINCRBY', KEYS[2], group, 1)
  end
  s, i = s + solved, i + issued
  redis.call('HSET', bucket, field, struct.pack('<ddd', s, i, at))
  redis.call('EXPIRE', bucket, RETENTION)
  return s, i
end
local function fmt(x)
  return string.format('%.17g', x)
end
"""

# KEYS[3] the prefix's bucket, KEYS[4] the parent's; ARGV[1] now, ARGV[2] max entries,
# ARGV[3..6] prefix field, prefix group, parent field, parent group. Returns the prefix's
# and the parent's counts after, or nil (nothing written) when the prefix is new and the
# counters are full.
CHARGE_LUA = (
    _ADD_LUA
    + """
if redis.call('HEXISTS', KEYS[3], ARGV[3]) == 0
    and tonumber(redis.call('GET', KEYS[1]) or 0) >= tonumber(ARGV[2]) then
  return nil
end
local s1, i1 = add(KEYS[3], ARGV[3], ARGV[4], 1, 0)
local s2, i2 = add(KEYS[4], ARGV[5], ARGV[6], (s1 <= SPREAD) and 1 or 0, 0)
return {fmt(s1), fmt(i1), fmt(s2), fmt(i2)}
"""
)

# KEYS[3..] one bucket per entry; ARGV[1] now, ARGV[2] max entries, then field, group and
# count per entry. A new prefix is recorded only while the counters are not full. Returns
# the live count after.
FLUSH_LUA = (
    _ADD_LUA
    + """
local live = tonumber(redis.call('GET', KEYS[1]) or 0)
local most = tonumber(ARGV[2])
for j = 3, #KEYS do
  local a = 3 * j - 6
  local field = ARGV[a]
  if redis.call('HEXISTS', KEYS[j], field) == 1 then
    add(KEYS[j], field, ARGV[a + 1], 0, tonumber(ARGV[a + 2]))
  elseif live < most and tonumber(ARGV[a + 2]) >= NEW_FROM_ISSUES then
    add(KEYS[j], field, ARGV[a + 1], 0, tonumber(ARGV[a + 2]))
    live = live + 1
  end
end
return live
"""
)

# KEYS[1] live count, KEYS[2] group counts, KEYS[3..] the group's buckets; ARGV[1] now,
# ARGV[2] the group. Deletes the quiet fields, recounts the group, returns how many went.
# (On a Redis out of memory the deletions still run and the count update fails: the next
# prune of the group, which recounts it, puts the counts right.)
PRUNE_LUA = """
local now = tonumber(ARGV[1])
local removed, held = 0, 0
for j = 3, #KEYS do
  local all = redis.call('HGETALL', KEYS[j])
  local gone = {}
  for k = 1, #all, 2 do
    local s, i, at = struct.unpack('<ddd', all[k + 1])
    if now > at then
      local f = math.exp(-(now - at) / TAU)
      s, i = s * f, i * f
    end
    if now - at > RETENTION or math.max(s, i) < QUIET then
      gone[#gone + 1] = all[k]
    end
  end
  for k = 1, #gone, 256 do
    redis.call('HDEL', KEYS[j], unpack(gone, k, math.min(k + 255, #gone)))
  end
  removed = removed + #gone
  held = held + #all / 2 - #gone
end
local before = tonumber(redis.call('HGET', KEYS[2], ARGV[2]) or 0)
if held ~= before then
  if held == 0 then
    redis.call('HDEL', KEYS[2], ARGV[2])
  else
    redis.call('HSET', KEYS[2], ARGV[2], held)
  end
  redis.call('INCRBY', KEYS[1], held - before)
end
return removed
"""

# KEYS[1] live count, KEYS[2] group counts: the total made the sum of the groups again (a
# no-op unless the total was lost on its own). Returns it.
RECOUNT_LUA = """
local total = 0
for _, v in ipairs(redis.call('HVALS', KEYS[2])) do
  total = total + tonumber(v)
end
if tonumber(redis.call('GET', KEYS[1]) or 0) ~= total then
  redis.call('SET', KEYS[1], total)
end
return total
"""


def _script(text: str) -> str:
    return (
        text.replace("TAU", repr(float(TAU)))
        .replace("RETENTION", str(math.ceil(RETENTION)))
        .replace("QUIET", repr(float(QUIET)))
        .replace("SPREAD", repr(float(SPREAD)))
        .replace("NEW_FROM_ISSUES", repr(float(NEW_FROM_ISSUES)))
    )


def _place(key: str) -> tuple[str, bytes, str]:
    """A prefix hash -> its bucket key, field and group."""
    return ABUSE + key[:BUCKET_CHARS], bytes.fromhex(key[BUCKET_CHARS:]), key[:GROUP_CHARS]


def _unavailable(exc: BaseException) -> StoreUnavailable:
    return StoreUnavailable(f"Redis: {type(exc).__name__}: {exc}")


class RedisCounters:
    """Counters in Redis, shared by every node. Shares RedisSpends's client (its pool and
    timeouts); every call fails closed (StoreUnavailable) when Redis does not answer."""

    def __init__(
        self,
        client: aioredis.Redis,
        max_entries: int = DEFAULT_MAX_ENTRIES,
        prune_gap: float = PRUNE_GAP,
    ) -> None:
        self.client = client
        self.max_entries = max_entries
        self.prune_gap = prune_gap
        self.buffer = IssueBuffer()
        self._full = False  # `max_entries` live, as of the last flush or prune (no I/O)
        self.tight = False  # Redis near its maxmemory: no new entries (spends come first)
        self._checked_config = False
        self._charge = client.register_script(_script(CHARGE_LUA))
        self._flush = client.register_script(_script(FLUSH_LUA))
        self._prune = client.register_script(_script(PRUNE_LUA))
        self._recount = client.register_script(RECOUNT_LUA)

    async def read(self, source: Source, now: float) -> tuple[History, History]:
        prefix, parent = _place(source.prefix), _place(source.parent)
        try:
            async with self.client.pipeline(transaction=False) as pipe:
                pipe.hget(prefix[0], prefix[1])
                pipe.hget(parent[0], parent[1])
                rows = await pipe.execute()
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from None
        return _history(rows[0], now), _history(rows[1], now)

    async def charge(self, source: Source, now: float) -> tuple[History, History]:
        (pb, pf, pg), (qb, qf, qg) = _place(source.prefix), _place(source.parent)
        args: list[Any] = [repr(float(now)), self._room(), pf, pg, qf, qg]
        try:
            after = await self._charge(keys=[LIVE_KEY, GROUPS_KEY, pb, qb], args=args)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from None
        if after is None:
            self._full = self._full or not self.tight
            raise Full("the abuse counters are full")
        s1, i1, s2, i2 = (float(x) for x in after)
        return History(s1, i1), History(s2, i2)

    @property
    def full(self) -> bool:
        """No new source can be tracked: `max_entries` live, or Redis near its maxmemory."""
        return self._full or self.tight

    def _room(self) -> int:
        """The most live entries a script may reach: none new while Redis is tight."""
        return 0 if self.tight else int(self.max_entries)

    async def _check_memory(self) -> None:
        """Redis near its `maxmemory` (over MEMORY_SHARE of it): stop creating entries, so
        that counters never take the memory a spend needs under `noeviction`; updates of
        existing entries keep their size. Checked at every flush (once a second)."""
        info = await self.client.info("memory")
        limit = int(info.get("maxmemory", 0) or 0)
        tight = limit > 0 and int(info.get("used_memory", 0)) > MEMORY_SHARE * limit
        if tight and not self.tight:
            log.warning(
                "Redis is over %d%% of its maxmemory: the abuse counters track no new "
                "networks until it is not (new ones are priced at the site's cap)",
                int(MEMORY_SHARE * 100),
            )
        self.tight = tight

    def issued(self, source: Source) -> None:
        self.buffer.add(source.prefix)

    async def flush(self, now: float) -> None:
        try:
            await self._check_memory()
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from None
        taken = self.buffer.take()
        items = sorted(taken.items())
        for start in range(0, len(items), FLUSH_CHUNK):
            chunk = items[start : start + FLUSH_CHUNK]
            keys: list[Any] = [LIVE_KEY, GROUPS_KEY]
            args: list[Any] = [repr(float(now)), self._room()]
            for key, n in chunk:
                bucket, field, group = _place(key)
                keys.append(bucket)
                args += [field, group, repr(float(n))]
            try:
                live = await self._flush(keys=keys, args=args)
            except (RedisError, OSError) as exc:
                self.buffer.give_back(dict(items[start:]))  # what did not reach Redis
                raise _unavailable(exc) from None
            self._full = int(live) >= self.max_entries

    async def prune(self, now: float) -> int:
        """One pass over every group, unless another node pruned within `prune_gap`."""
        removed = 0
        try:
            if not self._checked_config:
                await self._check_config()
            if self.prune_gap <= 0 or await self.client.set(
                PRUNING_KEY, "1", nx=True, px=max(1, int(self.prune_gap * 1000))
            ):
                removed = await self._prune_all(now)
                live = await self._recount(keys=[LIVE_KEY, GROUPS_KEY])
            else:
                live = await self.client.get(LIVE_KEY)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from None
        self._full = int(live or 0) >= self.max_entries
        return removed

    async def _prune_all(self, now: float) -> int:
        removed = 0
        groups = 16**GROUP_CHARS
        for first in range(0, groups, PRUNE_PIPELINE):
            async with self.client.pipeline(transaction=False) as pipe:
                for g in range(first, min(first + PRUNE_PIPELINE, groups)):
                    group = f"{g:0{GROUP_CHARS}x}"
                    buckets = [f"{ABUSE}{group}{d:x}" for d in range(16)]
                    await self._prune(
                        keys=[LIVE_KEY, GROUPS_KEY, *buckets],
                        args=[repr(float(now)), group],
                        client=pipe,
                    )
                removed += sum(int(n) for n in await pipe.execute())
        return removed

    async def _check_config(self) -> None:
        """Warn once when buckets would not stay listpack-encoded (several times the
        memory). CONFIG may be disabled (managed Redis): then nothing is said."""
        self._checked_config = True
        try:
            conf = await self.client.config_get("hash-max-*")
        except RedisError:
            return
        entries = conf.get("hash-max-listpack-entries", conf.get("hash-max-ziplist-entries"))
        value = conf.get("hash-max-listpack-value", conf.get("hash-max-ziplist-value"))
        if (entries is not None and int(entries) < MIN_LISTPACK_ENTRIES) or (
            value is not None and int(value) < _ROW.size
        ):
            log.warning(
                "Redis hash-max-listpack-entries is %s and -value %s: the abuse counters "
                "need at least %d and %d to stay compact (about 46 MB per 10^6 prefixes)",
                entries,
                value,
                MIN_LISTPACK_ENTRIES,
                _ROW.size,
            )

    async def live(self) -> int:
        try:
            value = await self.client.get(LIVE_KEY)
        except (RedisError, OSError) as exc:
            raise _unavailable(exc) from None
        return max(0, int(value or 0))

    async def close(self) -> None:
        return None  # the client belongs to RedisSpends


def _history(raw: bytes | None, now: float) -> History:
    if raw is None:
        return QUIET_HISTORY
    solved, issued, at = _ROW.unpack(raw)
    return History(decay(solved, at, now), decay(issued, at, now))
