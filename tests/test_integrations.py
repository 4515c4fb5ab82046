"""The recipes of docs/integrations.md, replayed: each product's exact verify requests (method,
URL built from its setting the way its code builds it, content type, parameter names and
order, headers), taken from its source (cited per test and in the doc), sent to passgate
in-process with a real token earned the widget's way. Each test asserts the fields the
product reads, the success it sees once, and the failure it sees on a replay.

None of these products installs on this machine (docs/integrations.md says so per recipe):
the replays are the test.
"""

from __future__ import annotations

import json
import re
from datetime import datetime
from typing import Any
from urllib.parse import urlencode, urljoin, urlsplit

import httpx
import pytest

from tests.conftest import SiteCreds, earn_token

pytestmark = pytest.mark.anyio

HOST = "passgate.test"  # where passgate answers in the in-process client (conftest)
VISITOR_IP = "203.0.113.7"  # the in-process client's address, which earns the tokens
TOKEN_CHARS = re.compile(r"[A-Za-z0-9._-]+")
FLOAT = re.compile(r'"score":\s*(-?\d+\.\d+(?:[eE][-+]?\d+)?)\s*[,}]')


async def widget_token(client: httpx.AsyncClient, site: SiteCreds, **bind: str) -> str:
    """A token earned as the widget of the given interface earns it (challenge, proof of
    work, solve), with the interface, action and cData it binds."""
    tok = str((await earn_token(client, site.sitekey, **bind))["token"])
    # Gravitee concatenates it into a form body unencoded; the WordPress plugin
    # HTML-escapes it: both are no-ops only for this alphabet.
    assert TOKEN_CHARS.fullmatch(tok), tok
    return tok


def json_of(r: httpx.Response) -> dict[str, Any]:
    """What every product here needs first: HTTP 200 (authentik raise_for_status()es,
    flask-turnstile and Flask-WTF treat any other status as failure) and a JSON object."""
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/json")
    body = json.loads(r.text)
    assert isinstance(body, dict)
    return body


# -- Gitea / Forgejo: CAPTCHA_TYPE=recaptcha, RECAPTCHA_URL ----------------------------------


def gitea_url_join(base: str, *elems: str) -> str:
    """Gitea's util.URLJoin (modules/util/url.go): a "/" is appended to the base when it
    lacks one, then the joined elements are resolved against it as a relative reference."""
    if not base.endswith("/"):
        base += "/"
    return urljoin(base, "/".join(elems))


def go_form(values: dict[str, str]) -> str:
    """Go's url.Values.Encode(): keys in sorted order, QueryEscape'd."""
    return urlencode(sorted(values.items()))


@pytest.mark.parametrize(
    "recaptcha_url", [f"https://{HOST}/recaptcha/", f"https://{HOST}/recaptcha"]
)
async def test_gitea_forgejo_recaptcha(client, site: SiteCreds, recaptcha_url: str) -> None:
    """go-gitea/gitea modules/recaptcha/recaptcha.go @ 0e961e9c: POST
    URLJoin(RECAPTCHA_URL, "api/siteverify"), form `response`, `secret` (no remoteip);
    reads `success`, `error-codes` (the first is the error) into a struct whose
    `challenge_ts` is a string (RFC 3339 in the 2018 version's time.Time)."""
    url = gitea_url_join(recaptcha_url, "api/siteverify")
    assert url == f"https://{HOST}/recaptcha/api/siteverify"
    assert gitea_url_join(recaptcha_url, "api.js") == f"https://{HOST}/recaptcha/api.js"
    tok = await widget_token(client, site, interface="recaptcha")
    body = go_form({"secret": site.secret, "response": tok})
    assert body.startswith("response=")
    headers = {
        "Content-Type": "application/x-www-form-urlencoded",
        "User-Agent": "Go-http-client/1.1",
        "Accept-Encoding": "gzip",
    }
    first = json_of(await client.post(url, content=body, headers=headers))
    assert first["success"] is True
    assert not first.get("error-codes")  # Gitea logs ErrorCodes[0] as the error when present
    assert isinstance(first["challenge_ts"], str) and isinstance(first["hostname"], str)
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ", first["challenge_ts"])
    datetime.fromisoformat(first["challenge_ts"])  # RFC 3339
    assert first["hostname"] == "shop.example"
    replay = json_of(await client.post(url, content=body, headers=headers))
    assert replay["success"] is False
    assert replay["error-codes"][0] == "timeout-or-duplicate"  # one of Google's six
    assert all(isinstance(c, str) for c in replay["error-codes"])


# -- authentik: JS URL and API URL, for each of the three -----------------------------------

AUTHENTIK_RETRIABLE = {
    "missing-input-response",
    "invalid-input-response",
    "timeout-or-duplicate",
    "expired-input-response",
    "already-seen-response",
}


def authentik_accepts(data: dict[str, Any], score_min: float, score_max: float) -> bool:
    """authentik/stages/captcha/stage.py @ 1088ebc3, with error_on_invalid_score on (the
    default): success, then the thresholds applied to any `score` in the answer."""
    if not data.get("success", False):
        return False
    if "score" in data:
        score = float(data["score"])
        if score_max > -1 and score > score_max:
            return False
        if score_min > -1 and score < score_min:
            return False
    return True


@pytest.mark.parametrize(
    ("interface", "api_url", "score_min", "score_max"),
    [
        ("recaptcha", f"https://{HOST}/recaptcha/api/siteverify", 0.5, 1.0),  # the defaults
        ("hcaptcha", f"https://{HOST}/siteverify", 0.0, 0.5),  # the recipe's thresholds
        ("turnstile", f"https://{HOST}/turnstile/v0/siteverify", 0.5, 1.0),  # ignored
    ],
)
async def test_authentik(
    client, site: SiteCreds, interface: str, api_url: str, score_min: float, score_max: float
) -> None:
    """authentik/stages/captcha/stage.py @ 1088ebc3: requests POST to api_url verbatim,
    header `Content-type: application/x-www-form-urlencoded`, form `secret`, `response`,
    `remoteip`; raise_for_status(), then `success`, `error-codes`, `score`."""
    tok = await widget_token(client, site, interface=interface)
    form = {"secret": site.secret, "response": tok, "remoteip": VISITOR_IP}
    headers = {"Content-type": "application/x-www-form-urlencoded"}
    first = json_of(await client.post(api_url, content=urlencode(form), headers=headers))
    assert authentik_accepts(first, score_min, score_max), first
    if interface == "turnstile":
        assert "score" not in first  # authentik would apply its thresholds to one
    if interface == "hcaptcha":  # a risk score: 0.0 is human, so the defaults would refuse
        assert first["score"] == 0.0
        assert not authentik_accepts(first, 0.5, 1.0)
    if interface == "recaptcha":
        assert first["score"] >= 0.5
    replay = json_of(await client.post(api_url, content=urlencode(form), headers=headers))
    assert replay["success"] is False
    assert replay["error-codes"][0] in AUTHENTIK_RETRIABLE


async def test_authentik_json_body(client, site: SiteCreds) -> None:
    """authentik's request_content_type (migration 0005 @ 090c10c6) may be
    application/json; the sending code was not seen, so the same three keys as a JSON
    object, at each endpoint."""
    for interface, path in [
        ("recaptcha", "/recaptcha/api/siteverify"),
        ("hcaptcha", "/siteverify"),
        ("turnstile", "/turnstile/v0/siteverify"),
    ]:
        tok = await widget_token(client, site, interface=interface)
        form = {"secret": site.secret, "response": tok, "remoteip": VISITOR_IP}
        assert json_of(await client.post(path, json=form))["success"] is True
        assert json_of(await client.post(path, json=form))["success"] is False


# -- the hCaptcha WordPress plugin: API host and backend host --------------------------------


def wp_force_https(host: str) -> str:
    """hCaptcha/hcaptcha-wordpress-plugin src/php/Main.php force_https(): scheme dropped,
    then only PHP_URL_HOST of "https://" + it kept: any path and port are lost."""
    host = re.sub(r"(http|https)://", "", host)
    netloc = urlsplit("https://" + host).netloc.rpartition("@")[2]
    return "https://" + re.sub(r":\d*$", "", netloc)


WP_HEADERS = {
    "Content-Type": "application/x-www-form-urlencoded; charset=UTF-8",
    "User-Agent": "WordPress/6.8; https://shop.example",
}


@pytest.mark.parametrize(
    "backend_setting",
    [HOST, f"https://{HOST}", f"https://{HOST}/", f"http://{HOST}:8443/captcha/"],
)
async def test_wordpress_plugin_siteverify(client, site: SiteCreds, backend_setting: str) -> None:
    """src/php/Helpers/API.php @ 6d22d081: wp_remote_post(get_verify_url(), ['body' =>
    [secret, response, remoteip]]): an array body, so a form (WordPress's HTTP API sets
    the urlencoded type with the blog charset); `response` HTML-escaped (a no-op for
    passgate's token alphabet). Reads `success`, `error-codes`."""
    verify_url = wp_force_https(backend_setting) + "/siteverify"
    assert verify_url == f"https://{HOST}/siteverify"  # hence: passgate at https://HOST/
    tok = await widget_token(client, site)  # the hCaptcha interface: /1/api.js
    body = urlencode({"secret": site.secret, "response": tok, "remoteip": VISITOR_IP})
    first = json_of(await client.post(verify_url, content=body, headers=WP_HEADERS))
    assert first["success"] is True and not first.get("error-codes")
    replay = json_of(await client.post(verify_url, content=body, headers=WP_HEADERS))
    assert replay["success"] is False
    assert replay["error-codes"] == ["already-seen-response"]


@pytest.mark.parametrize("content_type", [None, "application/x-www-form-urlencoded"])
async def test_wordpress_plugin_check_site_config(
    client, site: SiteCreds, content_type: str | None
) -> None:
    """hcap_check_site_config(): wp_remote_post(add_query_arg([host, sitekey, sc=1, swa=1,
    spst=0], BACKEND/checksiteconfig)) with no body; reads `pass`, then `error`."""
    base = wp_force_https(f"https://{HOST}/ignored-path") + "/checksiteconfig"
    headers = {"User-Agent": WP_HEADERS["User-Agent"], "Content-Length": "0"}
    if content_type:
        headers["Content-Type"] = content_type

    async def check(host: str, sitekey: str) -> dict[str, Any]:
        query = urlencode({"host": host, "sitekey": sitekey, "sc": 1, "swa": 1, "spst": 0})
        return json_of(await client.post(f"{base}?{query}", content=b"", headers=headers))

    assert await check("shop.example", site.sitekey) == {"pass": True}
    refused = await check("elsewhere.example", site.sitekey)
    assert refused["pass"] is False and "host not allowed" in refused["error"]
    unknown = await check("shop.example", "00000000-0000-4000-8000-000000000000")
    assert unknown["pass"] is False and "unknown sitekey" in unknown["error"]


# -- Gravitee: reCaptcha.serviceUrl ----------------------------------------------------------


async def test_gravitee_apim(client, site: SiteCreds) -> None:
    """gravitee-api-management ReCaptchaServiceImpl.java @ 2fb9f937: POST serviceUrl
    verbatim, `Content-Type: application/x-www-form-urlencoded`, body concatenated
    unencoded `"secret=" + secretKey + "&response=" + token`; `(Boolean) success`,
    `(Double) score` (a JSON integer throws ClassCastException; missing → 0.0), passes
    when `success && score >= minScore` (0.5). The portal earns a v3 token with
    grecaptcha.execute(siteKey, {action})."""
    service_url = f"https://{HOST}/recaptcha/api/siteverify"
    tok = await widget_token(client, site, interface="recaptcha", action="login")
    body = "secret=" + site.secret + "&response=" + tok
    headers = {"Content-Type": "application/x-www-form-urlencoded"}
    r = await client.post(service_url, content=body, headers=headers)
    first = json_of(r)
    assert isinstance(first["success"], bool) and first["success"] is True
    m = FLOAT.search(r.text)  # Jackson maps a number with a decimal point to Double
    assert m is not None, r.text
    assert float(m.group(1)) == first["score"] >= 0.5
    assert first["action"] == "login"
    replay = json_of(await client.post(service_url, content=body, headers=headers))
    assert replay["success"] is False  # Gravitee: (Boolean) false → refused


async def test_gravitee_access_management(client, site: SiteCreds) -> None:
    """gravitee-access-management ReCaptchaServiceImpl.java @ 4bb50a3c: the same setting
    and casts, the form sent encoded by Vert.x's rxSendForm (secret, response)."""
    service_url = f"https://{HOST}/recaptcha/api/siteverify"
    tok = await widget_token(client, site, interface="recaptcha", action="login")
    form = {"secret": site.secret, "response": tok}
    r = await client.post(service_url, data=form)
    assert json_of(r)["success"] is True and FLOAT.search(r.text)
    assert json_of(await client.post(service_url, data=form))["success"] is False


# -- Mastodon: the hcaptcha gem's URLs -------------------------------------------------------


async def test_mastodon_hcaptcha_gem(client, site: SiteCreds) -> None:
    """The hcaptcha gem (~> 7.1, Mastodon's Gemfile), lib/hcaptcha.rb (fork
    yukimochi/hcaptcha-turnstile @ 50cca7ee, upstream's code): Net::HTTP::Get of
    verify_url + "?" + URI.encode_www_form(secret, response, remoteip); TLS when the port
    is 443; passes when `reply['success'].to_s == 'true'` (Mastodon checks nothing else)."""
    verify_url = f"https://{HOST}/siteverify"  # Hcaptcha.configure { |c| c.verify_url = }
    assert urlsplit(verify_url).port is None  # 443: the gem turns TLS on only there
    tok = await widget_token(client, site)
    query = urlencode({"secret": site.secret, "response": tok, "remoteip": VISITOR_IP})
    headers = {"Accept": "*/*", "User-Agent": "Ruby"}
    first = json_of(await client.get(verify_url + "?" + query, headers=headers))
    assert str(first["success"]).lower() == "true"
    replay = json_of(await client.get(verify_url + "?" + query, headers=headers))
    assert replay["success"] is False
    assert replay["error-codes"] == ["already-seen-response"]


# -- plain HTML and fetch, one per interface -------------------------------------------------

FETCH_FORM = {"Content-Type": "application/x-www-form-urlencoded;charset=UTF-8"}


async def test_plain_fetch_hcaptcha(client, site: SiteCreds) -> None:
    """docs/integrations.md: fetch(HOST/siteverify, {method: 'POST', body: new
    URLSearchParams({secret, response, remoteip})})."""
    tok = await widget_token(client, site)
    body = urlencode({"secret": site.secret, "response": tok, "remoteip": VISITOR_IP})
    url = f"https://{HOST}/siteverify"
    first = json_of(await client.post(url, content=body, headers=FETCH_FORM))
    assert first["success"] is True and first["hostname"] == "shop.example"
    replay = json_of(await client.post(url, content=body, headers=FETCH_FORM))
    assert replay["error-codes"] == ["already-seen-response"]


async def test_plain_fetch_turnstile(client, site: SiteCreds) -> None:
    """docs/integrations.md: fetch(HOST/turnstile/v0/siteverify) with a JSON body and an
    idempotency_key (Cloudflare's server-side validation example); a retry with the same
    key gets the first answer, another request gets timeout-or-duplicate."""
    tok = await widget_token(client, site, interface="turnstile", action="login", cdata="s-42")
    url = f"https://{HOST}/turnstile/v0/siteverify"
    payload = {
        "secret": site.secret,
        "response": tok,
        "remoteip": VISITOR_IP,
        "idempotency_key": "8a4f6d1e-3c2b-4e5f-9a7b-1c2d3e4f5a6b",
    }
    headers = {"Content-Type": "application/json"}
    r1 = await client.post(url, content=json.dumps(payload), headers=headers)
    first = json_of(r1)
    assert first["success"] is True and first["error-codes"] == []
    assert (first["action"], first["cdata"], first["hostname"]) == ("login", "s-42", "shop.example")
    retry = await client.post(url, content=json.dumps(payload), headers=headers)
    assert retry.status_code == 200 and retry.text == r1.text
    fresh = {k: v for k, v in payload.items() if k != "idempotency_key"}
    replay = json_of(await client.post(url, content=json.dumps(fresh), headers=headers))
    assert replay == {"success": False, "error-codes": ["timeout-or-duplicate"]}


async def test_plain_fetch_recaptcha_v3(client, site: SiteCreds) -> None:
    """docs/integrations.md: grecaptcha.execute(SITEKEY, {action: 'submit'}) in the page,
    then fetch(HOST/recaptcha/api/siteverify, {method: 'POST', body: new
    URLSearchParams(...)}) and the backend checks success, action and score >= 0.5."""
    tok = await widget_token(client, site, interface="recaptcha", action="submit")
    body = urlencode({"secret": site.secret, "response": tok, "remoteip": VISITOR_IP})
    url = f"https://{HOST}/recaptcha/api/siteverify"
    first = json_of(await client.post(url, content=body, headers=FETCH_FORM))
    assert first["success"] is True and first["action"] == "submit"
    assert first["score"] >= 0.5
    replay = json_of(await client.post(url, content=body, headers=FETCH_FORM))
    assert replay == {"success": False, "error-codes": ["timeout-or-duplicate"]}


async def test_plain_fetch_recaptcha_v2_has_no_action(client, site: SiteCreds) -> None:
    """A v2 checkbox binds no action: `action` is omitted, as Google omits it."""
    tok = await widget_token(client, site, interface="recaptcha")
    body = urlencode({"secret": site.secret, "response": tok})
    first = json_of(
        await client.post("/recaptcha/api/siteverify", content=body, headers=FETCH_FORM)
    )
    assert first["success"] is True and "action" not in first


# -- the scripts each product's pages load ---------------------------------------------------

SCRIPT_URLS = [
    ("gitea", "/recaptcha/api.js"),
    ("authentik-recaptcha", "/recaptcha/api.js"),
    ("authentik-hcaptcha", "/1/api.js?recaptchacompat=off"),
    ("authentik-turnstile", "/turnstile/v0/api.js"),
    ("wordpress", "/1/api.js?onload=hCaptchaOnLoad&render=explicit"),
    ("wordpress-compat-off", "/1/api.js?onload=hCaptchaOnLoad&render=explicit&recaptchacompat=off"),
    ("gravitee-portal", "/recaptcha/api.js?render={sitekey}"),
    ("mastodon", "/1/api.js"),
    ("flask-wtf", "/recaptcha/api.js"),
    ("html-hcaptcha", "/1/api.js"),
    ("html-turnstile-implicit", "/turnstile/v0/api.js"),
    ("html-turnstile-explicit", "/turnstile/v0/api.js?render=explicit&onload=onloadTurnstile"),
    ("html-recaptcha-v2", "/recaptcha/api.js"),
    ("html-recaptcha-v2-explicit", "/recaptcha/api.js?onload=onloadCallback&render=explicit"),
    ("html-recaptcha-v3", "/recaptcha/api.js?render={sitekey}"),
    ("html-recaptcha-api2", "/recaptcha/api2/api.js"),
]


@pytest.mark.parametrize(("product", "path"), SCRIPT_URLS, ids=[p for p, _ in SCRIPT_URLS])
async def test_frontend_script_urls_answer_javascript(
    client, site: SiteCreds, product: str, path: str
) -> None:
    """Every script URL a recipe's pages load, with the query parameters they add,
    answers 200 text/javascript, loadable from any origin."""
    r = await client.get(
        f"https://{HOST}" + path.format(sitekey=site.sitekey),
        headers={"Origin": "https://shop.example", "Referer": "https://shop.example/login"},
    )
    assert r.status_code == 200, (product, r.status_code)
    assert r.headers["content-type"].split(";")[0].strip() == "text/javascript"
    assert r.headers.get("access-control-allow-origin") == "*"
    assert r.text.strip()
