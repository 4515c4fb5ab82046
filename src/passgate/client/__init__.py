"""A Python client for passgate's token API: `PassgateClient` (sync) and
`AsyncPassgateClient` (async), sharing one base, like httpx's `Client` and `AsyncClient`.

    from passgate.client import PassgateClient

    with PassgateClient("http://127.0.0.1:8000", user_token="pgk_...") as pg:
        result = pg.universal(sitekey="...", referer="http://localhost:8000/demo")
        print(result.token)

Parameters are named as in the wire contract (`sitekey`, `referer`, `rqdata`, `need_ekey`,
`website_url`, `website_key`, ...). The transport is injectable, so tests can run offline
with `httpx.MockTransport`.

The exception tree is drawn in `_exceptions.py`.
"""

from passgate.client._clients import AsyncPassgateClient, PassgateClient
from passgate.client._exceptions import (
    APIError,
    BadRequest,
    Forbidden,
    JobFailed,
    NotFound,
    PassgateError,
    ProtocolError,
    RateLimited,
    TransportError,
    Unauthorized,
    Unavailable,
    WaitTimeout,
)
from passgate.client._models import JobCreated, JobResult, UniversalResult

__all__ = [
    "APIError",
    "AsyncPassgateClient",
    "BadRequest",
    "Forbidden",
    "JobCreated",
    "JobFailed",
    "JobResult",
    "NotFound",
    "PassgateClient",
    "PassgateError",
    "ProtocolError",
    "RateLimited",
    "TransportError",
    "UniversalResult",
    "Unauthorized",
    "Unavailable",
    "WaitTimeout",
]
