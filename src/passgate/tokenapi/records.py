"""Records: one per token-API call (key, sitekey, referer host, Developer-Id, outcome, cost,
time), visible to the key that made it, pruned after the retention period. Job polls are
not records; a job's record is updated when the job ends."""

from __future__ import annotations

import secrets
import time
from dataclasses import asdict, dataclass

import sqlalchemy as sa

from passgate.store.schema import token_records
from passgate.tokenapi.apikeys import ApiKey
from passgate.tokenapi.fields import TokenRequest
from passgate.tokenapi.grants import iso

MAX_LIST = 1000


@dataclass(frozen=True)
class Record:
    id: str
    kind: str  # "universal" or "job"
    outcome: str  # "ok", or the refusal's code
    http_status: int
    cost_ms: float
    created_at: float
    key_id: int | None = None
    key_name: str | None = None
    sitekey: str | None = None
    referer_host: str | None = None
    developer_id: str | None = None
    domain: str | None = None
    region: str | None = None
    proxy_ip: str | None = None
    job_id: int | None = None
    token_id: str | None = None  # the minted token's id (jti), never the token

    def public(self) -> dict[str, object]:
        body = asdict(self)
        del body["key_id"]
        body["key"] = body.pop("key_name")
        body["created_at"] = iso(self.created_at)
        body["cost"] = f"{self.cost_ms:.2f}ms"
        del body["cost_ms"]
        return body


def new_id() -> str:
    return secrets.token_hex(16)


def call_record(
    record_id: str,
    kind: str,
    outcome: str,
    http_status: int,
    started: float,
    now: float,
    key: ApiKey | None,
    req: TokenRequest | None,
    developer_id: str | None,
    token_id: str | None = None,
) -> Record:
    """The record of one token-API call, from what the call had learnt when it ended."""
    return Record(
        id=record_id,
        kind=kind,
        outcome=outcome,
        http_status=http_status,
        cost_ms=(time.perf_counter() - started) * 1000,
        created_at=now,
        key_id=key.id if key else None,
        key_name=key.name if key else None,
        sitekey=req.sitekey if req else None,
        referer_host=req.referer_host if req else None,
        developer_id=developer_id,
        domain=req.domain if req else None,
        region=req.region if req else None,
        proxy_ip=req.proxy_ip if req else None,
        token_id=token_id,
    )


class RecordLog:
    """Reads and writes records in the relational store."""

    def __init__(self, engine: sa.Engine) -> None:
        self.engine = engine

    def add(self, record: Record) -> None:
        with self.engine.begin() as conn:
            conn.execute(token_records.insert().values(**asdict(record)))

    def get(self, record_id: str) -> Record | None:
        with self.engine.connect() as conn:
            row = conn.execute(
                sa.select(token_records).where(token_records.c.id == record_id)
            ).first()
        return Record(**row._mapping) if row else None

    def list(
        self, key_name: str | None = None, sitekey: str | None = None, limit: int = 100
    ) -> list[Record]:
        """The newest records first, for one key, one site, or all."""
        query = sa.select(token_records).order_by(token_records.c.created_at.desc())
        if key_name is not None:
            query = query.where(token_records.c.key_name == key_name)
        if sitekey is not None:
            query = query.where(token_records.c.sitekey == sitekey)
        with self.engine.connect() as conn:
            rows = conn.execute(query.limit(max(1, min(limit, MAX_LIST)))).all()
        return [Record(**r._mapping) for r in rows]

    def finish_job(self, record_id: str, outcome: str, token_id: str | None) -> None:
        with self.engine.begin() as conn:
            conn.execute(
                token_records.update()
                .where(token_records.c.id == record_id)
                .values(outcome=outcome, token_id=token_id)
            )

    def prune(self, older_than: float) -> int:
        with self.engine.begin() as conn:
            return conn.execute(
                token_records.delete().where(token_records.c.created_at < older_than)
            ).rowcount
