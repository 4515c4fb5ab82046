"""docs/errors.md, row by row: every bad input it lists is sent to the app in-process and
must get exactly the answer the row gives (the notation is described in the document)."""

from __future__ import annotations

import re
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
from argon2 import PasswordHasher

from passgate import settings
from passgate.app import create_app
from passgate.console.accounts import UserRegistry
from passgate.console.sessions import SessionStore
from passgate.service import Service, build
from passgate.tokenapi.admintoken import new_admin_token
from passgate.tokenapi.outcomes import BY_CODE
from tests.tokenapi_helpers import add_key, grant

pytestmark = pytest.mark.anyio

DOC = Path(__file__).resolve().parent.parent / "docs" / "errors.md"
METHODS = ("GET", "POST", "PUT", "PATCH", "DELETE")
TYPES = {"json": "application/json", "form": "application/x-www-form-urlencoded", "-": None}
PLACEHOLDER = re.compile(r"\b(SITEKEY|SECRET|KEY|ADMIN|SESSION)\b")
ROUTER = frozenset({"not_found", "method_not_allowed"})  # answered by the app, any section

# Each section the document may have, and the shapes its answers may take: "hcaptcha"
# (`error-codes`), "outcome" (the universal call's `status`/`msg`), "job" (`error`: a bool),
# "ok" (`ok`: the admin API, health), "error" (`error`: a code), "success" (none of these:
# a challenge). The router's own 404 and 405 are "error" in every section.
SECTIONS: dict[str, set[str]] = {
    "POST /siteverify": {"hcaptcha"},
    "GET /siteverify": {"hcaptcha"},
    "POST /1/challenge": {"error", "success"},
    "POST /1/solve": {"error", "success"},
    "POST /api/wanda/hcaptcha/universal": {"outcome"},
    "GET /api/records/{id}": {"outcome"},
    "POST /api/createJob": {"job"},
    "POST /api/getJobResult": {"job"},
    "GET /api/admin/keys": {"ok"},
    "POST /api/admin/keys": {"ok"},
    "POST /api/admin/keys/{name}/revoke": {"ok"},
    "GET /api/admin/grants": {"ok"},
    "POST /api/admin/grants": {"ok"},
    "DELETE /api/admin/grants/{name}/{sitekey}": {"ok"},
    "GET /api/admin/sites": {"ok"},
    "PATCH /api/admin/sites/{sitekey}": {"ok"},
    "GET /api/admin/records": {"ok"},
    "GET /healthz": {"ok"},
    "GET /readyz": {"ok"},
    "GET /": {"success"},
    "GET /openapi.json": {"success"},
    "GET /docs/api": {"error"},  # an HTML page; its static files' 404 is `{"error"}`
    "GET /console/api/stats": {"error"},
    "Any other path or method": {"error", "ok"},
}


@dataclass(frozen=True)
class Row:
    section: str
    line: int
    input: str
    method: str
    target: str
    headers: tuple[tuple[str, str], ...]
    ctype: str | None
    body: str | None  # notation: escapes and repeats expanded at send time
    status: int
    code: str
    text: str | None

    @property
    def id(self) -> str:
        return f"{self.section}: {self.input}"


class TableError(Exception):
    pass


def cells(line: str) -> list[str]:
    """A table row's cells; `\\|` is a `|` inside a cell."""
    parts = re.split(r"(?<!\\)\|", line.strip())
    if len(parts) < 3 or parts[0] or parts[-1]:
        raise TableError("not a table row")
    return [p.strip().replace("\\|", "|") for p in parts[1:-1]]


def code_span(cell: str) -> str:
    m = re.fullmatch(r"`([^`]+)`", cell)
    if m is None:
        raise TableError(f"not one code span: {cell!r}")
    return m.group(1)


def parse_request(span: str, section: str) -> tuple[Any, ...]:
    """(method, target, headers, content type, body) from a request span."""
    named = re.fullmatch(r"([A-Z]+) (/\S*)", section)
    method, path = named.groups() if named else ("", "")
    rest = span
    word, _, after = rest.partition(" ")
    if word in METHODS:
        method, rest = word, after
    word, _, after = rest.partition(" ")
    if word.startswith("/"):
        path, rest = word, after
    elif word.startswith("?"):
        path, rest = path + word, after
    headers = []
    while rest.startswith("["):
        m = re.match(r"\[([A-Za-z-]+): ([^\]]*)\] ?", rest)
        if m is None:
            raise TableError(f"a header is not [Name: value]: {rest!r}")
        headers.append((m.group(1), m.group(2)))
        rest = rest[m.end() :]
    ctype: str | None = None
    body: str | None = None
    if rest:
        kind, sep, body = rest.partition(" ")
        if kind in TYPES:
            ctype = TYPES[kind]
        elif "/" in kind:
            ctype = kind
        else:
            raise TableError(f"not a method, target, header or type: {kind!r}")
        body = body if sep else ""
    if not method or not path.startswith("/") or "{" in path:
        raise TableError(f"the request names no method or no full path: {span!r}")
    return method, path, tuple(headers), ctype, body


def parse_answer(span: str) -> tuple[int, str, str | None]:
    m = re.fullmatch(r'(\d{3}) ([a-z_,-]+)(?: "((?:[^"\\]|\\.)*)")?', span)
    if m is None:
        raise TableError(f'an answer is STATUS CODE ["TEXT"]: {span!r}')
    text = m.group(3)
    return int(m.group(1)), m.group(2), text.replace('\\"', '"') if text is not None else None


def parse(doc: str) -> list[Row]:
    """Every row of every table under a `## ` heading; TableError on anything unexpected."""
    rows: list[Row] = []
    section = ""
    for number, line in enumerate(doc.splitlines(), 1):
        try:
            if line.startswith("## "):
                section = line[3:].strip()
                continue
            if not line.startswith("|"):
                continue
            if section not in SECTIONS:
                raise TableError(f"a table under {section!r}, which names no known endpoint")
            found = cells(line)
            if len(found) != 3:
                raise TableError(f"{len(found)} cells, not 3")
            if found == ["input", "request", "answer"] or set("".join(found)) <= set("- "):
                continue
            what, request, answer = found
            method, target, headers, ctype, body = parse_request(code_span(request), section)
            status, code, text = parse_answer(code_span(answer))
            rows.append(
                Row(section, number, what, method, target, headers, ctype, body, status, code, text)
            )
        except TableError as exc:
            raise TableError(f"docs/errors.md line {number}: {exc}") from None
    return rows


ROWS = parse(DOC.read_text(encoding="utf-8"))


def expand(text: str, values: dict[str, str]) -> bytes:
    """A body or header value as bytes: placeholders, `<N*TEXT>` repeats, `\\xHH` bytes."""
    text = PLACEHOLDER.sub(lambda m: values[m.group(1)], text)
    text = re.sub(r"<(\d+)\*([^>]*)>", lambda m: m.group(2) * int(m.group(1)), text)
    out = bytearray()
    for i, piece in enumerate(re.split(r"\\x([0-9a-fA-F]{2})", text)):
        out += bytes([int(piece, 16)]) if i % 2 else piece.encode()
    return bytes(out)


OUTCOME_MESSAGES = {
    code: re.compile(
        re.escape(o.en).replace(r"\{detail\}", ".*").replace(r"\{retry_after\}", r"\d+")
    )
    for code, o in BY_CODE.items()
}


def outcome_of(message: str) -> str:
    found = [code for code, pattern in OUTCOME_MESSAGES.items() if pattern.fullmatch(message)]
    assert len(found) == 1, f"no one outcome has the message {message!r}: {found}"
    return found[0]


def read_answer(r: httpx.Response) -> tuple[str, str, str]:
    """(shape, code, message) of an answer, whatever endpoint gave it."""
    body = r.json()
    assert isinstance(body, dict), r.text
    if "error-codes" in body:
        assert body["success"] is False
        return "hcaptcha", ",".join(body["error-codes"]), ""
    if set(body) == {"status", "msg", "id", "data", "cost"}:
        if body["status"] == 1:
            return "outcome", "ok", body["msg"]
        assert body["data"] is None
        return "outcome", outcome_of(body["msg"]), body["msg"]
    if isinstance(body.get("error"), bool):
        message = body.get("message", "")
        return "job", outcome_of(message) if body["error"] else "ok", message
    if "ok" in body:
        return "ok", "ok" if body["ok"] is True else body["error"], body.get("message", "")
    if isinstance(body.get("error"), str):
        return "error", body["error"], body["message"]
    return "success", "ok", ""


@dataclass
class World:
    service: Service
    client: httpx.AsyncClient
    values: dict[str, str]


@pytest.fixture(scope="module")
def anyio_backend() -> str:
    return "asyncio"  # module-wide: the rows share one service, on one event loop


@pytest.fixture(scope="module")
async def world(tmp_path_factory: pytest.TempPathFactory) -> AsyncIterator[World]:
    """One service for every row (a fresh one each would take most of the run): a site, a
    key granted it, the admin token. No row leaves anything another row depends on."""
    data = tmp_path_factory.mktemp("errors") / "data"
    svc = build(settings.load(env={}, data_dir=str(data)))
    site, secret = svc.sites.add(["shop.example"], name="shop", difficulty=2_000)
    key = add_key(svc, "ci")
    grant(svc, key, site.sitekey)
    values = {"SITEKEY": site.sitekey, "SECRET": secret, "KEY": key.token}
    values["ADMIN"] = new_admin_token(svc.engine)
    transport = httpx.ASGITransport(app=create_app(svc), client=("203.0.113.7", 5555))
    async with httpx.AsyncClient(transport=transport, base_url="http://passgate.test") as c:
        yield World(svc, c, values)
    await svc.close()


def signed_in(world: World) -> str:
    """A console owner's session, made directly once (signing in is tested elsewhere)."""
    if "SESSION" not in world.values:
        cheap = PasswordHasher(time_cost=1, memory_cost=1024, parallelism=1)
        users = UserRegistry(world.service.engine, cheap)
        user = users.add("alice", "correct horse battery", "owner")
        world.values["SESSION"], _ = SessionStore(world.service.engine).create(user.id, time.time())
    return world.values["SESSION"]


@pytest.mark.parametrize("row", ROWS, ids=[row.id for row in ROWS])
async def test_the_row_gets_its_answer(row: Row, world: World) -> None:
    if any("SESSION" in value for _, value in row.headers):
        signed_in(world)
    values = world.values
    headers = [(name, expand(value, values)) for name, value in row.headers]
    if row.ctype is not None:
        headers.append(("Content-Type", row.ctype.encode()))
    body = expand(row.body, values) if row.body is not None else None
    target = expand(row.target, values).decode()
    r = await world.client.request(row.method, target, headers=headers, content=body)
    shape, code, message = read_answer(r)
    where = f"docs/errors.md line {row.line}: {r.text[:500]}"
    assert (r.status_code, code) == (row.status, row.code), where
    allowed = SECTIONS[row.section] | ({"error"} if code in ROUTER else set())
    assert shape in allowed, f"a {shape!r} answer in {row.section}; {where}"
    if row.text is not None:
        assert row.text in message, where


def test_every_endpoint_has_rows_and_the_table_has_them_all() -> None:
    counts = {s: sum(1 for row in ROWS if row.section == s) for s in SECTIONS}
    assert all(counts.values()), {s: n for s, n in counts.items() if not n}
    listed = sum(
        1
        for line in DOC.read_text(encoding="utf-8").splitlines()
        if line.startswith("| ") and not line.startswith(("| input ", "| --- "))
    )
    assert listed == len(ROWS)  # no row was skipped unread
    assert len({row.id for row in ROWS}) == len(ROWS), "two rows with the same input"


def test_the_notation_parses_as_documented() -> None:
    method, target, headers, ctype, body = parse_request(
        "PUT ?a=1 [User-Token: KEY] text/plain x <3*ab>\\xff", "POST /siteverify"
    )
    assert (method, target, headers, ctype) == (
        "PUT",
        "/siteverify?a=1",
        (("User-Token", "KEY"),),
        "text/plain",
    )
    assert expand(body, {"KEY": "k"}) == b"x ababab\xff"
    assert expand('"\\ud800" KEY SITEKEY', {"KEY": "k", "SITEKEY": "s"}) == b'"\\ud800" k s'
    assert parse_request("json", "GET /healthz")[3:] == ("application/json", "")
    assert parse_request("-", "GET /healthz")[3:] == (None, "")
    assert parse_answer('400 invalid-data "key \\"a\\""') == (400, "invalid-data", 'key "a"')
    for bad in ("GET /api/records/{id}", "bogus body", "[User-Token KEY]"):
        with pytest.raises(TableError):
            parse_request(bad, "GET /api/records/{id}")
    with pytest.raises(TableError):
        parse("## POST /siteverify\n| input | request | answer |\n| a | `json` | `200` |\n")
    with pytest.raises(TableError):
        parse("## GET /nowhere\n| input | request | answer |\n| a | `json` | `200 ok` |\n")
