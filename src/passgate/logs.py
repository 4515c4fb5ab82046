"""Log output: one stderr handler on the root logger, as text or as one JSON object per line,
and the access line (`access`). No secret, token, key or query string is ever logged."""

from __future__ import annotations

import json
import logging
import sys
import time
from typing import Any, TextIO

from passgate.settings import SettingsError

FORMATS = ("text", "json")
LEVELS = ("debug", "info", "warning", "error", "critical")
TEXT_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"
ACCESS_EVENT = "request"
ACCESS_FIELDS = ("method", "route", "status", "duration_ms")
UVICORN_LOGGERS = ("uvicorn", "uvicorn.error", "uvicorn.asgi")
UVICORN_ACCESS = "uvicorn.access"  # its lines carry the raw path and query string: off

_access = logging.getLogger("passgate.access")


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, event, logger and node; method, route,
    status and duration_ms when the record carries them; error and trace on exceptions."""

    def __init__(self, node: str) -> None:
        super().__init__()
        self.node = node

    def format(self, record: logging.LogRecord) -> str:
        fields = record.__dict__
        out: dict[str, Any] = {
            "time": time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(record.created))
            + f".{int(record.msecs):03d}Z",
            "level": record.levelname.lower(),
            "event": fields.get("event") or record.getMessage(),
            "logger": record.name,
            "node": self.node,
        }
        for name in ACCESS_FIELDS:
            if fields.get(name) is not None:
                out[name] = fields[name]
        if record.exc_info and record.exc_info[0] is not None:
            out["error"] = record.exc_info[0].__name__
            out["trace"] = self.formatException(record.exc_info)
        if record.stack_info:
            out["stack"] = self.formatStack(record.stack_info)
        return json.dumps(out, ensure_ascii=False, separators=(",", ":"), default=str)


class _Handler(logging.StreamHandler[TextIO]):
    """The handler `configure` installs, told apart so that a second call replaces it."""


def formatter(fmt: str, node: str) -> logging.Formatter:
    """The formatter for PASSGATE_LOG_FORMAT; raises SettingsError on an unknown format."""
    if fmt == "text":
        return logging.Formatter(TEXT_FORMAT)
    if fmt == "json":
        return JsonFormatter(node)
    raise SettingsError(f"PASSGATE_LOG_FORMAT must be {' or '.join(FORMATS)}, got {fmt!r}")


def configure(fmt: str, level: str, node: str) -> None:
    """Log every record to stderr in `fmt` (text or json) from `level` up; calling it again
    replaces the earlier setup. uvicorn's loggers (run with log_config=None) propagate here."""
    chosen = formatter(fmt, node)
    if level.lower() not in LEVELS:
        raise SettingsError(f"PASSGATE_LOG_LEVEL must be one of {', '.join(LEVELS)}, got {level!r}")
    root = logging.getLogger()
    for old in [h for h in root.handlers if isinstance(h, _Handler)]:
        root.removeHandler(old)
        old.close()
    handler = _Handler(sys.stderr)
    handler.setFormatter(chosen)
    root.addHandler(handler)
    root.setLevel(level.upper())
    logging.getLogger("alembic").setLevel(logging.WARNING)
    for name in (*UVICORN_LOGGERS, UVICORN_ACCESS):
        logger = logging.getLogger(name)
        for attached in list(logger.handlers):
            logger.removeHandler(attached)
        # uvicorn's own lines reach the root handler; its access log is on only while
        # uvicorn.access has a handler, so it stays off (our `access` replaces it)
        logger.propagate = name != UVICORN_ACCESS


def access_enabled() -> bool:
    """Whether access lines are logged: when not, the app need not time requests."""
    return _access.isEnabledFor(logging.INFO)


def access(method: str, route: str, status: int, duration_ms: float) -> None:
    """The access line of one request: `GET /1/challenge 200 1.2ms` in text. `route` is the
    route template (`/api/records/{record_id}`), never the raw path; a query string, should
    one reach it, is cut off."""
    route = route.partition("?")[0]
    _access.info(
        "%s %s %d %.1fms",
        method,
        route,
        status,
        duration_ms,
        extra={
            "event": ACCESS_EVENT,
            "method": method,
            "route": route,
            "status": status,
            "duration_ms": round(duration_ms, 3),
        },
    )
