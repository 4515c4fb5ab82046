"""The client's exceptions, one tree:

PassgateError                  .msg, .record_id, .status_code
├── TransportError             passgate could not be reached
├── ProtocolError              the answer was not the token API's
├── APIError                   passgate refused the call
│   ├── BadRequest             400
│   ├── Unauthorized           401: missing, unknown or revoked key
│   ├── Forbidden              403: no grant, expired grant, unknown sitekey, referer
│   ├── NotFound               404: unknown job or record
│   ├── RateLimited            429, .retry_after seconds
│   └── Unavailable            503: passgate's store is unavailable
├── JobFailed                  the job ended in "fail"
└── WaitTimeout                `wait` gave up before the job ended
"""

from __future__ import annotations

import httpx


class PassgateError(Exception):
    """Every error this client raises: `msg` is passgate's message, `record_id` the call's
    record (when passgate made one), `status_code` the HTTP status (when there was one)."""

    def __init__(
        self, msg: str, record_id: str | None = None, status_code: int | None = None
    ) -> None:
        super().__init__(msg)
        self.msg = msg
        self.record_id = record_id
        self.status_code = status_code


class TransportError(PassgateError):
    pass


class ProtocolError(PassgateError):
    pass


class APIError(PassgateError):
    pass


class BadRequest(APIError):
    pass


class Unauthorized(APIError):
    pass


class Forbidden(APIError):
    pass


class NotFound(APIError):
    pass


class RateLimited(APIError):
    def __init__(
        self,
        msg: str,
        record_id: str | None = None,
        status_code: int | None = None,
        retry_after: float = 0.0,
    ) -> None:
        super().__init__(msg, record_id, status_code)
        self.retry_after = retry_after


class Unavailable(APIError):
    pass


class JobFailed(PassgateError):
    def __init__(self, msg: str, job_id: int) -> None:
        super().__init__(msg)
        self.job_id = job_id


class WaitTimeout(PassgateError):
    def __init__(self, msg: str, job_id: int) -> None:
        super().__init__(msg)
        self.job_id = job_id


_BY_STATUS: dict[int, type[APIError]] = {
    400: BadRequest,
    401: Unauthorized,
    403: Forbidden,
    404: NotFound,
    429: RateLimited,
    503: Unavailable,
}


def _api_error(response: httpx.Response, msg: str, record_id: str | None) -> APIError:
    cls = _BY_STATUS.get(response.status_code, APIError)
    if cls is RateLimited:
        try:
            retry = float(response.headers.get("retry-after", "0"))
        except ValueError:
            retry = 0.0
        return RateLimited(msg, record_id, response.status_code, retry)
    return cls(msg, record_id, response.status_code)
