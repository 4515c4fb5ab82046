"""The JSON Schemas (2020-12, as OpenAPI 3.1 uses them) of every request and answer, by wire
format. Answers whose shape a contract fixes are closed (`additionalProperties: false`);
requests accept what the contracts say clients send. Sources: the hCaptcha contract
(shared/contracts/hcaptcha-compat.md), the token-API contract (shared/contracts/
token-api.md) and docs/token-api.md for the admin API."""

from __future__ import annotations

from typing import Any

from passgate import algorithms, token
from passgate.openapi.declare import Schema
from passgate.siteverify import recaptcha, turnstile
from passgate.siteverify.hcaptcha import ERROR_CODES
from passgate.tokenapi import fields, outcomes
from passgate.verify import MAX_FIELD
from passgate.widget.endpoints import MAX_RQDATA, WIDGET_ERRORS

STRING = {"type": "string"}
BOOL = {"type": "boolean"}
INT = {"type": "integer"}
NUMBER = {"type": "number"}
MESSAGE = {"type": "string", "description": "A readable explanation, in English."}
ISO_TIME = {"type": "string", "format": "date-time"}
NULLABLE_STRING = {"type": ["string", "null"]}


def closed(required: list[str], optional: dict[str, Any] | None = None, **props: Any) -> Schema:
    """An object with exactly these properties: `props` required, `optional` not."""
    properties = {**props, **(optional or {})}
    return {
        "type": "object",
        "properties": properties,
        "required": required or list(props),
        "additionalProperties": False,
    }


def obj(**props: Any) -> Schema:
    """A request object: these properties typed, keys not listed accepted and ignored."""
    return {"type": "object", "properties": props}


def ref(name: str) -> Schema:
    return {"$ref": f"#/components/schemas/{name}"}


# --- siteverify (hCaptcha contract §5) -------------------------------------------------

_FIELD = {"type": "string", "maxLength": MAX_FIELD}
SITEVERIFY_REQUEST = obj(
    secret={**_FIELD, "description": "The site's secret (required)."},
    response={**_FIELD, "description": "The pass token the page posted (required)."},
    remoteip={**_FIELD, "description": "The visitor's IP address."},
    sitekey={**_FIELD, "description": "The sitekey the caller expects."},
    rqdata={**_FIELD, "description": "(extension) The rqdata the token must be bound to."},
)
SCORE_REASON = {"type": "array", "items": {"type": "string", "pattern": "^[a-z0-9_]+$"}}
SITEVERIFY_SUCCESS = closed(
    ["success", "challenge_ts", "hostname", "credit", "score", "score_reason", "sitekey"],
    {"rqdata_sha256": {"type": "string", "pattern": "^[0-9a-f]{64}$"}},
    success={"const": True},
    challenge_ts={
        "type": "string",
        "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$",
        "description": "When the challenge was passed: ISO 8601 UTC with milliseconds.",
    },
    hostname={**STRING, "description": "The host of the page that embedded the widget."},
    credit=BOOL,
    score={"type": "number", "minimum": 0, "maximum": 1, "description": "0.0 = human."},
    score_reason=SCORE_REASON,
    sitekey=STRING,
)
SITEVERIFY_FAILURE = closed(
    ["success", "error-codes"],
    {"hostname": {**STRING, "description": "Test keys only: `dummy-key-pass`."}},
    success={"const": False},
    **{
        "error-codes": {
            "type": "array",
            "minItems": 1,
            "uniqueItems": True,
            "items": {"enum": list(ERROR_CODES)},
        }
    },
)
SITEVERIFY_ANSWER = {"oneOf": [ref("SiteverifySuccess"), ref("SiteverifyFailure")]}


def _failure(codes: tuple[str, ...]) -> Schema:
    return closed(
        ["success", "error-codes"],
        success={"const": False},
        **{"error-codes": {"type": "array", "minItems": 1, "uniqueItems": True,
                           "items": {"enum": list(codes)}}},
    )  # fmt: skip


_TS_MS = {"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z$"}
TURNSTILE_REQUEST = obj(
    secret={**_FIELD, "description": "The site's secret (required)."},
    response={**_FIELD, "description": "The token the page posted (required)."},
    remoteip={**_FIELD, "description": "The visitor's IP address."},
    idempotency_key={**_FIELD, "description": "A UUID: a retry with it gets the first answer."},
)
TURNSTILE_SUCCESS = closed(
    ["success", "challenge_ts", "hostname", "error-codes", "action", "cdata"],
    {
        "score_reason": {**SCORE_REASON, "description": "passgate's extension."},
        "metadata": {
            "type": "object",
            "properties": {"interactive": BOOL, "result_with_testing_key": {"const": True}},
            "additionalProperties": False,
        },
    },
    success={"const": True},
    challenge_ts=_TS_MS,
    hostname=STRING,
    action={**STRING, "description": "As the page bound it; empty when none."},
    cdata={**STRING, "description": "As the page bound it; empty when none."},
    **{"error-codes": {"type": "array", "maxItems": 0}},
)
TURNSTILE_FAILURE = _failure(turnstile.ERROR_CODES)
TURNSTILE_FAILURE["properties"]["metadata"] = {
    "type": "object",
    "properties": {"result_with_testing_key": {"const": True}},
    "additionalProperties": False,
    "description": "Test secrets only.",
}
RECAPTCHA_REQUEST = obj(
    secret={**_FIELD, "description": "The site's secret (required)."},
    response={**_FIELD, "description": "The token the page posted (required)."},
    remoteip={**_FIELD, "description": "The visitor's IP address."},
)
RECAPTCHA_SUCCESS = closed(
    ["success", "challenge_ts", "hostname", "score"],
    {
        "score_reason": {**SCORE_REASON, "description": "passgate's extension."},
        "action": {**STRING, "minLength": 1, "description": "As bound; omitted when none."},
    },
    success={"const": True},
    challenge_ts={"type": "string", "pattern": r"^\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ$"},
    hostname=STRING,
    score={"type": "number", "minimum": 0, "maximum": 1, "description": "1.0 = human."},
)
RECAPTCHA_FAILURE = _failure(recaptcha.ERROR_CODES)
SITE_CONFIG = closed(
    ["pass"],
    {"error": {**STRING, "description": "Why not: unknown sitekey, host not allowed, ..."}},
    **{"pass": BOOL},
)

# --- the widget's endpoints (hCaptcha contract §1, §3) ---------------------------------

CHALLENGE_REQUEST = obj(
    sitekey=STRING,
    host={**STRING, "description": "The host of the page that embeds the widget."},
    v={**INT, "description": "The widget protocol (2)."},
    renew={**BOOL, "description": "A fresh challenge after one refused as stale."},
    fallback={**BOOL, "description": "The browser cannot run WebAssembly."},
)
CHALLENGE_REQUEST["required"] = ["sitekey", "host"]
CHALLENGE = closed(
    ["challenge", "algorithm", "salt", "parts", "threshold", "difficulty", "expires"],
    {"params": {"type": "object", "description": "The algorithm's parameters (argon2id)."}},
    challenge={**STRING, "description": "The signed challenge, handed back to /1/solve."},
    algorithm={"enum": list(algorithms.NAMES)},
    salt=STRING,
    parts={**INT, "minimum": 1},
    threshold={**INT, "minimum": 0},
    difficulty={**INT, "minimum": 1, "description": "Expected hashes."},
    expires={**INT, "description": "Expiry, in ms since the epoch."},
)
TOKEN = closed(
    ["token", "ekey", "expires_in"],
    token={**STRING, "description": "The pass token (`P1_...`, or a test key's token)."},
    ekey={**STRING, "description": "The response key (`E0_...`)."},
    expires_in={**INT, "description": "Seconds the token lives."},
)
SOLVE_REQUEST = obj(
    challenge=STRING,
    nonces={"type": "array", "items": INT, "description": "One nonce per part."},
    rqdata={"type": "string", "maxLength": MAX_RQDATA},
    mode={"enum": ["", "invisible"]},
    automation={
        "type": "object",
        "additionalProperties": BOOL,
        "description": "The browser's automation markers (abuse.policy).",
    },
    interface={"enum": list(token.INTERFACES), "description": "Whose script the page ran."},
    action={"type": "string", "maxLength": 100, "description": "Bound into the token."},
    cdata={"type": "string", "pattern": f"^{token.CDATA.pattern}$", "description": "Turnstile's."},
)
SOLVE_REQUEST["required"] = ["challenge", "nonces"]
WIDGET_ERROR = closed(
    ["error", "message"],
    {
        "renew": {"const": True, "description": "Fetch a fresh challenge and solve that."},
        "reload": {"const": True, "description": "The widget is out of date: reload it."},
        "nowasm": {"const": True, "description": "The site needs WebAssembly."},
    },
    error={"enum": list(WIDGET_ERRORS)},
    message=MESSAGE,
)

# --- the token API (token-API contract §A, §B) -----------------------------------------

_S = dict[str, Any]


def _limited(limit: int, text: str) -> _S:
    return {"type": "string", "maxLength": limit, "description": text}


_OPTIONS = {
    "rqdata": _limited(fields.MAX_RQDATA, "Bound into the token, as `setData({rqdata})`."),
    "domain": _limited(fields.MAX_DOMAIN, "The verify host the caller will use; recorded."),
    "proxy": _limited(fields.MAX_PROXY, "`ip:port`, `user:pwd@ip:port` or `scheme://ip:port`."),
    "region": _limited(fields.MAX_REGION, "Recorded."),
    "invisible": {"oneOf": [BOOL, {"enum": [0, 1]}], "description": "Recorded in the mode."},
    "need_ekey": {"oneOf": [BOOL, {"enum": [0, 1]}], "description": "Also return the ekey."},
    "action": {
        "type": "string",
        "pattern": f"^{token.ANY_ACTION.pattern}$",
        "maxLength": fields.MAX_ACTION,
        "description": "Bound into the token; returned by Turnstile's and reCAPTCHA's siteverify.",
    },
    "cdata": {
        **_limited(token.MAX_CDATA, "Bound into the token; returned by Turnstile's siteverify."),
        "pattern": f"^{token.CDATA.pattern}$",
    },
}
UNIVERSAL_REQUEST = {
    **obj(
        sitekey=_limited(fields.MAX_SITEKEY, "The passgate (or test) sitekey."),
        referer=_limited(fields.MAX_URL, "The URL of the page the token is for."),
        **_OPTIONS,
    ),
    "required": ["sitekey", "referer"],
    "description": "Keys not listed are accepted and ignored (clients send `internal`, "
    "`is_auth`, `timeout`, `mode`, `user_agent`, `cookies` and more).",
}
UNIVERSAL_DATA = closed(
    ["generated_pass_UUID"],
    {"ekey": {**STRING, "description": "With `need_ekey`."}},
    generated_pass_UUID={**STRING, "description": "The pass token (`P1_...`)."},
)
RECORD = closed(
    ["id", "kind", "outcome", "http_status", "cost", "created_at", "key"],
    {
        name: NULLABLE_STRING
        for name in ("sitekey", "referer_host", "developer_id", "domain", "region", "proxy_ip")
    }
    | {"job_id": {"type": ["integer", "null"]}, "token_id": NULLABLE_STRING},
    id=STRING,
    kind={"enum": ["universal", "job"]},
    outcome={
        "enum": sorted(
            {o.code for o in vars(outcomes).values() if isinstance(o, outcomes.Outcome)}
        ),
        "description": "`ok`, `running`, or the refusal's code.",
    },
    http_status=INT,
    cost={"type": "string", "pattern": r"^\d+\.\d{2}ms$"},
    created_at=ISO_TIME,
    key=NULLABLE_STRING,
)


def universal_answer(ok: bool, data: Schema) -> Schema:
    """The universal call's one shape (`status`, `msg`, `id`, `data`, `cost`): `status` 1
    and `data` on success, `status` 0 and `data: null` otherwise."""
    return closed(
        ["status", "msg", "id", "data", "cost"],
        status={"const": 1 if ok else 0, "description": "1 success, 0 failure."},
        msg={**STRING, "description": "English; Chinese when Accept-Language prefers zh."},
        id={**STRING, "description": "This call's record id."},
        data=data,
        cost={"type": "string", "pattern": r"^\d+\.\d{2}ms$", "description": "Server time, ms."},
    )


UNIVERSAL_SUCCESS = universal_answer(True, ref("UniversalData"))
RECORD_FOUND = universal_answer(True, ref("Record"))
UNIVERSAL_FAILURE = universal_answer(False, {"type": "null"})
CREATE_JOB_REQUEST = {
    **obj(
        api_token={**STRING, "description": "The API key."},
        data={
            **obj(
                type_job_id={"enum": ["11", 11], "description": "An hCaptcha-style token job."},
                website_url=_limited(fields.MAX_URL, "The URL of the page the token is for."),
                website_key=_limited(fields.MAX_SITEKEY, "The passgate (or test) sitekey."),
                **_OPTIONS,
            ),
            "required": ["type_job_id", "website_url", "website_key"],
        },
    ),
    "required": ["api_token", "data"],
}
JOB_CREATED = closed(
    ["error", "job_id", "message"], error={"const": False}, job_id=INT, message=MESSAGE
)
JOB_RESULT_REQUEST = {
    **obj(
        api_token={**STRING, "description": "The API key that created the job."},
        job_id={
            "oneOf": [INT, {"type": "string", "pattern": "^[0-9]{1,18}$"}],
            "description": "From createJob.",
        },
    ),
    "required": ["api_token", "job_id"],
}
JOB_RESULT = {
    "oneOf": [
        closed(["error", "status", "result"], error={"const": False},
               status={"const": "running"}, result={"const": ""}),
        closed(["error", "status", "result"],
               {"ekey": {**STRING, "description": "With `need_ekey`."}},
               error={"const": False}, status={"const": "success"},
               result={**STRING, "minLength": 1, "description": "The pass token."}),
        closed(["error", "status", "result", "message"], error={"const": False},
               status={"const": "fail"}, result={"const": ""},
               message={**MESSAGE, "description": "Why the job failed."}),
    ]
}  # fmt: skip
JOB_ERROR = closed(["error", "message"], error={"const": True}, message=MESSAGE)

# --- the admin API (docs/token-api.md) -------------------------------------------------

ADMIN_ERROR = closed(
    ["ok", "error", "message"],
    ok={"const": False},
    error={"enum": ["unauthorized", "invalid_input", "not_found", "conflict", "store_unavailable"]},
    message=MESSAGE,
)
KEY = closed(
    ["name", "created_at", "revoked_at", "active"],
    name=STRING,
    created_at={**NUMBER, "description": "Seconds since the epoch."},
    revoked_at={"type": ["number", "null"]},
    active=BOOL,
)
GRANT = closed(
    ["key", "sitekey", "rate_per_min", "burst", "expires_at", "created_at"],
    key=STRING,
    sitekey=STRING,
    rate_per_min=NUMBER,
    burst=INT,
    expires_at={"type": ["string", "null"], "format": "date-time"},
    created_at=ISO_TIME,
)
_SITE_FIELDS: dict[str, Any] = {
    "name": STRING,
    "hostnames": {"type": "array", "items": STRING},
    "difficulty": {**INT, "description": "Expected hashes."},
    "token_lifetime": {**INT, "description": "Seconds."},
    "require_remoteip": BOOL,
    "bind_ip": BOOL,
    "adaptive": BOOL,
    "max_difficulty": INT,
    "prefix_v4": INT,
    "prefix_v6": INT,
    "allowlist": {"type": "array", "items": STRING},
    "algorithm": {"enum": list(algorithms.NAMES)},
    "fallback": {"type": ["string", "null"], "description": "sha256, or none."},
}
SITE = closed(["sitekey", *_SITE_FIELDS], sitekey=STRING, **_SITE_FIELDS)
SITE_CHANGES = {
    "type": "object",
    "properties": {**_SITE_FIELDS, "algorithm": STRING},
    "additionalProperties": False,
    "description": "Any of the site's fields (docs/abuse.md); `max_difficulty: 0` restores "
    "the default cap.",
}
NEW_KEY_REQUEST = {
    **obj(name={**STRING, "pattern": "^[A-Za-z0-9_.-]{1,64}$"}),
    "required": ["name"],
}
GRANT_REQUEST = {
    **obj(
        key=STRING,
        site=STRING,
        rate={"type": ["string", "number"], "description": "`60/min`, `2/s`, `600/hour`."},
        burst=INT,
        expires={
            "type": ["string", "null"],
            "description": "ISO 8601, e.g. 2027-01-01T00:00:00Z; without an offset, UTC; "
            "null or absent: never.",
        },
    ),
    "required": ["key", "site"],
}


def admin_ok(**props: Any) -> Schema:
    """An admin success answer: `{"ok": true, ...}`."""
    return closed(["ok", *props], ok={"const": True}, **props)


# --- health and the console ------------------------------------------------------------

HEALTH = closed(["ok"], ok={"const": True})
_WARNINGS = {"warnings": {"type": "array", "items": {"enum": ["untrusted_forwarded_for"]}}}
READY = closed(["ok"], _WARNINGS, ok={"const": True})
NOT_READY = closed(
    ["ok", "error", "stores"],
    _WARNINGS,
    ok={"const": False},
    error={"const": "store_unavailable"},
    stores={
        "type": "object",
        "additionalProperties": BOOL,
        "description": "Each store (database, spends) and whether it answered.",
    },
)
INDEX = closed(
    ["service", "version", "script", "verify"],
    service={"const": "passgate"},
    version=STRING,
    script=STRING,
    verify=STRING,
)
PLAIN_ERROR = closed(
    ["error", "message"],
    error={"enum": ["not_found", "method_not_allowed", "internal-error"]},
    message=MESSAGE,
)
CONSOLE_ERROR = closed(
    ["error", "message"],
    error={"enum": ["not_signed_in", "bad_request", "store_unavailable"]},
    message=MESSAGE,
)
_OBJECT = {"type": "object"}
CONSOLE_STATS = closed(
    ["since", "until", "total", "sites", "series", "step", "totals", "charts", "range", "site"],
    since={**NUMBER, "description": "Seconds since the epoch."},
    until=NUMBER,
    total={**_OBJECT, "description": "All sites together (docs/observability.md)."},
    sites={"type": "object", "additionalProperties": _OBJECT},
    series={"type": "array", "items": _OBJECT},
    step={**INT, "description": "Seconds per bucket."},
    totals={"type": "array", "items": _OBJECT},
    charts={"type": "array", "items": _OBJECT},
    range={"enum": ["1h", "24h", "7d", "30d"]},
    site=STRING,
)

COMPONENTS: dict[str, Schema] = {
    "SiteverifyRequest": SITEVERIFY_REQUEST,
    "SiteverifySuccess": SITEVERIFY_SUCCESS,
    "SiteverifyFailure": SITEVERIFY_FAILURE,
    "SiteverifyAnswer": SITEVERIFY_ANSWER,
    "TurnstileRequest": TURNSTILE_REQUEST,
    "TurnstileSuccess": TURNSTILE_SUCCESS,
    "TurnstileFailure": TURNSTILE_FAILURE,
    "RecaptchaRequest": RECAPTCHA_REQUEST,
    "RecaptchaSuccess": RECAPTCHA_SUCCESS,
    "RecaptchaFailure": RECAPTCHA_FAILURE,
    "SiteConfig": SITE_CONFIG,
    "ChallengeRequest": CHALLENGE_REQUEST,
    "Challenge": CHALLENGE,
    "Token": TOKEN,
    "SolveRequest": SOLVE_REQUEST,
    "WidgetError": WIDGET_ERROR,
    "UniversalRequest": UNIVERSAL_REQUEST,
    "UniversalData": UNIVERSAL_DATA,
    "Record": RECORD,
    "UniversalSuccess": UNIVERSAL_SUCCESS,
    "RecordFound": RECORD_FOUND,
    "UniversalFailure": UNIVERSAL_FAILURE,
    "CreateJobRequest": CREATE_JOB_REQUEST,
    "JobCreated": JOB_CREATED,
    "JobResultRequest": JOB_RESULT_REQUEST,
    "JobResult": JOB_RESULT,
    "JobError": JOB_ERROR,
    "AdminError": ADMIN_ERROR,
    "Key": KEY,
    "Grant": GRANT,
    "Site": SITE,
    "SiteChanges": SITE_CHANGES,
    "PlainError": PLAIN_ERROR,
    "ConsoleError": CONSOLE_ERROR,
    "ConsoleStats": CONSOLE_STATS,
}
