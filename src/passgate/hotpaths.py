"""The hot endpoints (`POST /siteverify`, `/1/challenge`, `/1/solve`) dispatched straight from
the middleware stack, ahead of Starlette's router and exception middleware, which the
benchmark showed costing a large share of each call. Every other request goes on as usual."""

from __future__ import annotations

from collections.abc import Awaitable, Callable

from starlette.requests import Request
from starlette.responses import Response
from starlette.types import ASGIApp, Receive, Scope, Send

from passgate import siteverify
from passgate.widget import endpoints

Endpoint = Callable[[Request], Awaitable[Response]]

HOT_POSTS: dict[str, Endpoint] = {
    "/siteverify": siteverify.endpoint,
    "/1/challenge": endpoints.issue_challenge,
    "/1/solve": endpoints.solve,
}


class HotPaths:
    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "http" and scope["method"] == "POST":
            endpoint = HOT_POSTS.get(scope["path"])
            if endpoint is not None:
                response = await endpoint(Request(scope, receive))
                await response(scope, receive, send)
                return
        await self.app(scope, receive, send)
