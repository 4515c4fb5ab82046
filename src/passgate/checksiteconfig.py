"""`GET`/`POST /checksiteconfig?host=H&sitekey=K`: whether a sitekey may be used on a host,
as hCaptcha answers it; the hCaptcha WordPress plugin's "Check Site Config" button calls it.
Answers `{"pass": true}`, or `{"pass": false, "error": TEXT}`."""

from __future__ import annotations

from starlette.requests import Request
from starlette.responses import JSONResponse, Response

from passgate import testkeys
from passgate.service import Service
from passgate.sites import SITEKEY_RE, SiteError, normalize_hostname
from passgate.store import StoreUnavailable
from passgate.web import CORS_HEADERS

MAX_PARAM = 512


def _answer(ok: bool, error: str = "", status: int = 200) -> Response:
    body: dict[str, object] = {"pass": ok}
    if error:
        body["error"] = error
    return JSONResponse(body, status, headers={**CORS_HEADERS, "Cache-Control": "no-store"})


async def endpoint(request: Request) -> Response:
    """Other query parameters are ignored; `host` and `sitekey` may also come as form
    fields of a POST."""
    service: Service = request.app.state.service
    params = dict(request.query_params)
    if request.method == "POST" and not (params.get("host") and params.get("sitekey")):
        try:
            form = await request.form(max_files=0, max_fields=32)
        except Exception:  # noqa: BLE001 - python-multipart raises several types
            form = None  # the query string is what the plugin sends; a bad body adds nothing
        if form is not None:
            params.update({k: v for k, v in form.items() if isinstance(v, str)})
    sitekey, host = params.get("sitekey", "").strip(), params.get("host", "").strip()
    if not sitekey:
        return _answer(False, "missing sitekey")
    if not host:
        return _answer(False, "missing host")
    if len(sitekey) > MAX_PARAM or len(host) > MAX_PARAM:
        return _answer(False, "sitekey or host too long")
    if sitekey in testkeys.BY_SITEKEY:
        return _answer(True)  # the published test sitekeys work on any host
    if not SITEKEY_RE.match(sitekey):
        return _answer(False, "invalid sitekey")
    try:
        hostname = normalize_hostname(host.split("://", 1)[-1].split("/", 1)[0].split(":")[0])
    except SiteError:
        return _answer(False, "invalid host")
    try:
        site = await service.site(sitekey)
    except StoreUnavailable:
        return _answer(False, "the store is unavailable; try again", 503)
    if site is None:
        return _answer(False, "unknown sitekey")
    if not site.allows(hostname):
        return _answer(False, f"host not allowed: {hostname} is not one of the site's hostnames")
    return _answer(True)
