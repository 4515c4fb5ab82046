"""The OpenAPI 3.1 document, built from the operations' declarations (passgate.openapi.
declare), and `GET /openapi.json`, which serves it."""

from __future__ import annotations

import json
import re
from collections.abc import Iterable
from typing import Any

from starlette.requests import Request
from starlette.responses import Response

from passgate import __version__
from passgate.openapi import schemas
from passgate.openapi.declare import Answer, Operation, Schema

_CONVERTER = re.compile(r"\{(\w+):\w+\}")

SECURITY_SCHEMES: dict[str, Schema] = {
    "UserToken": {
        "type": "apiKey",
        "in": "header",
        "name": "User-Token",
        "description": "An API key (`passgate key add`).",
    },
    "AdminToken": {
        "type": "http",
        "scheme": "bearer",
        "description": "The admin token (`passgate admin-token`).",
    },
    "ConsoleSession": {
        "type": "apiKey",
        "in": "cookie",
        "name": "passgate_console",
        "description": "A signed-in console session.",
    },
}

DESCRIPTION = """\
passgate is a self-hosted proof-of-work CAPTCHA. Its widget endpoints and siteverify speak
hCaptcha's interface; the token API speaks the wire formats of existing token services; the
admin API manages keys, grants and sites. Every answer below is the complete list of what an
endpoint can say: a 5xx other than the documented 503 (a store unavailable) is a bug.
Bad inputs and their exact answers: docs/errors.md."""


def build(operations: Iterable[Operation], tags: dict[str, str]) -> dict[str, Any]:
    """The document for `operations` (those with `in_spec`), with `tags` (name -> text) in
    their order."""
    paths: dict[str, dict[str, Any]] = {}
    used: set[str] = set()
    for op in operations:
        if not op.in_spec:
            continue
        path = _CONVERTER.sub(r"{\1}", op.path)
        paths.setdefault(path, {})[op.method.lower()] = _operation(op)
        used.add(op.tag)
    return {
        "openapi": "3.1.0",
        "info": {
            "title": "passgate",
            "version": __version__,
            "description": DESCRIPTION,
        },
        "tags": [
            {"name": name, "description": text} for name, text in tags.items() if name in used
        ],
        "paths": paths,
        "components": {"schemas": schemas.COMPONENTS, "securitySchemes": SECURITY_SCHEMES},
    }


def _operation(op: Operation) -> dict[str, Any]:
    out: dict[str, Any] = {"operationId": op.operation_id, "summary": op.summary, "tags": [op.tag]}
    if op.description:
        out["description"] = op.description
    if op.params:
        out["parameters"] = [
            {
                "name": p.name,
                "in": p.where,
                "required": p.required or p.where == "path",
                "description": p.description,
                "schema": p.schema,
            }
            for p in op.params
        ]
    if op.body:
        out["requestBody"] = {
            "required": op.body_required,
            "content": {media: {"schema": schema} for media, schema in op.body.items()},
        }
    out["responses"] = {str(a.status): _answer(a) for a in op.answers}
    if op.security:
        out["security"] = [{name: []} for name in op.security]
    return out


def _answer(answer: Answer) -> dict[str, Any]:
    out: dict[str, Any] = {"description": answer.description}
    if answer.schema is not None:
        media = (answer.media, *answer.also)
        out["content"] = {m: {"schema": answer.schema} for m in media}
    if answer.headers:
        out["headers"] = {
            name: {"schema": schema, "required": True} for name, schema in answer.headers.items()
        }
    return out


async def spec(request: Request) -> Response:
    """`GET /openapi.json`: the document for this app's operations (built once)."""
    state = request.app.state
    body = getattr(state, "openapi_body", None)
    if body is None:
        body = state.openapi_body = json.dumps(
            build(state.operations, state.operation_tags), separators=(",", ":")
        ).encode()
    return Response(
        body,
        media_type="application/json",
        headers={"Access-Control-Allow-Origin": "*", "Cache-Control": "no-cache"},
    )
