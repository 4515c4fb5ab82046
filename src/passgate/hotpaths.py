"""The hot endpoints (`POST /siteverify`, `/1/challenge`, `/1/solve`) dispatched straight
from the ASGI entry point, ahead of Starlette's middleware and router, which the benchmark
showed costing a large share of each call. The endpoints themselves are the same."""

from __future__ import annotations

import json
import logging

from starlette.requests import ClientDisconnect, Request
from starlette.responses import Response
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from passgate.openapi import declare, operations
from passgate.openapi.declare import Endpoint

log = logging.getLogger("passgate")

# Declared `hot` in passgate.openapi.operations: siteverify, /1/challenge and /1/solve.
HOT_POSTS: dict[str, Endpoint] = declare.hot_posts(operations.PUBLIC)

_FAILED = json.dumps({"error": "internal-error", "message": "internal error"}).encode()


async def dispatch(scope: Scope, receive: Receive, send: Send, app: ASGIApp) -> bool:
    """Serve a hot request and return True, or return False to leave it to `app`."""
    if scope["method"] != "POST":
        return False
    endpoint = HOT_POSTS.get(scope["path"])
    if endpoint is None:
        return False
    scope["app"] = app  # endpoints reach the service through request.app.state
    started = False

    async def tracked(message: Message) -> None:
        nonlocal started
        started = True
        await send(message)

    try:
        response = await endpoint(Request(scope, receive))
        await response(scope, receive, tracked)
    except ClientDisconnect:  # the client left mid-body: nobody to answer, nothing wrong
        return True
    except Exception:  # noqa: BLE001 - answer in JSON, never with a traceback
        log.exception("unhandled error on %s", scope["path"])
        if not started:
            await Response(_FAILED, status_code=500, media_type="application/json")(
                scope, receive, send
            )
    return True
