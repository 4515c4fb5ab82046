"""The client's typed results."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class UniversalResult:
    token: str  # generated_pass_UUID: the P1_ pass token
    ekey: str | None  # the E0_ response key, when need_ekey was asked
    record_id: str
    msg: str
    cost: str  # passgate's server time, e.g. "1.84ms"


@dataclass(frozen=True)
class JobCreated:
    job_id: int
    message: str


@dataclass(frozen=True)
class JobResult:
    job_id: int
    status: str  # "running", "success" or "fail"
    result: str  # the P1_ token on success, else ""
    ekey: str | None = None
    message: str = ""

    @property
    def done(self) -> bool:
        return self.status != "running"
