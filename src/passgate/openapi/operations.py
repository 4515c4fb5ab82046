"""Every public endpoint, declared once (passgate.openapi.declare): the app's routes, the hot
dispatch table and the OpenAPI document come from this table. The console declares its own
JSON endpoint beside its handler (passgate.console.views.STATS)."""

from __future__ import annotations

from passgate import checksiteconfig, health, verify, web
from passgate.openapi import document
from passgate.openapi import schemas as s
from passgate.openapi.declare import FORM, JSON, MULTIPART, Answer, Operation, Param, Schema
from passgate.siteverify import hcaptcha, recaptcha, turnstile
from passgate.tokenapi import admin, jobapi, universal
from passgate.widget import assets, endpoints

WIDGET, VERIFY, HEALTH, TOKEN_API, ADMIN, REFERENCE = (
    "widget",
    "siteverify",
    "health",
    "token API",
    "admin API",
    "reference",
)
TAGS = {
    WIDGET: "What the widget's script and frame load and call (hCaptcha contract §1).",
    VERIFY: "Checking a pass token once, from the site's backend (hCaptcha contract §5).",
    HEALTH: "Liveness and readiness, for load balancers and orchestrators.",
    TOKEN_API: "Pass tokens for the site owner's own automation (token-API contract).",
    ADMIN: "Keys, grants, records and sites, behind the admin token (docs/token-api.md).",
    REFERENCE: "This document and its reference page.",
    "console": "The console's JSON, for its charts (docs/console.md).",
}


def _widget_errors(*statuses: int) -> tuple[Answer, ...]:
    meaning = {
        400: "Bad input (`invalid-data`), or a challenge that is wrong, stale, expired or "
        "already solved (`challenge-error`, with `renew`, `reload` or `nowasm` when the "
        "widget should act).",
        403: "An unknown sitekey, or a host the site does not allow (`invalid-data`).",
        413: "The body is larger than `max_body_bytes` (`invalid-data`).",
        503: "A store is unavailable (`network-error`); retry.",
    }
    cors = {"Access-Control-Allow-Origin": {"const": "*"}}
    return tuple(
        Answer(n, meaning[n], s.ref("WidgetError"), headers=cors) for n in statuses
    )


def _admin_errors(*statuses: int) -> tuple[Answer, ...]:
    meaning = {
        400: "Bad input (`invalid_input`).",
        401: "A missing or wrong admin token (`unauthorized`).",
        404: "No such key, grant or site (`not_found`).",
        409: "A key of that name exists (`conflict`).",
        413: "The body is larger than `max_body_bytes` (`invalid_input`).",
        503: "The store is unavailable (`store_unavailable`).",
    }
    return tuple(Answer(n, meaning[n], s.ref("AdminError")) for n in statuses)


def _universal(*statuses: int) -> tuple[Answer, ...]:
    meaning = {
        200: "Success (`status: 1`); `data` holds the token, or the record.",
        400: "Bad input.",
        401: "A missing, unknown or revoked key.",
        403: "No grant, an expired grant, an unknown sitekey, or a referer host the site "
        "does not allow.",
        404: "No such record, or one another key made.",
        429: "Over the grant's rate; retry after `Retry-After` seconds.",
        503: "The store is unavailable.",
    }
    retry = {"Retry-After": {"type": "string", "pattern": "^[0-9]+$"}}
    found = s.ref("RecordFound" if 404 in statuses else "UniversalSuccess")
    return tuple(
        Answer(
            n,
            meaning[n],
            found if n == 200 else s.ref("UniversalFailure"),
            headers=retry if n == 429 else {},
        )
        for n in statuses
    )


def _jobs(ok: str, *statuses: int) -> tuple[Answer, ...]:
    meaning = {
        400: "Bad input.",
        401: "A missing, unknown or revoked key.",
        403: "No grant, an expired grant, an unknown sitekey, or a referer host the site "
        "does not allow.",
        404: "No such job, or one another key made.",
        503: "The store is unavailable.",
    }
    return (
        Answer(200, "Answered.", s.ref(ok)),
        *(Answer(n, meaning[n], s.ref("JobError")) for n in statuses),
    )


ADMIN_AUTH = ("AdminToken",)
_NAME = Param("name", "path", {"type": "string"}, "The key's name.", required=True)
_SITEKEY = Param("sitekey", "path", {"type": "string"}, "The site's sitekey.", required=True)
_ASSET = Param(
    "name", "path", {"type": "string", "pattern": "^[A-Za-z0-9._-]+$"}, "A file's (hashed) name.",
    required=True,
)
_JS = "text/javascript"
_ASSET_TYPES = ("text/css", "text/html", "application/wasm")
_NOT_MODIFIED = Answer(304, "Not modified since the ETag sent in `If-None-Match`.", None)


def _forms(name: str) -> dict[str, Schema]:
    """A siteverify body: the same parameters urlencoded, as multipart or as JSON."""
    return {media: s.ref(name) for media in (FORM, MULTIPART, JSON)}


def _query(name: str, text: str) -> Param:
    return Param(name, "query", {"type": "string"}, text)


SITEVERIFY_PARAMS = tuple(
    _query(name, f"`{name}`, when not in the body.") for name in verify.FIELDS
)

PUBLIC: tuple[Operation, ...] = (
    Operation(
        "GET", "/", health.index, "index", "What this service is", HEALTH,
        (Answer(200, "The service's name, version, script and siteverify paths.", s.INDEX),),
    ),
    Operation(
        "GET", "/1/api.js", assets.api_js, "apiJs", "The widget's script", WIDGET,
        (Answer(200, "The script.", {"type": "string"}, _JS), _NOT_MODIFIED),
        params=(
            _query("onload", "A global function called once the API is ready."),
            _query("render", "`onload` (default) or `explicit`."),
            _query("hl", "A language code."),
            _query("recaptchacompat", "`on` (default) or `off`."),
            _query("endpoint", "The API base the widget talks to."),
        ),
    ),
    Operation(
        "GET", "/1/secure-api.js", assets.api_js, "secureApiJs", "The widget's script",
        WIDGET, (Answer(200, "The same script as /1/api.js.", {"type": "string"}, _JS),
                 _NOT_MODIFIED),
    ),
    Operation(
        "GET", "/turnstile/v0/api.js", assets.turnstile_api_js, "turnstileApiJs",
        "The widget's script, with Turnstile's interface", WIDGET,
        (Answer(200, "The script (docs/turnstile.md §1).", {"type": "string"}, _JS),
         _NOT_MODIFIED),
        params=(
            _query("render", "`explicit`: render nothing until `turnstile.render`."),
            _query("onload", "A global function called once the API is ready."),
        ),
    ),
    *(
        Operation(
            "GET", path, assets.recaptcha_api_js, op_id,
            "The widget's script, with reCAPTCHA's interface", WIDGET,
            (Answer(200, "The script (docs/recaptcha.md §1).", {"type": "string"}, _JS),
             _NOT_MODIFIED),
            params=(
                _query("render", "`onload` (default), `explicit`, or a sitekey (v3)."),
                _query("onload", "A global function called once the API is ready."),
                _query("hl", "A language code."),
            ),
        )
        for path, op_id in (
            ("/recaptcha/api.js", "recaptchaApiJs"),
            ("/recaptcha/api2/api.js", "recaptchaApi2Js"),
        )
    ),
    Operation(
        "GET", "/1/frame", assets.frame, "frame", "The widget's frame", WIDGET,
        (Answer(200, "The frame's document.", {"type": "string"}, "text/html"), _NOT_MODIFIED),
    ),
    Operation(
        "GET", "/1/static/{name}", assets.static, "widgetStatic", "The widget's files",
        WIDGET,
        (
            Answer(200, "The file.", {"type": "string"}, _JS, also=_ASSET_TYPES),
            _NOT_MODIFIED,
            Answer(404, "No such file.", {"type": "string"}, "text/plain"),
        ),
        params=(_ASSET,),
    ),
    Operation(
        "GET", "/1/static/locales/{name}", assets.locale, "widgetLocale",
        "The widget's strings in one language", WIDGET,
        (
            Answer(200, "The locale: each string by its key.",
                   {"type": "object", "additionalProperties": {"type": "string"}}, JSON),
            _NOT_MODIFIED,
            Answer(404, "No such locale.", {"type": "string"}, "text/plain"),
        ),
        params=(_ASSET,),
    ),
    Operation(
        "POST", "/1/challenge", endpoints.issue_challenge, "issueChallenge",
        "A proof-of-work challenge for a site", WIDGET,
        (
            Answer(200, "A challenge; for a published test sitekey, its token at once.",
                   {"oneOf": [s.ref("Challenge"), s.ref("Token")]}),
            *_widget_errors(400, 403, 413, 503),
        ),
        body={JSON: s.ref("ChallengeRequest")}, body_required=True, hot=True,
    ),
    Operation(
        "POST", "/1/solve", endpoints.solve, "solve", "A pass token for a solved challenge",
        WIDGET,
        (Answer(200, "The pass token.", s.ref("Token")), *_widget_errors(400, 403, 413, 503)),
        body={JSON: s.ref("SolveRequest")}, body_required=True, hot=True,
    ),
    Operation(
        "OPTIONS", "/1/{path:path}", web.preflight, "widgetPreflight", "CORS preflight",
        WIDGET, (Answer(204, "CORS allowed from any origin."),),
        in_spec=False, why="a catch-all path, which OpenAPI paths cannot express",
    ),
    Operation(
        "POST", "/siteverify", hcaptcha.endpoint, "siteverify", "Verify a pass token, once",
        VERIFY,
        (Answer(200, "Always 200, failures included: an unreadable request answers "
                     "`bad-request`.", s.ref("SiteverifyAnswer")),),
        description="Parameters come from the query string, then the body over them "
        "(urlencoded, multipart or JSON). A token is spent only when every other check "
        "passed, and exactly once.",
        body=_forms("SiteverifyRequest"),
        params=SITEVERIFY_PARAMS, hot=True,
    ),
    Operation(
        "GET", "/siteverify", hcaptcha.get, "siteverifyGet",
        "Verify a pass token, once, from the query string", VERIFY,
        (Answer(200, "As POST; without a query string, `bad-request`.",
                s.ref("SiteverifyAnswer")),),
        description="The hcaptcha Ruby gem (Mastodon's) verifies with GET.",
        params=SITEVERIFY_PARAMS,
    ),
    Operation(
        "POST", "/turnstile/v0/siteverify", turnstile.endpoint, "turnstileSiteverify",
        "Verify a pass token, once, in Turnstile's shape", VERIFY,
        (Answer(200, "Always 200, failures included (Turnstile's error codes).",
                {"oneOf": [s.ref("TurnstileSuccess"), s.ref("TurnstileFailure")]}),),
        description="Any passgate token of the site, earned through any interface. A retry "
        "with the same `idempotency_key` gets the first answer instead of "
        "`timeout-or-duplicate`, on every node (docs/turnstile.md).",
        body=_forms("TurnstileRequest"),
        params=tuple(_query(n, f"`{n}`, when not in the body.") for n in turnstile.FIELDS),
    ),
    Operation(
        "POST", "/recaptcha/api/siteverify", recaptcha.endpoint, "recaptchaSiteverify",
        "Verify a pass token, once, in reCAPTCHA's shape", VERIFY,
        (Answer(200, "Always 200, failures included (reCAPTCHA's error codes).",
                {"oneOf": [s.ref("RecaptchaSuccess"), s.ref("RecaptchaFailure")]}),),
        description="Any passgate token of the site, earned through any interface; `score` "
        "in reCAPTCHA's direction (1.0 = very likely human) and the bound `action` "
        "(docs/recaptcha.md).",
        body=_forms("RecaptchaRequest"),
        params=tuple(_query(n, f"`{n}`, when not in the body.") for n in recaptcha.FIELDS),
    ),
    Operation(
        "GET", "/turnstile/v0/siteverify", turnstile.get, "turnstileSiteverifyGet",
        "Turnstile's siteverify needs POST", VERIFY,
        (Answer(200, "Always `bad-request`.", s.ref("TurnstileFailure")),),
    ),
    Operation(
        "GET", "/recaptcha/api/siteverify", recaptcha.endpoint, "recaptchaSiteverifyGet",
        "Verify a pass token, once, from the query string, in reCAPTCHA's shape", VERIFY,
        (Answer(200, "As POST.", {"oneOf": [s.ref("RecaptchaSuccess"),
                                           s.ref("RecaptchaFailure")]}),),
        params=tuple(_query(n, f"`{n}`.") for n in recaptcha.FIELDS),
    ),
    *(
        Operation(
            method, "/checksiteconfig", checksiteconfig.endpoint, f"checkSiteConfig{method}",
            "Whether a sitekey may be used on a host", WIDGET,
            (Answer(200, "`pass`, and when false, why.", s.ref("SiteConfig")),
             Answer(503, "The store did not answer.", s.ref("SiteConfig"))),
            params=(
                Param("host", "query", {"type": "string"}, "The page's host.", required=True),
                Param("sitekey", "query", {"type": "string"}, "The sitekey.", required=True),
            ),
        )
        for method in ("GET", "POST")
    ),
    Operation(
        "GET", "/healthz", health.healthz, "healthz", "Alive", HEALTH,
        (Answer(200, "The process answers.", s.HEALTH),),
    ),
    Operation(
        "GET", "/readyz", health.readyz, "readyz", "Ready: every store answers", HEALTH,
        (Answer(200, "Every store answers.", s.READY),
         Answer(503, "A store does not answer; `stores` says which.", s.NOT_READY)),
    ),
    Operation(
        "POST", "/api/wanda/hcaptcha/universal", universal.endpoint, "universal",
        "A pass token, synchronously", TOKEN_API, _universal(200, 400, 401, 403, 429, 503),
        body={JSON: s.ref("UniversalRequest")}, body_required=True,
        params=(Param("Developer-Id", "header", {"type": "string", "maxLength": 200},
                      "Kept on the record as attribution."),),
        security=("UserToken",),
    ),
    Operation(
        "GET", "/api/records/{record_id}", universal.record, "record", "A call's record",
        TOKEN_API, _universal(200, 400, 401, 404, 503),
        params=(Param("record_id", "path", {"type": "string"}, "The call's `id`.", True),),
        security=("UserToken",),
    ),
    Operation(
        "POST", "/api/createJob", jobapi.create, "createJob", "A token job", TOKEN_API,
        _jobs("JobCreated", 400, 401, 403, 503),
        body={JSON: s.ref("CreateJobRequest")}, body_required=True,
    ),
    Operation(
        "POST", "/api/getJobResult", jobapi.result, "getJobResult", "A job's state",
        TOKEN_API, _jobs("JobResult", 400, 401, 404, 503),
        body={JSON: s.ref("JobResultRequest")}, body_required=True,
    ),
    Operation(
        "GET", "/api/admin/keys", admin.keys, "listKeys", "Every API key", ADMIN,
        (Answer(200, "The keys.", s.admin_ok(keys={"type": "array", "items": s.ref("Key")})),
         *_admin_errors(401, 503)),
        security=ADMIN_AUTH,
    ),
    Operation(
        "POST", "/api/admin/keys", admin.keys, "addKey", "A new API key", ADMIN,
        (Answer(201, "The key, and its token: shown this once.",
                s.admin_ok(key=s.ref("Key"), token={"type": "string"})),
         *_admin_errors(400, 401, 409, 413, 503)),
        body={JSON: s.NEW_KEY_REQUEST}, body_required=True, security=ADMIN_AUTH,
    ),
    Operation(
        "POST", "/api/admin/keys/{name}/revoke", admin.revoke_key, "revokeKey",
        "Revoke an API key", ADMIN,
        (Answer(200, "The revoked key.", s.admin_ok(key=s.ref("Key"))),
         *_admin_errors(400, 401, 404, 503)),
        params=(_NAME,), security=ADMIN_AUTH,
    ),
    Operation(
        "GET", "/api/admin/grants", admin.grants, "listGrants", "Grants", ADMIN,
        (Answer(200, "The grants.",
                s.admin_ok(grants={"type": "array", "items": s.ref("Grant")})),
         *_admin_errors(401, 503)),
        params=(_query("key", "Only this key's."), _query("site", "Only this sitekey's.")),
        security=ADMIN_AUTH,
    ),
    Operation(
        "POST", "/api/admin/grants", admin.grants, "putGrant",
        "Let a key mint for a site, or change its grant", ADMIN,
        (Answer(200, "The grant.", s.admin_ok(grant=s.ref("Grant"))),
         *_admin_errors(400, 401, 404, 413, 503)),
        body={JSON: s.GRANT_REQUEST}, body_required=True, security=ADMIN_AUTH,
    ),
    Operation(
        "DELETE", "/api/admin/grants/{name}/{sitekey}", admin.remove_grant, "removeGrant",
        "Remove a grant", ADMIN,
        (Answer(200, "Removed.", s.admin_ok()), *_admin_errors(400, 401, 404, 503)),
        params=(_NAME, _SITEKEY), security=ADMIN_AUTH,
    ),
    Operation(
        "GET", "/api/admin/records", admin.records, "listRecords", "Records, newest first",
        ADMIN,
        (Answer(200, "The records.",
                s.admin_ok(records={"type": "array", "items": s.ref("Record")})),
         *_admin_errors(400, 401, 503)),
        params=(
            _query("key", "Only this key's."),
            _query("site", "Only this sitekey's."),
            Param("limit", "query", {"type": "string", "pattern": "^[0-9]{1,6}$"},
                  "At most this many (100; above 1000 gives 1000)."),
        ),
        security=ADMIN_AUTH,
    ),
    Operation(
        "GET", "/api/admin/sites", admin.sites, "listSites", "Sites (never secrets)", ADMIN,
        (Answer(200, "The sites.", s.admin_ok(sites={"type": "array", "items": s.ref("Site")})),
         *_admin_errors(401, 503)),
        security=ADMIN_AUTH,
    ),
    Operation(
        "PATCH", "/api/admin/sites/{sitekey}", admin.site, "updateSite", "Change a site",
        ADMIN,
        (Answer(200, "The site as changed.", s.admin_ok(site=s.ref("Site"))),
         *_admin_errors(400, 401, 404, 413, 503)),
        body={JSON: s.ref("SiteChanges")}, body_required=True, params=(_SITEKEY,),
        security=ADMIN_AUTH,
    ),
    *(
        Operation(
            method, "/api/admin/{path:path}", admin.not_found, f"adminNotFound{method}",
            "Any other admin path", ADMIN, _admin_errors(404),
            in_spec=False, why="a catch-all path, which OpenAPI paths cannot express",
        )
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE")
    ),
)

SPEC = Operation(
    "GET", "/openapi.json", document.spec, "openapi", "This document", REFERENCE,
    (Answer(200, "The OpenAPI 3.1 document.", {"type": "object"}),),
)


def reference_page() -> tuple[Operation, ...]:
    """`/docs/api`, the readable reference (passgate.openapi.reference), when it is on."""
    from passgate.openapi import reference

    return (
        Operation(
            "GET", "/docs/api", reference.page, "apiReference", "This reference, readable",
            REFERENCE, (Answer(200, "The reference page.", {"type": "string"}, "text/html"),),
        ),
        Operation(
            "GET", "/docs/api/static/{name}", reference.static, "apiReferenceStatic",
            "The reference page's files", REFERENCE,
            (
                Answer(200, "The file.", {"type": "string"}, _JS, also=("text/css", "text/plain")),
                _NOT_MODIFIED,
                Answer(404, "No such file.", s.ref("PlainError")),
            ),
            params=(_ASSET,),
        ),
    )
