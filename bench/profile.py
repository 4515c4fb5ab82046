"""Where a server's time goes under load: py-spy samples the running `passgate serve`."""

from __future__ import annotations

import re
import subprocess
import sys
from collections import Counter
from pathlib import Path
from typing import Any

PY_SPY = Path(sys.executable).parent / "py-spy"
_FRAME = re.compile(r"^(?P<func>.+) \((?P<file>[^():]+)(?::\d+)?\)$")


def record(pid: int, seconds: float, out: Path) -> Path | None:
    """Collapsed stacks of `pid` over `seconds` (idle threads left out); None if py-spy fails."""
    cmd = [
        str(PY_SPY),
        "record",
        "-p",
        str(pid),
        "-d",
        str(max(1, round(seconds))),
        "-r",
        "200",
        "-f",
        "raw",
        "-o",
        str(out),
        "--nonblocking",
    ]
    try:
        subprocess.run(cmd, capture_output=True, check=True, timeout=seconds + 60)  # noqa: S603
    except (OSError, subprocess.SubprocessError):
        return None
    return out


def _where(frame: str) -> str:
    m = _FRAME.match(frame.strip())
    if not m:
        return frame.strip()
    file = m["file"]
    for marker in ("site-packages/", "lib/python3"):
        if marker in file:
            file = file.split(marker, 1)[1]
    return f"{m['func']} ({file.split('/python3.')[-1]})"


def summarize(raw: Path, top: int = 12) -> dict[str, Any]:
    """Self time by leaf frame, and inclusive time by function, as shares of all samples."""
    self_time: Counter[str] = Counter()
    inclusive: Counter[str] = Counter()
    total = 0
    for line in raw.read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        if not stack or not count.isdigit():
            continue
        n = int(count)
        total += n
        frames = [_where(f) for f in stack.split(";")]
        self_time[frames[-1]] += n
        for f in set(frames):
            inclusive[f] += n
    if not total:
        return {"samples": 0, "self": [], "inclusive": [], "layers": []}
    interesting = [
        (f, n)
        for f, n in inclusive.most_common()
        if "(passgate/" in f and not f.startswith(("_run (", "serve (", "main ("))
    ]
    layers: Counter[str] = Counter()
    for f, n in self_time.items():
        layers[_layer(f)] += n
    return {
        "samples": total,
        "self": [(f, round(100 * n / total, 1)) for f, n in self_time.most_common(top)],
        "inclusive": [(f, round(100 * n / total, 1)) for f, n in interesting[:top]],
        "layers": [(k, round(100 * n / total, 1)) for k, n in layers.most_common()],
    }


def _layer(frame: str) -> str:
    """Which layer a leaf frame belongs to."""
    if "asyncio/runners.py" in frame or "uvicorn/" in frame or "asyncio/" in frame:
        return "event loop + HTTP parsing/writing (uvloop, httptools, uvicorn)"
    if "starlette/" in frame:
        return "Starlette (middleware, routing, request/response objects)"
    if "threading.py" in frame or "queue.py" in frame:
        return "thread hand-off (locks, events)"
    if "store/" in frame or "sqlite" in frame:
        return "single-use store (SQLite writer)"
    if "(passgate/" in frame:
        return "passgate code"
    if "json/" in frame:
        return "JSON"
    if "logging/" in frame:
        return "logging"
    return "other stdlib (hmac, base64, urllib, ...)"
