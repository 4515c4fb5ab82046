"""The OpenAPI document: valid 3.1, built from the declarations that also make the routes,
closed where the contracts fix a shape, and true of what the endpoints really answer."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import httpx
import jsonschema
import pytest
from openapi_spec_validator import validate
from starlette.concurrency import run_in_threadpool
from starlette.routing import Route

from passgate import hotpaths, settings, verify
from passgate.app import create_app
from passgate.openapi import operations, schemas
from passgate.openapi.declare import FORM, JSON
from passgate.service import Service, build
from passgate.siteverify import hcaptcha
from passgate.tokenapi.admin import new_admin_token
from tests.conftest import SiteCreds, earn_token
from tests.tokenapi_helpers import REFERER, UNIVERSAL, add_key, grant

pytestmark = pytest.mark.anyio

CONTRACT = Path(__file__).parents[2] / "shared" / "contracts" / "hcaptcha-compat.md"
# The error-code table of the hCaptcha contract, §5, as it stands.
CONTRACT_CODES = [
    "missing-input-secret",
    "invalid-input-secret",
    "missing-input-response",
    "invalid-input-response",
    "expired-input-response",
    "already-seen-response",
    "bad-request",
    "missing-remoteip",
    "invalid-remoteip",
    "sitekey-secret-mismatch",
    "invalid-sitekey",
    "not-using-dummy-secret",
    "not-using-dummy-passcode",
    "rqdata-mismatch",
    "internal-error",
]


async def spec_of(client: httpx.AsyncClient) -> dict[str, Any]:
    answer = await client.get("/openapi.json")
    assert answer.status_code == 200
    assert answer.headers["content-type"] == "application/json"
    return answer.json()  # type: ignore[no-any-return]


async def test_the_document_is_valid_openapi_3_1(client: httpx.AsyncClient) -> None:
    spec = await spec_of(client)
    assert spec["openapi"] == "3.1.0"
    validate(spec)  # raises on any error


async def test_every_json_endpoint_is_in_the_document(client: httpx.AsyncClient) -> None:
    paths = (await spec_of(client))["paths"]
    expected = {
        ("/siteverify", "post"),
        ("/1/challenge", "post"),
        ("/1/solve", "post"),
        ("/api/wanda/hcaptcha/universal", "post"),
        ("/api/records/{record_id}", "get"),
        ("/api/createJob", "post"),
        ("/api/getJobResult", "post"),
        ("/api/admin/keys", "get"),
        ("/api/admin/keys", "post"),
        ("/api/admin/keys/{name}/revoke", "post"),
        ("/api/admin/grants", "get"),
        ("/api/admin/grants", "post"),
        ("/api/admin/grants/{name}/{sitekey}", "delete"),
        ("/api/admin/records", "get"),
        ("/api/admin/sites", "get"),
        ("/api/admin/sites/{sitekey}", "patch"),
        ("/healthz", "get"),
        ("/readyz", "get"),
        ("/console/api/stats", "get"),
        ("/openapi.json", "get"),
    }
    found = {(path, method) for path, ops in paths.items() for method in ops}
    assert expected <= found


def test_every_route_comes_from_a_declaration(tmp_path: Path) -> None:
    """A route added beside the declarations fails here: only the demo's page and the
    console's HTML pages are undeclared."""
    config = settings.load(env={}, data_dir=str(tmp_path / "data"))
    service = build(config)
    app = create_app(service, demo_site=("sk", "secret"))
    declared = {(op.path, op.method) for op in app.state.operations}
    for route in app.router.routes:
        assert isinstance(route, Route)
        if route.path.startswith("/demo"):
            continue
        if route.path.startswith("/console") and not route.path.startswith("/console/api"):
            continue
        methods = (route.methods or set()) - {"HEAD"}
        for method in methods:
            assert (route.path, method) in declared, f"{method} {route.path} is not declared"


def test_the_hot_endpoints_are_the_declared_ones() -> None:
    hot = {op.path: op.endpoint for op in operations.PUBLIC if op.hot}
    assert hotpaths.HOT_POSTS == hot
    assert set(hot) == {"/siteverify", "/1/challenge", "/1/solve"}


def test_siteverify_error_codes_equal_the_contracts_table() -> None:
    assert list(hcaptcha.ERROR_CODES) == CONTRACT_CODES
    if CONTRACT.exists():  # the shared contract, where this checkout has it beside it
        table = re.findall(r"^\| `([a-z-]+)` \|", CONTRACT.read_text(), re.M)
        codes = [c for c in table if c in CONTRACT_CODES or "-" in c]
        assert [c for c in codes if c in hcaptcha.ERROR_CODES] == CONTRACT_CODES
    enum = schemas.SITEVERIFY_FAILURE["properties"]["error-codes"]["items"]["enum"]
    assert enum == CONTRACT_CODES
    core = {v for k, v in vars(verify).items() if k.isupper() and isinstance(v, str)}
    core = {c for c in core if re.fullmatch(r"[a-z]+(-[a-z]+)+", c)}
    source = Path(hcaptcha.__file__).read_text()
    emitted = core | set(re.findall(r'(?:failure|failed)\(\s*"([a-z-]+)"', source))
    assert len(core) == 13 and emitted <= set(CONTRACT_CODES)


def _closed_everywhere(schema: Any, components: dict[str, Any], seen: set[str]) -> None:
    """Every object with properties, reached from `schema`, is closed."""
    if isinstance(schema, dict):
        target = schema.get("$ref", "")
        if target:
            name = target.rsplit("/", 1)[1]
            if name not in seen:
                seen.add(name)
                _closed_everywhere(components[name], components, seen)
            return
        if "properties" in schema:
            assert schema.get("additionalProperties") is False, schema
        for key in ("oneOf", "anyOf", "allOf"):
            for sub in schema.get(key, []):
                _closed_everywhere(sub, components, seen)
        for sub in schema.get("properties", {}).values():
            _closed_everywhere(sub, components, seen)
        if isinstance(schema.get("items"), dict):
            _closed_everywhere(schema["items"], components, seen)


async def test_every_json_answer_is_closed(client: httpx.AsyncClient) -> None:
    spec = await spec_of(client)
    components = spec["components"]["schemas"]
    count = 0
    for ops in spec["paths"].values():
        for op in ops.values():
            for answer in op["responses"].values():
                content = answer.get("content", {}).get(JSON)
                if content is not None and content["schema"] != {"type": "object"}:
                    _closed_everywhere(content["schema"], components, set())
                    count += 1
    assert count > 40


def _resolver(spec: dict[str, Any]) -> Any:
    return lambda schema: {**schema, "components": spec["components"]}


def _check(spec: dict[str, Any], path: str, method: str, answer: httpx.Response) -> None:
    """`answer` is one the document lists for this operation, in its schema."""
    op = spec["paths"][path][method]
    listed = op["responses"].get(str(answer.status_code))
    assert listed is not None, f"{method} {path} answered {answer.status_code}, not listed"
    schema = listed["content"][JSON]["schema"]
    jsonschema.validate(answer.json(), {**schema, "components": spec["components"]})


def _request_schema(spec: dict[str, Any], path: str, media: str) -> dict[str, Any]:
    schema = spec["paths"][path]["post"]["requestBody"]["content"][media]["schema"]
    return {**schema, "components": spec["components"]}


async def test_requests_accept_what_the_contracts_say_clients_send(
    client: httpx.AsyncClient,
) -> None:
    spec = await spec_of(client)
    universal = _request_schema(spec, "/api/wanda/hcaptcha/universal", JSON)
    extra = {"internal": False, "is_auth": True, "timeout": 30, "mode": "x", "cookies": {}}
    jsonschema.validate({"sitekey": "s", "referer": "https://a.example/", **extra}, universal)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sitekey": 5, "referer": "https://a.example/"}, universal)
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate({"sitekey": "s"}, universal)
    media = set(spec["paths"]["/siteverify"]["post"]["requestBody"]["content"])
    assert media == {FORM, JSON, "multipart/form-data"}
    job = _request_schema(spec, "/api/createJob", JSON)
    body = {"type_job_id": 11, "website_url": "https://a.example/", "website_key": "s"}
    jsonschema.validate({"api_token": "k", "data": body, "softId": 1}, job)


async def test_the_answers_of_a_whole_flow_match_the_document(
    client: httpx.AsyncClient, site: SiteCreds
) -> None:
    """Success answers are rare under fuzzing: walk the happy paths and check each answer."""
    spec = await spec_of(client)
    answer = await client.post(
        "/1/challenge", json={"sitekey": site.sitekey, "host": "shop.example"}
    )
    _check(spec, "/1/challenge", "post", answer)
    token = (await earn_token(client, site.sitekey, rqdata="r"))["token"]
    params = {"secret": site.secret, "response": token, "rqdata": "x"}
    answers = []
    for _ in range(2):
        answers.append(await client.post("/siteverify", data=params))
        params.pop("rqdata", None)
    answers.append(await client.post("/siteverify", data=params))
    outcomes = [a.json().get("error-codes", a.json().get("rqdata_sha256")) for a in answers]
    assert outcomes[0] == ["rqdata-mismatch"] and outcomes[2] == ["already-seen-response"]
    assert len(outcomes[1]) == 64
    for answer in answers:
        _check(spec, "/siteverify", "post", answer)
    test = {"secret": "0x" + "0" * 40, "response": "20000000-aaaa-bbbb-cccc-000000000002"}
    _check(spec, "/siteverify", "post", await client.post("/siteverify", data=test))
    _check(spec, "/siteverify", "get", await client.get("/siteverify"))
    _check(spec, "/healthz", "get", await client.get("/healthz"))
    _check(spec, "/readyz", "get", await client.get("/readyz"))
    _check(spec, "/1/solve", "post", await client.post("/1/solve", json={"challenge": "x"}))


async def test_the_token_and_admin_apis_answer_as_documented(
    client: httpx.AsyncClient, service: Service, site: SiteCreds
) -> None:
    spec = await spec_of(client)
    key = add_key(service, "e2e")
    grant(service, key, site.sitekey, burst=1)
    head = {"User-Token": key.token}
    body = {"sitekey": site.sitekey, "referer": REFERER, "need_ekey": True}
    first = await client.post(UNIVERSAL, json=body, headers=head)
    assert first.status_code == 200
    _check(spec, UNIVERSAL, "post", first)
    limited = await client.post(UNIVERSAL, json=body, headers=head)
    assert limited.status_code == 429
    _check(spec, UNIVERSAL, "post", limited)
    record = await client.get(f"/api/records/{first.json()['id']}", headers=head)
    _check(spec, "/api/records/{record_id}", "get", record)
    assert record.json()["data"]["outcome"] == "ok"
    job = {"type_job_id": "11", "website_url": REFERER, "website_key": site.sitekey}
    created = await client.post("/api/createJob", json={"api_token": key.token, "data": job})
    _check(spec, "/api/createJob", "post", created)
    polled = await client.post(
        "/api/getJobResult", json={"api_token": key.token, "job_id": created.json()["job_id"]}
    )
    _check(spec, "/api/getJobResult", "post", polled)

    admin = {"Authorization": "Bearer " + await run_in_threadpool(new_admin_token, service.engine)}
    for path in ("/api/admin/keys", "/api/admin/grants", "/api/admin/records", "/api/admin/sites"):
        listed = await client.get(path, headers=admin)
        assert listed.status_code == 200
        _check(spec, path, "get", listed)
    added = await client.post("/api/admin/keys", json={"name": "k2"}, headers=admin)
    _check(spec, "/api/admin/keys", "post", added)
    again = await client.post("/api/admin/keys", json={"name": "k2"}, headers=admin)
    assert again.status_code == 409
    _check(spec, "/api/admin/keys", "post", again)
    changed = await client.patch(
        f"/api/admin/sites/{site.sitekey}", json={"difficulty": 50_000}, headers=admin
    )
    _check(spec, "/api/admin/sites/{sitekey}", "patch", changed)
    put = {"key": "k2", "site": site.sitekey, "expires": "2099-01-01T00:00:00Z"}
    granted = await client.post("/api/admin/grants", json=put, headers=admin)
    _check(spec, "/api/admin/grants", "post", granted)
    removed = await client.delete(f"/api/admin/grants/k2/{site.sitekey}", headers=admin)
    _check(spec, "/api/admin/grants/{name}/{sitekey}", "delete", removed)
    revoked = await client.post("/api/admin/keys/k2/revoke", headers=admin)
    _check(spec, "/api/admin/keys/{name}/revoke", "post", revoked)
    unauthorized = await client.get("/api/admin/keys")
    assert unauthorized.status_code == 401
    _check(spec, "/api/admin/keys", "get", unauthorized)
