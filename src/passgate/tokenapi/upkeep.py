"""The token API's background work inside the server process: the job worker, and pruning
of records, finished jobs and idle rate buckets past their time."""

from __future__ import annotations

import asyncio
import logging
import time

from passgate.service import Service
from passgate.sites import MAX_LIFETIME
from passgate.store import StoreUnavailable
from passgate.tokenapi import db, jobs
from passgate.tokenapi.jobs import JobStore
from passgate.tokenapi.records import RecordLog

log = logging.getLogger("passgate.tokenapi")

POLL_SECONDS = 0.5
PRUNE_SECONDS = 300.0


async def prune(service: Service, now: float) -> None:
    """Forget records and ended jobs older than the retention period, the tokens of jobs
    finished longer ago than any token lives, and idle buckets."""
    cutoff = now - service.config.record_retention_days * 86_400
    await db.run(RecordLog(service.engine).prune, cutoff)
    await db.run(JobStore(service.engine).prune, cutoff)
    await db.run(JobStore(service.engine).forget_tokens, now - MAX_LIFETIME)
    await service.limiter.prune(now)


async def run(service: Service) -> None:
    """Work due jobs every half second (jobs left by a previous process included) and
    prune every few minutes, forever; one failure never stops it."""
    pruned_at = 0.0
    while True:
        try:
            now = time.time()
            await jobs.work(service, now)
            if now - pruned_at >= PRUNE_SECONDS:
                pruned_at = now
                await prune(service, now)
        except StoreUnavailable as exc:
            log.warning("token API upkeep: store unavailable: %s", exc)
        except Exception:  # noqa: BLE001 - the worker must outlive any one failure
            log.exception("token API upkeep failed")
        await asyncio.sleep(POLL_SECONDS)
