"""Durable token jobs: stored before `createJob` answers, worked by the worker inside the
server process, and so carried across restarts.

A job is `running` until it is minted (`success`) or refused (`fail`). An attempt claims the
job for a short lease, so workers in several processes never mint one job twice; a job over
its grant's rate is released with its next attempt set for when the bucket has a token, and
fails when its deadline passes first.
"""

from __future__ import annotations

import logging
import secrets
import time
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from passgate.service import Service
from passgate.store import StoreUnavailable
from passgate.store.schema import token_jobs, token_records
from passgate.tokenapi import db, issue
from passgate.tokenapi.apikeys import ApiKeyRegistry
from passgate.tokenapi.outcomes import (
    DEADLINE_PASSED,
    OK,
    RATE_LIMITED,
    REVOKED_KEY,
    STORE_UNAVAILABLE,
    UNKNOWN_KEY,
    Refusal,
)
from passgate.tokenapi.records import Record

log = logging.getLogger("passgate.jobs")

LEASE_SECONDS = 10.0
DUE_BATCH = 100
MIN_ID, MAX_ID = 100_000, 2**31 - 1  # fits every client's integer type

RUNNING, SUCCESS, FAIL = "running", "success", "fail"


@dataclass(frozen=True)
class Job:
    id: int
    key_id: int
    record_id: str
    sitekey: str
    hostname: str  # the referer's host, checked again at minting
    created_at: float
    deadline_at: float
    next_attempt_at: float
    rqdata: str | None = None
    bound_ip: str | None = None
    invisible: bool = False
    need_ekey: bool = False
    action: str | None = None  # bound into the token (migration 0009)
    cdata: str | None = None  # bound into the token (migration 0009)
    status: str = RUNNING
    result: str = ""
    ekey: str | None = None
    outcome: str | None = None
    claimed_until: float | None = None
    finished_at: float | None = None

    def status_at(self, now: float) -> str:
        """The status a poll sees: a running job past its deadline has failed."""
        if self.status == RUNNING and now >= self.deadline_at:
            return FAIL
        return self.status


class JobStore:
    """Reads and writes jobs (and their records) in the relational store."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def create(self, job: Job, record: Record) -> Job:
        """Store a job and its record in one transaction, under a fresh random id."""
        for _ in range(5):
            candidate = Job(**{**asdict(job), "id": MIN_ID + secrets.randbelow(MAX_ID - MIN_ID)})
            try:
                with self.engine.begin() as conn:
                    conn.execute(token_jobs.insert().values(**asdict(candidate)))
                    conn.execute(
                        token_records.insert().values(**{**asdict(record), "job_id": candidate.id})
                    )
            except sa.exc.IntegrityError:
                continue
            return candidate
        raise StoreUnavailable("no free job id")

    def get(self, job_id: int) -> Job | None:
        with self.engine.connect() as conn:
            row = conn.execute(sa.select(token_jobs).where(token_jobs.c.id == job_id)).first()
        return Job(**row._mapping) if row else None

    def due(self, now: float, limit: int = DUE_BATCH) -> list[int]:
        """Running jobs whose next attempt is due and that nobody holds."""
        c = token_jobs.c
        query = (
            sa.select(c.id)
            .where(
                c.status == RUNNING,
                c.next_attempt_at <= now,
                sa.or_(c.claimed_until.is_(None), c.claimed_until < now),
            )
            .order_by(c.next_attempt_at, c.id)
            .limit(limit)
        )
        with self.engine.connect() as conn:
            return [r[0] for r in conn.execute(query)]

    def claim(self, job_id: int, now: float) -> Job | None:
        """Hold a running job for one attempt; None when it ended or another worker holds it."""
        c = token_jobs.c
        with self.engine.begin() as conn:
            held = conn.execute(
                token_jobs.update()
                .where(
                    c.id == job_id,
                    c.status == RUNNING,
                    sa.or_(c.claimed_until.is_(None), c.claimed_until < now),
                )
                .values(claimed_until=now + LEASE_SECONDS)
            ).rowcount
            if not held:
                return None
            row = conn.execute(sa.select(token_jobs).where(c.id == job_id)).first()
        return Job(**row._mapping) if row else None

    def release(self, job_id: int, next_attempt_at: float) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                token_jobs.update()
                .where(token_jobs.c.id == job_id, token_jobs.c.status == RUNNING)
                .values(claimed_until=None, next_attempt_at=next_attempt_at)
            )

    def finish(
        self,
        job: Job,
        now: float,
        outcome: str,
        result: str = "",
        ekey: str | None = None,
        token_id: str | None = None,
    ) -> bool:
        """End a running job and update its record; False if it had ended already."""
        c = token_jobs.c
        status = SUCCESS if outcome == OK.code else FAIL
        with self.engine.begin() as conn:
            done = conn.execute(
                token_jobs.update()
                .where(c.id == job.id, c.status == RUNNING)
                .values(
                    status=status,
                    result=result,
                    ekey=ekey,
                    outcome=outcome,
                    finished_at=now,
                    claimed_until=None,
                )
            ).rowcount
            if done:
                conn.execute(
                    token_records.update()
                    .where(token_records.c.id == job.record_id)
                    .values(outcome=outcome, token_id=token_id)
                )
        return bool(done)

    def expire(self, now: float) -> int:
        """Fail every running job past its deadline (and update their records)."""
        c = token_jobs.c
        with self.engine.begin() as conn:
            late = conn.execute(
                sa.select(c.id, c.record_id).where(c.status == RUNNING, c.deadline_at <= now)
            ).all()
            for job_id, record_id in late:
                conn.execute(
                    token_jobs.update()
                    .where(c.id == job_id, c.status == RUNNING)
                    .values(
                        status=FAIL,
                        outcome=DEADLINE_PASSED.code,
                        finished_at=now,
                        claimed_until=None,
                    )
                )
                conn.execute(
                    token_records.update()
                    .where(token_records.c.id == record_id)
                    .values(outcome=DEADLINE_PASSED.code)
                )
        return len(late)

    def forget_tokens(self, finished_before: float) -> int:
        """Blank the tokens of jobs finished before then: expired, they need not be kept."""
        c = token_jobs.c
        with self.engine.begin() as conn:
            return conn.execute(
                token_jobs.update()
                .where(c.status == SUCCESS, c.finished_at < finished_before, c.result != "")
                .values(result="", ekey=None)
            ).rowcount

    def prune(self, older_than: float) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                token_jobs.delete().where(
                    token_jobs.c.status != RUNNING, token_jobs.c.created_at < older_than
                )
            ).rowcount


async def attempt(service: Service, job_id: int, now: float | None = None) -> str | None:
    """Try once to mint for a job; returns its status after, or None if it was not ours."""
    store = JobStore(service.engine)
    now = time.time() if now is None else now
    job = await db.write(store.engine, store.claim, job_id, now)
    if job is None:
        return None
    if now >= job.deadline_at:
        await db.write(store.engine, store.finish, job, now, DEADLINE_PASSED.code)
        return FAIL
    try:
        key = await db.run(ApiKeyRegistry(service.engine).by_id, job.key_id)
        if key is None:
            raise Refusal(UNKNOWN_KEY)
        if not key.active:
            raise Refusal(REVOKED_KEY)
        permit = await issue.authorize(service, key, job.sitekey, "https://" + job.hostname, now)
        await issue.take(service, permit, now)
        minted = await issue.mint(
            service,
            permit,
            now,
            rqdata=job.rqdata,
            invisible=job.invisible,
            bound_ip=job.bound_ip,
            action=job.action,
            cdata=job.cdata,
        )
    except Refusal as exc:
        if exc.outcome is RATE_LIMITED:
            await db.write(
                store.engine, store.release, job.id, min(now + exc.retry_after, job.deadline_at)
            )
            return RUNNING
        if exc.outcome is STORE_UNAVAILABLE:
            raise StoreUnavailable("store unavailable") from None  # the lease lapses; retried
        await db.write(store.engine, store.finish, job, now, exc.outcome.code)
        service.stats.tokenapi(key.name if key else None, "", exc.outcome.code, now)
        return FAIL
    ekey = minted.ekey if job.need_ekey else None
    await db.write(
        store.engine, store.finish, job, now, OK.code, minted.token, ekey, minted.token_id
    )
    service.stats.tokenapi(key.name, job.sitekey if permit.site else "", OK.code, now)
    return SUCCESS


async def work(service: Service, now: float | None = None) -> int:
    """One pass of the worker: fail late jobs, attempt due ones. Returns attempts made."""
    store = JobStore(service.engine)
    now = time.time() if now is None else now
    await db.write(store.engine, store.expire, now)
    due = await db.run(store.due, now)
    for job_id in due:
        try:
            await attempt(service, job_id, now)
        except StoreUnavailable as exc:
            log.warning("job %d: store unavailable (%s); retried after its lease", job_id, exc)
    return len(due)
