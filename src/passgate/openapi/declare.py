"""One declaration per endpoint: `Operation` names the method, path and handler, and
describes the request and every answer as JSON Schema. The app's routes, the hot dispatch
table and the OpenAPI document (passgate.openapi.document) are all built from these."""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.requests import Request
from starlette.responses import Response
from starlette.routing import Route

Endpoint = Callable[[Request], Awaitable[Response]]
Schema = dict[str, Any]

JSON = "application/json"
FORM = "application/x-www-form-urlencoded"
MULTIPART = "multipart/form-data"


@dataclass(frozen=True)
class Param:
    """A query, header, path or cookie parameter."""

    name: str
    where: str  # "query" | "header" | "path" | "cookie"
    schema: Schema
    description: str
    required: bool = False


@dataclass(frozen=True)
class Answer:
    """One possible answer: its HTTP status, what it means, and its body: a JSON Schema for
    `media` (None: no body), plus the headers it always carries."""

    status: int
    description: str
    schema: Schema | None = None
    media: str = JSON
    headers: Mapping[str, Schema] = field(default_factory=dict)
    also: tuple[str, ...] = ()  # other media types the body may come in, same schema


@dataclass(frozen=True)
class Operation:
    """An endpoint: `method` and `path` (a Starlette template), the `endpoint` that serves
    it, and its description for the OpenAPI document.

    `body` maps each accepted content type to its schema. `security` names the
    document's security schemes (any one of them suffices). `hot` endpoints are dispatched
    ahead of Starlette (passgate.hotpaths). `in_spec=False` keeps an operation out of the
    document; `why` says why (a catch-all path OpenAPI cannot express)."""

    method: str
    path: str
    endpoint: Endpoint
    operation_id: str
    summary: str
    tag: str
    answers: tuple[Answer, ...]
    description: str = ""
    body: Mapping[str, Schema] = field(default_factory=dict)
    body_required: bool = False
    params: tuple[Param, ...] = ()
    security: tuple[str, ...] = ()
    hot: bool = False
    in_spec: bool = True
    why: str = ""

    def route(self) -> Route:
        """The Starlette route serving this operation (GET also answers HEAD)."""
        return Route(self.path, self.endpoint, methods=[self.method])


def routes(operations: Iterable[Operation]) -> list[Route]:
    """The routes for `operations`, in their order (the first match wins)."""
    return [op.route() for op in operations]


def hot_posts(operations: Iterable[Operation]) -> dict[str, Endpoint]:
    """The hot POST endpoints by path, for passgate.hotpaths."""
    return {op.path: op.endpoint for op in operations if op.hot and op.method == "POST"}
