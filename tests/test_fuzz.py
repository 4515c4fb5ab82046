"""schemathesis fuzzes every operation of /openapi.json against a live `passgate demo`, with
valid credentials (the demo site's secret and sitekey, an API key with a grant, the admin
token, a console session) in half the cases. It must find no 5xx, no answer outside the
document (status, content type, headers, schema) and no answer slower than MAX_SECONDS.

`make fuzz` runs the same test longer (PASSGATE_FUZZ_EXAMPLES)."""

from __future__ import annotations

import json
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.core import NOT_SET
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from passgate.console import views
from passgate.openapi import document, operations
from tests.conftest import LiveServer, start_server
from tests.tokenapi_helpers import UNIVERSAL

pytestmark = pytest.mark.slow

EXAMPLES = int(os.environ.get("PASSGATE_FUZZ_EXAMPLES", "50"))
MAX_SECONDS = 5.0  # the slowest documented answer is far below this; a hang is far above
PASSWORD = "fuzz-fuzz-fuzz-fuzz-1"
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@dataclass
class Target:
    server: LiveServer
    api_key: str
    admin: str
    session: str
    tokens: list[str]  # minted for the demo site, each verifiable once
    record_id: str  # one of the key's records
    job_id: int  # one of the key's jobs


REFERER = "http://localhost/"  # a hostname of the demo site


def _mint(base: str, key: str, sitekey: str, count: int) -> tuple[list[str], str, int]:
    """`count` tokens through the universal call, a record id, and a job's id."""
    tokens, record = [], ""
    with httpx.Client(base_url=base, headers={"User-Token": key}) as c:
        for _ in range(count):
            r = c.post(UNIVERSAL, json={"sitekey": sitekey, "referer": REFERER})
            assert r.status_code == 200, r.text
            tokens.append(r.json()["data"]["generated_pass_UUID"])
            record = r.json()["id"]
        job = {"type_job_id": 11, "website_url": REFERER, "website_key": sitekey}
        created = c.post("/api/createJob", json={"api_token": key, "data": job}).json()
    return tokens, record, int(created["job_id"])


def _cli(server: LiveServer, *args: str, stdin: str | None = None) -> str:
    done = server.cli(*args) if stdin is None else server.cli_input(stdin, *args)
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


def _console_session(base: str) -> str:
    with httpx.Client(base_url=base) as c:
        page = c.get("/console/")
        csrf = re.search(r'name="csrf" value="([^"]+)"', page.text)
        assert csrf, "no CSRF field on the sign-in page"
        form = {"csrf": csrf[1], "name": "fuzz", "password": PASSWORD}
        assert c.post("/console/signin", data=form).status_code == 303
        return str(c.cookies["passgate_console"])


@pytest.fixture(scope="module")
def target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Target]:
    server = start_server(tmp_path_factory.mktemp("fuzz") / "data")
    try:
        key = _cli(server, "key", "add", "--name", "fuzz")
        key = key if key.startswith("pgk_") else re.findall(r"pgk_\S+", key)[0]
        grant = ("grant", "add", "--key", "fuzz", "--site", server.sitekey)
        _cli(server, *grant, "--rate", "60000/min", "--burst", "1000")
        admin = re.findall(r"\S{20,}", _cli(server, "admin-token"))[-1]
        _cli(server, "user", "add", "fuzz", "--role", "owner", "--password-stdin", stdin=PASSWORD)
        session = _console_session(server.base_url)
        tokens, record, job = _mint(server.base_url, key, server.sitekey, EXAMPLES * 2)
        yield Target(server, key, admin, session, tokens, record, job)
    finally:
        server.process.terminate()
        server.process.wait(timeout=10)


def _document() -> dict[str, Any]:
    """The document a server with every part on serves (checked against the live one)."""
    ops = [*operations.PUBLIC, operations.SPEC, *operations.reference_page(), views.STATS]
    return document.build(ops, operations.TAGS)


DOCUMENT = _document()
SCHEMA = schemathesis.openapi.from_dict(DOCUMENT)
OPERATIONS = [found.ok() for found in SCHEMA.get_all_operations()]


SEEN: dict[str, set[int]] = {}  # operation -> the statuses it answered while fuzzed


def with_credentials(case: Any) -> list[bool]:
    """Valid credentials in half the generated cases, decided by the case itself (so a
    failure reproduces); a case with nothing generated (no body, query or path value) is
    the only one of its operation, and is sent both ways."""
    body = None if case.body is NOT_SET else case.body
    parts = (body, case.query, case.path_parameters)
    if not any(parts):
        return [False, True]  # without first: the valid run changes the case
    return [len(repr(parts)) % 2 == 0]


def credentials(case: Any, target: Target, valid: bool) -> dict[str, str]:
    """With `valid`, valid credentials: headers to send; the body is changed in place, with
    what reaches the success paths (the demo site's sitekey, an allowed referer, a real
    token, record or job)."""
    if not valid:
        return {}
    path = case.operation.path
    body = case.body if isinstance(case.body, dict) else None
    case.cookies = {**(case.cookies or {}), "passgate_console": target.session}
    if path == "/api/records/{record_id}":
        case.path_parameters = {"record_id": target.record_id}
    if body is not None:
        if path in ("/api/createJob", "/api/getJobResult"):
            body["api_token"] = target.api_key
        if path == "/api/getJobResult":
            body["job_id"] = target.job_id
        if path == "/siteverify":
            body["secret"] = target.server.secret
            if target.tokens:
                body["response"] = target.tokens.pop()
            body.pop("sitekey", None)
            body.pop("rqdata", None)
            body.pop("remoteip", None)
        if path == "/1/challenge":
            body.update(sitekey=target.server.sitekey, host="localhost")
        if path == UNIVERSAL:
            body.update(sitekey=target.server.sitekey, referer=REFERER)
        if isinstance(body.get("data"), dict):
            body["data"].update(website_key=target.server.sitekey, website_url=REFERER)
    return {"User-Token": target.api_key, "Authorization": "Bearer " + target.admin}


def test_the_live_server_serves_the_fuzzed_document(target: Target) -> None:
    served = httpx.get(target.server.base_url + "/openapi.json").json()
    assert served == json.loads(json.dumps(DOCUMENT))


def _runs() -> list[Any]:
    """Every operation with data that fits the document; those with parameters or a body
    also with data that does not."""
    runs = []
    for op in OPERATIONS:
        modes = [GenerationMode.POSITIVE]
        if op.definition.raw.get("parameters") or op.definition.raw.get("requestBody"):
            modes.append(GenerationMode.NEGATIVE)
        runs += [pytest.param(op, mode, id=f"{op.label}-{mode.value}") for mode in modes]
    return runs


@pytest.mark.parametrize(("operation", "mode"), _runs())
def test_no_operation_answers_outside_the_document(
    operation: Any, mode: GenerationMode, target: Target
) -> None:
    """Positive cases fit the document; negative ones break it (wrong types, missing
    fields, bad media types): both must be answered as the document says."""

    @given(case=operation.as_strategy(generation_mode=mode))
    @settings(
        max_examples=EXAMPLES,
        deadline=None,
        suppress_health_check=list(HealthCheck),
        database=None,
    )
    def fuzz(case: Any) -> None:
        for valid in with_credentials(case):
            send(case, valid)

    def send(case: Any, valid: bool) -> None:
        headers = {**(case.headers or {}), **credentials(case, target, valid)}
        case.headers = headers  # the case's own (generated) headers win over call()'s
        response = case.call(
            base_url=target.server.base_url, headers=headers, timeout=MAX_SECONDS * 2
        )
        SEEN.setdefault(operation.label, set()).add(response.status_code)
        case.validate_response(response, checks=CHECKS, headers=headers)
        elapsed = float(response.elapsed)
        assert elapsed < MAX_SECONDS, f"{operation.label} took {elapsed:.1f} s"

    fuzz()


def test_the_fuzzing_reached_success_answers() -> None:
    """The credentialed half reaches the success paths, not only refusals (checked for the
    operations fuzzed in this session)."""
    wanted = {
        "POST /siteverify": 200,  # a token verified (siteverify answers 200 in any case)
        "POST /1/challenge": 200,
        "POST /api/wanda/hcaptcha/universal": 200,
        "GET /api/records/{record_id}": 200,
        "POST /api/createJob": 200,
        "POST /api/getJobResult": 200,
        "GET /api/admin/keys": 200,
        "GET /console/api/stats": 200,
    }
    for label, status in wanted.items():
        if label in SEEN:
            assert status in SEEN[label], f"{label} never answered {status}: {SEEN[label]}"
    for label in ("GET /api/admin/keys", "GET /api/records/{record_id}"):
        if label in SEEN:
            assert 401 in SEEN[label], f"{label} was never fuzzed without credentials"


def test_the_fuzzing_reaches_success_paths(target: Target) -> None:
    """The valid credentials really are valid: without them, fuzzing sees only refusals."""
    base = target.server.base_url
    universal = httpx.post(
        base + "/api/wanda/hcaptcha/universal",
        json={"sitekey": target.server.sitekey, "referer": "http://localhost/"},
        headers={"User-Token": target.api_key},
    )
    assert universal.json()["status"] == 1, universal.text
    admin = httpx.get(base + "/api/admin/keys", headers={"Authorization": "Bearer " + target.admin})
    assert admin.status_code == 200
    stats = httpx.get(base + "/console/api/stats", cookies={"passgate_console": target.session})
    assert stats.status_code == 200


def test_make_fuzz_runs_this_file_longer() -> None:
    makefile = (Path(__file__).parents[1] / "Makefile").read_text()
    assert "PASSGATE_FUZZ_EXAMPLES" in makefile and "tests/test_fuzz.py" in makefile
