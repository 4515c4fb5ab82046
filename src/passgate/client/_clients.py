"""The clients: one base with the wire format, a sync and an async transport on top."""

from __future__ import annotations

import asyncio
import time
from typing import Any
from urllib.parse import quote

import httpx

from passgate.client._exceptions import (
    JobFailed,
    ProtocolError,
    TransportError,
    WaitTimeout,
    _api_error,
)
from passgate.client._models import JobCreated, JobResult, UniversalResult

UNIVERSAL_PATH = "/api/wanda/hcaptcha/universal"
CREATE_JOB_PATH = "/api/createJob"
JOB_RESULT_PATH = "/api/getJobResult"
RECORDS_PATH = "/api/records/"
DEFAULT_TIMEOUT = 30.0
POLL_INTERVAL = 2.0
WAIT_TIMEOUT = 130.0  # a little past the server's default job deadline (120 s)


def _json_object(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        raise ProtocolError(
            f"passgate answered HTTP {response.status_code} without JSON",
            status_code=response.status_code,
        ) from None
    if not isinstance(body, dict):
        raise ProtocolError("passgate answered with something else than an object")
    return body


class _BaseClient:
    """What both clients share: building requests and reading answers. No I/O here."""

    def __init__(
        self,
        base_url: str,
        user_token: str,
        *,
        developer_id: str | None = None,
        accept_language: str | None = None,
    ) -> None:
        self.base_url = base_url.rstrip("/")
        self.user_token = user_token
        self.developer_id = developer_id
        self.accept_language = accept_language

    def _headers(self, with_key: bool) -> dict[str, str]:
        headers = {"Accept": "application/json"}
        if with_key:
            headers["User-Token"] = self.user_token
        if self.developer_id:
            headers["Developer-Id"] = self.developer_id
        if self.accept_language:
            headers["Accept-Language"] = self.accept_language
        return headers

    @staticmethod
    def _universal_body(
        sitekey: str,
        referer: str,
        rqdata: str | None,
        domain: str | None,
        proxy: str | None,
        region: str | None,
        invisible: bool,
        need_ekey: bool,
        action: str | None = None,
        cdata: str | None = None,
    ) -> dict[str, Any]:
        body: dict[str, Any] = {"sitekey": sitekey, "referer": referer}
        optional = {
            "rqdata": rqdata,
            "domain": domain,
            "proxy": proxy,
            "region": region,
            "action": action,
            "cdata": cdata,
        }
        body.update({k: v for k, v in optional.items() if v is not None})
        if invisible:
            body["invisible"] = True
        if need_ekey:
            body["need_ekey"] = True
        return body

    @staticmethod
    def _universal_result(response: httpx.Response) -> UniversalResult:
        body = _json_object(response)
        msg, record_id = str(body.get("msg", "")), body.get("id")
        record_id = record_id if isinstance(record_id, str) else None
        if body.get("status") != 1 or response.status_code != 200:
            raise _api_error(response, msg or f"HTTP {response.status_code}", record_id)
        data = body.get("data")
        token = data.get("generated_pass_UUID") if isinstance(data, dict) else None
        if not isinstance(token, str) or record_id is None:
            raise ProtocolError("a success without a token", record_id, response.status_code)
        ekey = data.get("ekey") if isinstance(data, dict) else None
        return UniversalResult(
            token,
            ekey if isinstance(ekey, str) else None,
            record_id,
            msg,
            str(body.get("cost", "")),
        )

    def _job_body(
        self,
        website_url: str,
        website_key: str,
        type_job_id: str,
        rqdata: str | None,
        invisible: bool,
        need_ekey: bool,
        action: str | None = None,
        cdata: str | None = None,
    ) -> dict[str, Any]:
        data: dict[str, Any] = {
            "type_job_id": type_job_id,
            "website_url": website_url,
            "website_key": website_key,
        }
        optional = {"rqdata": rqdata, "action": action, "cdata": cdata}
        data.update({k: v for k, v in optional.items() if v is not None})
        if invisible:
            data["invisible"] = True
        if need_ekey:
            data["need_ekey"] = True
        return {"api_token": self.user_token, "data": data}

    @staticmethod
    def _job_answer(response: httpx.Response) -> dict[str, Any]:
        body = _json_object(response)
        if body.get("error") is not False or response.status_code != 200:
            msg = str(body.get("message", "")) or f"HTTP {response.status_code}"
            raise _api_error(response, msg, None)
        return body

    @classmethod
    def _job_created(cls, response: httpx.Response) -> JobCreated:
        body = cls._job_answer(response)
        job_id = body.get("job_id")
        if type(job_id) is not int:
            raise ProtocolError("createJob answered without a job_id")
        return JobCreated(job_id, str(body.get("message", "")))

    @classmethod
    def _job_result(cls, job_id: int, response: httpx.Response) -> JobResult:
        body = cls._job_answer(response)
        status = body.get("status")
        if status not in ("running", "success", "fail"):
            raise ProtocolError(f"getJobResult answered an unknown status {status!r}")
        ekey = body.get("ekey")
        return JobResult(
            job_id,
            str(status),
            str(body.get("result") or ""),
            ekey if isinstance(ekey, str) else None,
            str(body.get("message", "")),
        )

    @staticmethod
    def _record(response: httpx.Response) -> dict[str, Any]:
        body = _json_object(response)
        record_id = body.get("id") if isinstance(body.get("id"), str) else None
        if body.get("status") != 1 or response.status_code != 200:
            raise _api_error(response, str(body.get("msg", "")), record_id)
        data = body.get("data")
        if not isinstance(data, dict):
            raise ProtocolError("a record without data", record_id)
        return data

    @staticmethod
    def _finished(result: JobResult) -> JobResult:
        if result.status == "fail":
            raise JobFailed(result.message or "the job failed", result.job_id)
        return result


class PassgateClient(_BaseClient):
    """The synchronous client. Use it as a context manager, or call `close()`."""

    def __init__(
        self,
        base_url: str,
        user_token: str,
        *,
        developer_id: str | None = None,
        accept_language: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.BaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url, user_token, developer_id=developer_id, accept_language=accept_language
        )
        self._http = httpx.Client(base_url=self.base_url, timeout=timeout, transport=transport)

    def _send(self, method: str, path: str, with_key: bool, body: Any = None) -> httpx.Response:
        try:
            return self._http.request(method, path, headers=self._headers(with_key), json=body)
        except httpx.TransportError as exc:
            raise TransportError(f"cannot reach passgate: {type(exc).__name__}") from exc

    def universal(
        self,
        sitekey: str,
        referer: str,
        *,
        rqdata: str | None = None,
        domain: str | None = None,
        proxy: str | None = None,
        region: str | None = None,
        invisible: bool = False,
        need_ekey: bool = False,
        action: str | None = None,
        cdata: str | None = None,
    ) -> UniversalResult:
        """A pass token at once (contract §A); `action` and `cdata` are bound into it."""
        body = self._universal_body(
            sitekey, referer, rqdata, domain, proxy, region, invisible, need_ekey, action, cdata
        )
        return self._universal_result(self._send("POST", UNIVERSAL_PATH, True, body))

    def create_job(
        self,
        website_url: str,
        website_key: str,
        *,
        type_job_id: str = "11",
        rqdata: str | None = None,
        invisible: bool = False,
        need_ekey: bool = False,
        action: str | None = None,
        cdata: str | None = None,
    ) -> JobCreated:
        """Queue a token job (contract §B); poll it with `get_job_result` or `wait`. Its
        token binds `action` and `cdata`."""
        body = self._job_body(
            website_url, website_key, type_job_id, rqdata, invisible, need_ekey, action, cdata
        )
        return self._job_created(self._send("POST", CREATE_JOB_PATH, False, body))

    def get_job_result(self, job_id: int) -> JobResult:
        body = {"api_token": self.user_token, "job_id": job_id}
        return self._job_result(job_id, self._send("POST", JOB_RESULT_PATH, False, body))

    def wait(
        self, job_id: int, *, timeout: float = WAIT_TIMEOUT, interval: float = POLL_INTERVAL
    ) -> JobResult:
        """Poll a job every `interval` seconds until it succeeds; raises JobFailed or
        WaitTimeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = self.get_job_result(job_id)
            if result.done:
                return self._finished(result)
            if time.monotonic() + interval > deadline:
                raise WaitTimeout(f"job {job_id} still running after {timeout:g} s", job_id)
            time.sleep(interval)

    def record(self, record_id: str) -> dict[str, Any]:
        """One of this key's call records."""
        return self._record(self._send("GET", RECORDS_PATH + quote(record_id, safe=""), True))

    def close(self) -> None:
        self._http.close()

    def __enter__(self) -> PassgateClient:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class AsyncPassgateClient(_BaseClient):
    """The asynchronous client. Use it as an async context manager, or await `aclose()`."""

    def __init__(
        self,
        base_url: str,
        user_token: str,
        *,
        developer_id: str | None = None,
        accept_language: str | None = None,
        timeout: float = DEFAULT_TIMEOUT,
        transport: httpx.AsyncBaseTransport | None = None,
    ) -> None:
        super().__init__(
            base_url, user_token, developer_id=developer_id, accept_language=accept_language
        )
        self._http = httpx.AsyncClient(base_url=self.base_url, timeout=timeout, transport=transport)

    async def _send(
        self, method: str, path: str, with_key: bool, body: Any = None
    ) -> httpx.Response:
        try:
            return await self._http.request(
                method, path, headers=self._headers(with_key), json=body
            )
        except httpx.TransportError as exc:
            raise TransportError(f"cannot reach passgate: {type(exc).__name__}") from exc

    async def universal(
        self,
        sitekey: str,
        referer: str,
        *,
        rqdata: str | None = None,
        domain: str | None = None,
        proxy: str | None = None,
        region: str | None = None,
        invisible: bool = False,
        need_ekey: bool = False,
        action: str | None = None,
        cdata: str | None = None,
    ) -> UniversalResult:
        """A pass token at once (contract §A); `action` and `cdata` are bound into it."""
        body = self._universal_body(
            sitekey, referer, rqdata, domain, proxy, region, invisible, need_ekey, action, cdata
        )
        return self._universal_result(await self._send("POST", UNIVERSAL_PATH, True, body))

    async def create_job(
        self,
        website_url: str,
        website_key: str,
        *,
        type_job_id: str = "11",
        rqdata: str | None = None,
        invisible: bool = False,
        need_ekey: bool = False,
        action: str | None = None,
        cdata: str | None = None,
    ) -> JobCreated:
        """Queue a token job (contract §B); poll it with `get_job_result` or `wait`. Its
        token binds `action` and `cdata`."""
        body = self._job_body(
            website_url, website_key, type_job_id, rqdata, invisible, need_ekey, action, cdata
        )
        return self._job_created(await self._send("POST", CREATE_JOB_PATH, False, body))

    async def get_job_result(self, job_id: int) -> JobResult:
        body = {"api_token": self.user_token, "job_id": job_id}
        return self._job_result(job_id, await self._send("POST", JOB_RESULT_PATH, False, body))

    async def wait(
        self, job_id: int, *, timeout: float = WAIT_TIMEOUT, interval: float = POLL_INTERVAL
    ) -> JobResult:
        """Poll a job every `interval` seconds until it succeeds; raises JobFailed or
        WaitTimeout."""
        deadline = time.monotonic() + timeout
        while True:
            result = await self.get_job_result(job_id)
            if result.done:
                return self._finished(result)
            if time.monotonic() + interval > deadline:
                raise WaitTimeout(f"job {job_id} still running after {timeout:g} s", job_id)
            await asyncio.sleep(interval)

    async def record(self, record_id: str) -> dict[str, Any]:
        """One of this key's call records."""
        return self._record(await self._send("GET", RECORDS_PATH + quote(record_id, safe=""), True))

    async def aclose(self) -> None:
        await self._http.aclose()

    async def __aenter__(self) -> AsyncPassgateClient:
        return self

    async def __aexit__(self, *exc: object) -> None:
        await self.aclose()
