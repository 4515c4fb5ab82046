"""Every outcome of a token-API call: a stable code, its HTTP status and its message in English
and Simplified Chinese. `Refusal` is the one exception the token API raises for them."""

from __future__ import annotations

import math
from dataclasses import dataclass


@dataclass(frozen=True)
class Outcome:
    code: str
    status: int
    en: str
    zh: str


OK = Outcome("ok", 200, "Success.", "成功。")
JOB_CREATED = Outcome("ok", 200, "Job created.", "任务已创建。")
BAD_INPUT = Outcome("bad_input", 400, "Bad input: {detail}", "请求参数错误：{detail}")
MISSING_KEY = Outcome(
    "missing_key",
    401,
    "The API key is missing (send it as User-Token).",
    "缺少 API 密钥（请通过 User-Token 发送）。",
)
UNKNOWN_KEY = Outcome("unknown_key", 401, "The API key is not valid.", "API 密钥无效。")
REVOKED_KEY = Outcome("revoked_key", 401, "The API key has been revoked.", "API 密钥已被吊销。")
UNKNOWN_SITEKEY = Outcome(
    "unknown_sitekey",
    403,
    "The sitekey is not registered on this passgate.",
    "该 sitekey 未在本 passgate 上注册。",
)
NO_GRANT = Outcome(
    "no_grant",
    403,
    "The API key has no grant for this sitekey.",
    "该 API 密钥没有此 sitekey 的授权。",
)
GRANT_EXPIRED = Outcome(
    "grant_expired",
    403,
    "The API key's grant for this sitekey has expired.",
    "该 API 密钥对此 sitekey 的授权已过期。",
)
REFERER_NOT_ALLOWED = Outcome(
    "referer_not_allowed",
    403,
    "The referer's host is not one of the site's allowed hostnames.",
    "referer 的主机名不在该站点允许的主机名之列。",
)
NOT_FOUND = Outcome("not_found", 404, "Not found.", "未找到。")
UNKNOWN_JOB = Outcome("unknown_job", 404, "No such job.", "任务不存在。")
RATE_LIMITED = Outcome(
    "rate_limited",
    429,
    "Over the grant's rate; retry in {retry_after} s.",
    "超出该授权的速率限制，请在 {retry_after} 秒后重试。",
)
STORE_UNAVAILABLE = Outcome(
    "store_unavailable",
    503,
    "The store is unavailable; try again later.",
    "存储暂不可用，请稍后重试。",
)
# How a job ends when it did not succeed (besides the refusals above, re-checked at minting).
DEADLINE_PASSED = Outcome(
    "deadline_passed",
    200,
    "The job's deadline passed before its grant had capacity.",
    "任务在截止时间前未获得授权配额，已失败。",
)
RUNNING = Outcome("running", 200, "Running.", "进行中。")

BY_CODE = {
    o.code: o
    for o in (
        OK, BAD_INPUT, MISSING_KEY, UNKNOWN_KEY, REVOKED_KEY, UNKNOWN_SITEKEY, NO_GRANT,
        GRANT_EXPIRED, REFERER_NOT_ALLOWED, NOT_FOUND, UNKNOWN_JOB, RATE_LIMITED,
        STORE_UNAVAILABLE, DEADLINE_PASSED, RUNNING,
    )
}  # fmt: skip


class Refusal(Exception):
    """A call the token API answers without minting: carries its outcome and details."""

    def __init__(self, outcome: Outcome, detail: str = "", retry_after: float = 0.0) -> None:
        super().__init__(outcome.code)
        self.outcome = outcome
        self.detail = detail
        self.retry_after = retry_after


def retry_seconds(retry_after: float) -> int:
    """Whole seconds for `Retry-After`: at least 1."""
    return max(1, math.ceil(retry_after)) if math.isfinite(retry_after) else 3600


def message(outcome: Outcome, lang: str, detail: str = "", retry_after: float = 0.0) -> str:
    template = outcome.zh if lang == "zh" else outcome.en
    return template.format(detail=detail, retry_after=retry_seconds(retry_after))


def language(accept_language: str | None) -> str:
    """ "zh" when Accept-Language prefers Chinese over English, else "en"."""
    best, best_q = "en", -1.0
    for part in (accept_language or "").split(",")[:32]:
        tag, _, params = part.strip().partition(";")
        primary = tag.strip().lower().split("-", 1)[0]
        if primary not in ("zh", "en", "*"):
            continue
        q = 1.0
        for p in params.split(";"):
            name, _, value = p.strip().partition("=")
            if name.strip().lower() == "q":
                try:
                    q = float(value)
                except ValueError:
                    q = 0.0
        if q > best_q and q > 0:
            best, best_q = ("en" if primary == "*" else primary), q
    return best
