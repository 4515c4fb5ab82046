"""The console over HTTP, in process: sign-in and its limits, the session cookie, CSRF on
every form, roles, shown-once secrets, the headers and markup every page carries, the stats
JSON, and bad input answered 400 (never 500)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator

import httpx
import pytest
import sqlalchemy as sa
from argon2 import PasswordHasher

from passgate import addresses
from passgate.app import create_app
from passgate.audit import AuditLog
from passgate.console import accounts, auth, render, views
from passgate.console.accounts import UserRegistry
from passgate.console.sessions import SessionStore
from passgate.manage import Manager
from passgate.service import Service
from passgate.sites import SiteRegistry
from passgate.store import stats as stats_store
from passgate.tokenapi.apikeys import ApiKeyRegistry
from passgate.tokenapi.grants import GrantRegistry

pytestmark = pytest.mark.anyio

PASSWORD = "correct horse battery"
CSRF_FIELD = re.compile(r'name="csrf" value="([^"]+)"')
SHOWN_SECRET = re.compile(r'id="shown-secret"[^>]*value="([^"]+)"')


@pytest.fixture(autouse=True)
def quick_hashes(monkeypatch: pytest.MonkeyPatch) -> None:
    """Argon2id at its lightest: the tests sign in often (the parameters are not tested here)."""

    def cheap(*args: int, **kwargs: int) -> PasswordHasher:
        if args or kwargs:
            return PasswordHasher(*args, **kwargs)
        return PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)

    monkeypatch.setattr(accounts, "PasswordHasher", cheap)


@pytest.fixture
def users(service: Service) -> None:
    registry = UserRegistry(service.engine)
    registry.add("alice", PASSWORD, "owner")
    registry.add("victor", PASSWORD, "viewer")


@pytest.fixture
def made(service: Service, users: None) -> dict[str, str]:
    """A site, an API key with a grant: something on every page to show and change."""
    manager = Manager(service.engine, service.master, "cli")
    site, _ = manager.add_site(["shop.example"], name="shop")
    manager.add_key("ci")
    manager.put_grant("ci", site.sitekey, 60.0, 10, None)
    return {"sitekey": site.sitekey}


def new_client(service: Service, base_url: str = "http://passgate.test", ip: str = "203.0.113.7"):
    transport = httpx.ASGITransport(app=create_app(service), client=(ip, 5555))
    return httpx.AsyncClient(transport=transport, base_url=base_url)


@pytest.fixture
async def owner(service: Service, made: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(service) as c:
        await sign_in(c, "alice")
        yield c


@pytest.fixture
async def viewer(service: Service, made: dict[str, str]) -> AsyncIterator[httpx.AsyncClient]:
    async with new_client(service, ip="198.51.100.9") as c:
        await sign_in(c, "victor")
        yield c


def csrf_of(html: str) -> str:
    found = CSRF_FIELD.search(html)
    assert found, "no CSRF field on the page"
    return found[1]


async def sign_in(
    c: httpx.AsyncClient, name: str, password: str = PASSWORD, expect: int | None = 303
) -> httpx.Response:
    page = await c.get("/console/")
    r = await c.post(
        "/console/signin", data={"csrf": csrf_of(page.text), "name": name, "password": password}
    )
    assert expect is None or r.status_code == expect, r.text
    return r


async def post_form(
    c: httpx.AsyncClient, path: str, fields: dict[str, str], page: str = "/console/sites"
) -> httpx.Response:
    """A form posted as the browser would: with the CSRF token of a page just shown."""
    shown = await c.get(page)
    return await c.post(path, data={"csrf": csrf_of(shown.text), **fields})


def set_cookies(r: httpx.Response) -> dict[str, str]:
    return {h.split("=", 1)[0]: h for h in r.headers.get_list("set-cookie")}


def pages(sitekey: str) -> list[str]:
    return [
        "/console/",
        "/console/?since=1h",
        "/console/?since=30d&site=" + sitekey,
        "/console/sites",
        f"/console/sites/{sitekey}",
        f"/console/sites/{sitekey}/remove",
        "/console/keys",
        "/console/keys?key=ci&site=" + sitekey,
        "/console/signing",
        "/console/audit",
        "/console/audit?actor=cli&action=site.",
        "/console/health",
    ]


def forms(sitekey: str) -> dict[str, dict[str, str]]:
    """Every form the console has, with fields that would succeed."""
    return {
        "/console/sites": {"hostnames": "new.example", "name": "new", "adaptive": "on"},
        f"/console/sites/{sitekey}/edit": {"hostnames": "shop.example", "name": "renamed"},
        f"/console/sites/{sitekey}/rotate": {},
        f"/console/sites/{sitekey}/remove": {},
        "/console/keys": {"name": "fresh"},
        "/console/keys/revoke": {"name": "ci"},
        "/console/grants": {"key": "ci", "site": sitekey, "rate": "2/s", "burst": "5"},
        "/console/grants/remove": {"key": "ci", "site": sitekey},
        "/console/signing/rotate": {},
        "/console/signing/admin-token": {},
    }


def post_paths() -> set[str]:
    out = set()
    for route in views.routes():
        methods = getattr(route, "methods", None) or set()
        if "POST" in methods:
            out.add(route.path)  # type: ignore[attr-defined]
    return out


# -- signing in ----------------------------------------------------------------------------------


async def test_the_sign_in_page_has_its_fields_and_button(client, users) -> None:
    r = await client.get("/console/")
    assert r.status_code == 200
    assert re.search(r'<label for="name">User name</label>', r.text)
    assert re.search(r'<label for="password">Password</label>', r.text)
    assert re.search(r'id="password" name="password" type="password"', r.text)
    assert re.search(r"<button type=\"submit\">Sign in</button>", r.text)
    assert '<form method="post" action="/console/signin"' in r.text
    pre = set_cookies(r)[auth.PRE_COOKIE]
    assert "HttpOnly" in pre and "SameSite=strict" in pre and "Path=/console" in pre
    assert "Secure" not in pre


async def test_wrong_password_and_unknown_user_get_the_same_answer(client, service, users) -> None:
    wrong = await sign_in(client, "alice", "not the password!", expect=401)
    unknown = await sign_in(client, "mallory", PASSWORD, expect=401)
    for r in (wrong, unknown):
        assert auth.WRONG in r.text
        assert auth.COOKIE not in set_cookies(r)
    assert wrong.text.replace("alice", "NAME") == unknown.text.replace("mallory", "NAME")
    failed = AuditLog(service.engine).list(action="signin.failed")
    assert [(e.target, e.ip) for e in failed] == [
        ("mallory", "203.0.113.7"),
        ("alice", "203.0.113.7"),
    ]
    assert all(PASSWORD not in str(e.detail) for e in failed)


async def test_sign_in_and_out(client, service, users) -> None:
    r = await sign_in(client, "alice")
    assert r.headers["location"] == "/console/"
    home = await client.get("/console/")
    assert "alice" in home.text and "(owner)" in home.text and ">Sign out<" in home.text
    out = await client.post("/console/signout", data={"csrf": csrf_of(home.text)})
    assert out.status_code == 303
    assert (await client.get("/console/sites")).headers["location"] == "/console/"
    assert [e.action for e in AuditLog(service.engine).list()] == ["signout", "signin"]
    assert AuditLog(service.engine).list()[1].actor == "user:alice"


async def test_each_sign_in_gets_a_new_session_and_ends_the_one_it_replaces(service, users) -> None:
    async with new_client(service) as c:
        first = (await sign_in(c, "alice")).cookies[auth.COOKIE]
        c.cookies.delete(auth.COOKIE)
        page = await c.get("/console/")  # signed out again: the sign-in form
        c.cookies.set(auth.COOKIE, first, domain="passgate.test", path="/console")
        r = await c.post(
            "/console/signin",
            data={"csrf": csrf_of(page.text), "name": "alice", "password": PASSWORD},
        )
        second = r.cookies[auth.COOKIE]
        assert second != first
        assert (await c.get("/console/sites")).status_code == 200
        c.cookies.set(auth.COOKIE, first, domain="passgate.test", path="/console")
        assert (await c.get("/console/sites")).status_code == 303


async def test_a_password_change_ends_the_session(owner, service) -> None:
    assert (await owner.get("/console/sites")).status_code == 200
    UserRegistry(service.engine).set_password("alice", "another long password")
    assert (await owner.get("/console/sites")).headers["location"] == "/console/"


async def test_attempts_per_account_are_limited(client, users) -> None:
    for _ in range(auth.ACCOUNT_BURST):
        await sign_in(client, "alice", "not the password!", expect=401)
    r = await sign_in(client, "alice", PASSWORD, expect=429)  # even the right one, for now
    assert re.search(r"Too many sign-in attempts; try again in \d+ s\.", r.text)
    assert int(r.headers["retry-after"]) >= 1
    service = client._transport.app.state.service
    async with new_client(service, ip="192.0.2.1") as other:
        await sign_in(other, "alice")  # a guesser elsewhere never locks the owner out
    async with new_client(service, ip="203.0.113.9") as same_network:
        await sign_in(same_network, "victor")  # another account is not held up


async def test_a_spread_out_attack_on_one_account_is_held_to_a_rate(service, users) -> None:
    refused = 0
    for i in range(auth.ACCOUNT_ALL_BURST + 5):  # every attempt from another /24
        async with new_client(service, ip=f"10.{i // 256}.{i % 256}.1") as c:
            r = await sign_in(c, "alice", "not the password!", expect=None)
            refused += r.status_code == 429
    assert refused >= 5


async def test_attempts_per_source_are_limited(service, users, monkeypatch) -> None:
    monkeypatch.setattr(UserRegistry, "authenticate", lambda self, name, password: None)
    async with new_client(service, ip="203.0.113.7") as c:
        for i in range(auth.SOURCE_BURST):
            await sign_in(c, f"user{i}", expect=401)
        await sign_in(c, "someone-else", expect=429)
    async with new_client(service, ip="203.0.113.200") as neighbour:  # the same /24
        await sign_in(neighbour, "another", expect=429)
    async with new_client(service, ip="192.0.2.1") as elsewhere:
        await sign_in(elsewhere, "another", expect=401)


async def test_the_session_cookie(service, users) -> None:
    async with new_client(service) as c:
        cookie = set_cookies(await sign_in(c, "alice"))[auth.COOKIE]
    assert "HttpOnly" in cookie and "SameSite=lax" in cookie and "Path=/console" in cookie
    assert "Secure" not in cookie
    async with new_client(service, base_url="https://passgate.test") as c:
        assert "Secure" in set_cookies(await sign_in(c, "alice"))[auth.COOKIE]


@pytest.mark.parametrize(("trusted", "secure"), [(False, False), (True, True)])
async def test_forwarded_https_counts_only_from_a_trusted_proxy(
    service, users, trusted: bool, secure: bool
) -> None:
    if trusted:
        service.trusted_proxies = [addresses.network("203.0.113.0/24")]
    async with new_client(service) as c:
        page = await c.get("/console/", headers={"x-forwarded-proto": "https"})
        assert ("Secure" in set_cookies(page)[auth.PRE_COOKIE]) is secure
        pre = page.cookies[auth.PRE_COOKIE]  # (httpx sends a Secure cookie over https only)
        r = await c.post(
            "/console/signin",
            data={"csrf": csrf_of(page.text), "name": "alice", "password": PASSWORD},
            headers={"x-forwarded-proto": "https", "cookie": f"{auth.PRE_COOKIE}={pre}"},
        )
        assert ("Secure" in set_cookies(r)[auth.COOKIE]) is secure


# -- CSRF and roles ------------------------------------------------------------------------------


async def test_every_form_is_tested_here(made) -> None:
    tested = {re.sub(r"/[0-9a-f-]{36}/", "/{sitekey}/", p) for p in forms(made["sitekey"])}
    assert post_paths() == tested | {"/console/signin", "/console/signout"}


async def test_sign_in_without_its_token_is_refused(client, service, users) -> None:
    await client.get("/console/")  # the pre-session cookie
    for fields in ({}, {"csrf": "forged"}):
        r = await client.post(
            "/console/signin", data={**fields, "name": "alice", "password": PASSWORD}
        )
        assert r.status_code == 403 and "security token" in r.text
        assert auth.COOKIE not in set_cookies(r)
    async with new_client(service) as fresh:  # a token without its cookie
        page = await client.get("/console/")
        r = await fresh.post(
            "/console/signin",
            data={"csrf": csrf_of(page.text), "name": "alice", "password": PASSWORD},
        )
        assert r.status_code == 403


@pytest.mark.parametrize("token", [None, "wrong"])
async def test_forms_without_the_session_token_are_refused(owner, service, made, token) -> None:
    sitekey = made["sitekey"]
    for path, fields in [*forms(sitekey).items(), ("/console/signout", {})]:
        data = fields if token is None else {**fields, "csrf": token}
        r = await owner.post(path, data=data)
        assert r.status_code == 403, path
        assert "security token" in r.text
    assert SiteRegistry(service.engine).get(sitekey).name == "shop"
    assert ApiKeyRegistry(service.engine).get("ci").active
    assert [e.action for e in AuditLog(service.engine).list(actor="user:alice")] == ["signin"]
    assert (await owner.get("/console/sites")).status_code == 200  # still signed in


async def test_viewers_change_nothing(viewer, service, made) -> None:
    sitekey = made["sitekey"]
    for path, fields in forms(sitekey).items():
        r = await post_form(viewer, path, fields)
        assert r.status_code == 403, path
        assert "Viewers see everything and change nothing" in r.text
    assert SiteRegistry(service.engine).get(sitekey).name == "shop"
    assert GrantRegistry(service.engine).list()
    assert [e.action for e in AuditLog(service.engine).list(actor="user:victor")] == ["signin"]
    assert (await post_form(viewer, "/console/signout", {})).status_code == 303


async def test_viewers_are_shown_no_forms_that_change(viewer, made) -> None:
    for path in pages(made["sitekey"]):
        html = (await viewer.get(path)).text
        actions = set(re.findall(r'<form method="post" action="([^"]+)"', html))
        assert actions == {"/console/signout"}, path


async def test_a_form_without_a_session_is_refused(client, made) -> None:
    r = await client.post("/console/sites", data={"csrf": "x", "hostnames": "a.example"})
    assert r.status_code == 403 and "not signed in" in r.text


# -- pages ---------------------------------------------------------------------------------------


async def test_every_page_renders_for_owners_and_viewers(owner, viewer, made) -> None:
    for c, path in [(c, p) for c in (owner, viewer) for p in pages(made["sitekey"])]:
        r = await c.get(path)
        assert r.status_code == 200, path
        assert "<nav" in r.text and "<main" in r.text and 'lang="en"' in r.text
        for name in ("Overview", "Sites", "API keys", "Signing keys", "Audit log", "Health"):
            assert f">{name}</a>" in r.text


def assert_console_headers(r: httpx.Response) -> None:
    for name, value in render.HEADERS.items():
        assert r.headers.get(name) == value, (r.request.url, name)
    assert "frame-ancestors 'none'" in r.headers["content-security-policy"]


def assert_no_inline_code(html: str) -> None:
    assert not re.search(r"<script(?![^>]*\ssrc=)[^>]*>", html), "an inline script"
    assert "<style" not in html, "an inline style sheet"
    assert not re.search(r"\sstyle=", html), "a style attribute"
    assert not re.search(r"\son[a-z]+=", html), "an inline event handler"
    for src in re.findall(r'<(?:script|link)[^>]+(?:src|href)="([^"]+)"', html):
        assert src.startswith("/console/static/") or src == "data:,", src


async def test_every_answer_carries_the_headers_and_no_inline_code(
    client, owner, viewer, made
) -> None:
    sitekey = made["sitekey"]
    answers = [await client.get("/console/"), await client.get("/console/nowhere")]
    for c in (owner, viewer):
        answers += [await c.get(p) for p in pages(sitekey)]
        answers.append(await c.get("/console/nowhere"))
        answers.append(await c.post("/console/sites", data={"csrf": "forged"}))
    answers.append(await post_form(owner, "/console/sites", {"hostnames": ""}))
    answers.append(await sign_in(client, "alice", "not the password!", expect=401))
    for r in answers:
        assert_console_headers(r)
        assert r.headers["content-type"].startswith("text/html")
        assert_no_inline_code(r.text)
    assert_console_headers(await owner.get("/console/api/stats"))
    assert_console_headers(await post_form(owner, "/console/keys", {"name": "k2"}))  # 303


async def test_the_static_files_are_hashed_and_local(owner) -> None:
    html = (await owner.get("/console/")).text
    srcs = re.findall(r'(?:src|href)="(/console/static/[^"]+)"', html)
    assert {s.split("/")[-1].split(".")[0] for s in srcs} == {"console", "uplot"}
    for src in srcs:
        assert re.fullmatch(r"/console/static/[a-z]+\.[0-9a-f]{12}\.(js|css)", src)
        r = await owner.get(src)
        assert r.status_code == 200 and "immutable" in r.headers["cache-control"]
    uplot = next(s for s in srcs if s.endswith(".js") and "uplot" in s)
    assert (await owner.get(uplot)).text.startswith("/*! uplot ")


async def test_adding_a_site_shows_its_secret_once(owner, service) -> None:
    r = await post_form(owner, "/console/sites", {"hostnames": "a.example, b.example",
                                                  "name": "blog", "bind_ip": "on"})  # fmt: skip
    assert r.status_code == 303
    shown = await owner.get(r.headers["location"])
    secret = SHOWN_SECRET.search(shown.text)[1]
    sitekey = r.headers["location"].rsplit("/", 1)[1]
    site = SiteRegistry(service.engine).get(sitekey)
    assert (
        site.secret_matches(secret)
        and site.bind_ip
        and site.hostnames == ("a.example", "b.example")
    )
    assert f'data-sitekey="{sitekey}"' in shown.text and f"sitekey={sitekey}" in shown.text
    again = await owner.get(r.headers["location"])
    assert (
        again.status_code == 200
        and secret not in again.text
        and not SHOWN_SECRET.search(again.text)
    )
    entry = AuditLog(service.engine).list(action="site.add")[0]
    assert (entry.actor, entry.target, entry.ip) == ("user:alice", sitekey, "203.0.113.7")
    assert secret not in str(entry.detail)


async def test_rotating_a_secret_shows_the_new_one_once(owner, service, made) -> None:
    sitekey = made["sitekey"]
    r = await post_form(owner, f"/console/sites/{sitekey}/rotate", {})
    assert r.headers["location"] == f"/console/sites/{sitekey}"
    secret = SHOWN_SECRET.search((await owner.get(r.headers["location"])).text)[1]
    assert SiteRegistry(service.engine).get(sitekey).secret_matches(secret)
    assert secret not in (await owner.get(r.headers["location"])).text


async def test_a_new_key_token_and_admin_token_are_shown_once(owner, service) -> None:
    r = await post_form(owner, "/console/keys", {"name": "deploy"})
    token = SHOWN_SECRET.search((await owner.get(r.headers["location"])).text)[1]
    assert ApiKeyRegistry(service.engine).authenticate(token).name == "deploy"
    assert token not in (await owner.get("/console/keys")).text
    r = await post_form(owner, "/console/signing/admin-token", {})
    admin = SHOWN_SECRET.search((await owner.get(r.headers["location"])).text)[1]
    assert admin not in (await owner.get("/console/signing")).text


async def test_owners_change_things(owner, service, made) -> None:
    sitekey = made["sitekey"]
    edit = {"hostnames": "shop.example\nwww.shop.example", "name": "Shop", "difficulty": "5000",
            "token_lifetime": "60", "adaptive": "on", "max_difficulty": "90000",
            "allowlist": "198.51.100.0/24"}  # fmt: skip
    assert (await post_form(owner, f"/console/sites/{sitekey}/edit", edit)).status_code == 303
    site = SiteRegistry(service.engine).get(sitekey)
    assert (site.name, site.difficulty, site.token_lifetime, site.cap) == ("Shop", 5000, 60, 90000)
    assert site.hostnames == ("shop.example", "www.shop.example") and site.allowlist
    grant = {
        "key": "ci",
        "site": sitekey,
        "rate": "2/s",
        "burst": "5",
        "expires": "2099-01-01T00:00",
    }
    assert (await post_form(owner, "/console/grants", grant)).status_code == 303
    assert GrantRegistry(service.engine).list()[0].rate_per_min == 120
    assert (
        await post_form(owner, "/console/grants/remove", {"key": "ci", "site": sitekey})
    ).status_code == 303
    assert (await post_form(owner, "/console/keys/revoke", {"name": "ci"})).status_code == 303
    assert not ApiKeyRegistry(service.engine).get("ci").active
    before = service.ring.current
    assert (await post_form(owner, "/console/signing/rotate", {})).status_code == 303
    assert service.ring.current != before
    confirm = await owner.get(f"/console/sites/{sitekey}/remove")
    assert confirm.status_code == 200 and ">Remove site</button>" in confirm.text
    assert SiteRegistry(service.engine).get(sitekey) is not None  # the GET changed nothing
    r = await post_form(owner, f"/console/sites/{sitekey}/remove", {})
    assert (
        r.headers["location"] == "/console/sites"
        and SiteRegistry(service.engine).get(sitekey) is None
    )
    actions = [e.action for e in AuditLog(service.engine).list(actor="user:alice")]
    assert actions[:-1] == ["site.remove", "signing_key.rotate", "key.revoke", "grant.remove",
                            "grant.put", "site.update"]  # fmt: skip


async def test_switching_algorithm_takes_its_default_difficulty(owner, service, made) -> None:
    sitekey = made["sitekey"]
    site = SiteRegistry(service.engine).get(sitekey)
    fields = {"hostnames": "shop.example", "algorithm": "argon2id", "adaptive": "on",
              "difficulty": str(site.difficulty), "max_difficulty": ""}  # fmt: skip
    assert (await post_form(owner, f"/console/sites/{sitekey}/edit", fields)).status_code == 303
    site = SiteRegistry(service.engine).get(sitekey)
    assert (site.algorithm, site.difficulty, site.max_difficulty) == ("argon2id", 300, None)


@pytest.mark.parametrize(
    ("path", "fields", "message"),
    [
        ("/console/sites", {"hostnames": ""}, "at least one hostname"),
        ("/console/sites", {"hostnames": "http://x.example/"}, "not a hostname"),
        ("/console/sites", {"hostnames": "x.example", "difficulty": "lots"}, "whole number"),
        ("/console/sites", {"hostnames": "x.example", "token_lifetime": "5"}, "between 10"),
        ("/console/sites", {"hostnames": "x.example", "algorithm": "md5"}, "unknown algorithm"),
        ("/console/sites", {"hostnames": "x.example", "prefix_v4": "8"}, "prefix length"),
        ("/console/sites", {"hostnames": "x.example", "allowlist": "nope"}, "CIDR"),
        ("/console/sites", {"hostnames": "x.example", "difficulty": "9" * 5000}, "whole number"),
        ("/SITE/edit", {"hostnames": "shop.example", "difficulty": "0"}, "between 1"),
        (
            "/SITE/edit",
            {"hostnames": "shop.example", "algorithm": "argon2id", "fallback": "md5"},
            "fallback must be",
        ),
        ("/console/keys", {"name": "bad name!"}, "key name"),
        ("/console/keys", {"name": "ci"}, "exists already"),
        ("/console/keys", {"name": ""}, "key name"),
        ("/console/keys/revoke", {"name": "nobody"}, "no API key"),
        ("/console/keys/revoke", {}, "Choose a key"),
        ("/console/grants", {"key": "ci", "site": "SITEKEY", "rate": "fast"}, "not a rate"),
        ("/console/grants", {"key": "ci", "site": "SITEKEY", "burst": "0"}, "burst"),
        ("/console/grants", {"key": "ci", "site": "SITEKEY", "expires": "soon"}, "ISO 8601"),
        ("/console/grants", {"key": "nobody", "site": "SITEKEY"}, "no API key"),
        ("/console/grants", {"key": "ci", "site": "not-a-site"}, "not a sitekey"),
        ("/console/grants/remove", {"key": "ci", "site": "not-a-site"}, "no grant"),
    ],
)
async def test_bad_input_is_a_400_with_a_message(owner, made, path, fields, message) -> None:
    sitekey = made["sitekey"]
    path = path.replace("/SITE", f"/console/sites/{sitekey}")
    fields = {k: v.replace("SITEKEY", sitekey) for k, v in fields.items()}
    r = await post_form(owner, path, fields)
    assert r.status_code == 400, r.text
    alert = re.search(r'role="alert">\s*<p>([^<]*)</p>', r.text)
    assert alert and message.lower() in alert[1].lower(), alert and alert[1]
    assert_no_inline_code(r.text)


async def test_a_refused_form_keeps_what_was_typed(owner) -> None:
    r = await post_form(owner, "/console/sites", {"hostnames": "a.example", "name": "kept",
                                                  "difficulty": "lots"})  # fmt: skip
    assert r.status_code == 400 and 'value="kept"' in r.text and "a.example</textarea>" in r.text


async def test_missing_things_are_404_pages(owner) -> None:
    for r in (
        await owner.get("/console/sites/no-such-site"),
        await owner.get("/console/sites/no-such-site/remove"),
        await post_form(owner, "/console/sites/no-such-site/rotate", {}),
        await owner.get("/console/nowhere"),
    ):
        assert r.status_code == 404 and "<main" in r.text
        assert_console_headers(r)


async def test_bad_overview_choices_are_a_400_with_a_message(owner) -> None:
    r = await owner.get("/console/?since=1y")
    assert r.status_code == 400 and "The range must be one of" in r.text
    r = await owner.get("/console/?site=nope")
    assert r.status_code == 400 and "No site with sitekey" in r.text


async def test_an_oversized_or_unreadable_form_is_refused(owner) -> None:
    r = await owner.post("/console/sites", content=b"x=" + b"a" * 70_000,
                         headers={"content-type": "application/x-www-form-urlencoded"})  # fmt: skip
    assert r.status_code == 413
    r = await owner.post("/console/sites", content=b"--x\r\n",
                         headers={"content-type": "multipart/form-data; boundary=x"})  # fmt: skip
    assert r.status_code in (400, 403)


# -- the stats JSON ------------------------------------------------------------------------------


async def test_stats_json_needs_a_session(client, made) -> None:
    r = await client.get("/console/api/stats?since=1h")
    assert r.status_code == 401 and r.json()["error"] == "not_signed_in"


async def test_stats_json_has_the_report_and_the_charts(owner, service, made) -> None:
    sitekey = made["sitekey"]
    now = int(time.time())
    stats_store.flush(
        service.engine,
        {
            (now - 120, sitekey, "issued", "1x"): 4,
            (now - 120, sitekey, "solved", ""): 3,
            (now - 60, sitekey, "verify", "hcaptcha:success"): 2,
            (now - 60, sitekey, "verify", "hcaptcha:already-seen-response"): 1,
            (now - 60, sitekey, "verify", "turnstile:success"): 3,
            (now - 60, sitekey, "earned", "recaptcha"): 3,
            (now - 60, sitekey, "tokenapi", "ci:ok"): 5,
        },
    )
    r = await owner.get(f"/console/api/stats?since=1h&site={sitekey}")
    assert r.status_code == 200
    data = r.json()
    assert data["total"]["challenges"]["issued"] == 4 and data["step"] == 60
    assert sum(b["issued"] for b in data["series"]) == 4
    charts = {c["id"]: c for c in data["charts"]}
    assert set(charts) == {
        "challenges",
        "siteverify",
        "interfaces",
        "earned",
        "minted",
        "passrate",
        "solvetime",
        "difficulty",
    }
    verify = charts["siteverify"]
    assert verify["columns"] == ["Success", "Replay: already-seen-response"]
    assert sum(row[1] for row in verify["values"]) == 1
    by_interface = charts["interfaces"]
    assert by_interface["columns"] == ["hcaptcha", "turnstile"]
    assert [sum(col) for col in zip(*by_interface["values"], strict=True)] == [2, 3]
    assert charts["earned"]["columns"] == ["recaptcha"]
    assert charts["minted"]["columns"] == ["ci"]
    assert len(charts["challenges"]["times"]) in (60, 61)
    assert {t["id"]: t["text"] for t in data["totals"]}["replays"] == "0"
    page = (await owner.get(f"/console/?since=1h&site={sitekey}")).text
    assert "Replay: already-seen-response" in page  # the tables state the same numbers
    assert (await owner.get("/console/api/stats?since=1y")).status_code == 400


async def test_a_store_that_does_not_answer_is_a_503_page(owner, client, made, monkeypatch) -> None:
    def down(*args: object, **kwargs: object) -> None:
        raise sa.exc.OperationalError("SELECT", {}, Exception("gone"))

    monkeypatch.setattr(SiteRegistry, "all", down)
    for r in (await owner.get("/console/sites"), await owner.get("/console/")):
        assert r.status_code == 503 and "did not answer" in r.text
        assert_console_headers(r)
    monkeypatch.setattr(SessionStore, "get", down)
    answers = [
        await owner.get("/console/keys"),
        await owner.post("/console/signout", data={"csrf": "x"}),
        await owner.post("/console/sites", data={"csrf": "x"}),
    ]
    monkeypatch.setattr(UserRegistry, "authenticate", down)
    answers.append(await sign_in(client, "alice", expect=503))
    answers.append(await owner.get("/console/api/stats"))
    assert [r.status_code for r in answers] == [503] * 5


async def test_a_refused_attempt_writes_no_audit_row_and_a_name_is_printable(
    client, service, users
) -> None:
    from passgate.audit import AuditLog

    await sign_in(client, "al\x1bice", "not the password!", expect=401)
    for _ in range(auth.ACCOUNT_BURST + 3):
        await sign_in(client, "alice", "not the password!", expect=None)
    failed = AuditLog(service.engine).list(action="signin.failed")
    assert len(failed) == auth.ACCOUNT_BURST + 1  # the limiter's refusals are not logged
    assert all(e.target.isprintable() for e in failed)


async def test_polling_the_stats_is_not_activity(owner, service, monkeypatch) -> None:
    from passgate.console import sessions

    real = time.time
    monkeypatch.setattr(sessions, "TOUCH", 0)
    assert (await owner.get("/console/api/stats?since=1h")).status_code == 200
    monkeypatch.setattr(time, "time", lambda: real() + sessions.IDLE + 5)
    assert (await owner.get("/console/api/stats?since=1h")).status_code == 401
