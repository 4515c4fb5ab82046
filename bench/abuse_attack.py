# ruff: noqa: S603, S607 - fixed local commands and loopback URLs only
"""The abuse bench's attacker: passgate's own puzzle solved by a compiled loop
(bench/attacker.c), driven over HTTP with X-Forwarded-For from a trusted loopback proxy, so
that one machine plays many network prefixes.

The attacker fetches a challenge, solves it, posts the solution as soon as it has it, and
verifies each token at /siteverify as the site's backend would, keeping the score. It never
reuses or prefetches challenges: passgate prices each one for the prefix asking.
"""

from __future__ import annotations

import http.client
import json
import subprocess
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

from bench.servers import CLIENT_CORE, ROOT, pinned

SOURCE = ROOT / "bench" / "attacker.c"


def has_sha_extensions() -> bool:
    try:
        return " sha_ni" in Path("/proc/cpuinfo").read_text()
    except OSError:
        return False


def build(work: Path) -> tuple[Path, str]:
    """`cc -O2` the attacker into `work`; (binary, which SHA-256 it runs on)."""
    out = work / "attacker"
    sha = has_sha_extensions()
    flags = ["-msse4.1", "-msha"] if sha else []
    subprocess.run(["cc", "-O2", *flags, "-o", str(out), str(SOURCE)], check=True, timeout=120)
    return out, "x86 SHA extensions (cc -O2 -msha)" if sha else "portable C (cc -O2)"


class Solver:
    """The compiled attacker, a long-running process on the client core: one command a line."""

    def __init__(self, binary: Path) -> None:
        self.proc = subprocess.Popen(
            pinned([str(binary)], CLIENT_CORE),
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
            bufsize=1,
        )

    def _ask(self, line: str) -> list[str]:
        assert self.proc.stdin is not None and self.proc.stdout is not None
        self.proc.stdin.write(line + "\n")
        self.proc.stdin.flush()
        answer = self.proc.stdout.readline().split()
        if not answer or answer[0] in ("fail", "error"):
            raise RuntimeError(f"attacker: {line!r} -> {answer}")
        return answer

    def solve(self, salt: str, parts: int, threshold: int) -> tuple[list[int], int]:
        """(a nonce a part, attempts made)."""
        answer = self._ask(f"solve {salt} {parts} {threshold}")
        return [int(x) for x in answer[1:-1]], int(answer[-1])

    def rate(self, seconds: float) -> float:
        """Attempts a second on one core (threshold 0: it never stops early)."""
        answer = self._ask(f"rate {seconds}")
        return int(answer[1]) / float(answer[2])

    def close(self) -> None:
        if self.proc.stdin is not None:
            self.proc.stdin.close()
        self.proc.wait(10)


class Client:
    """One keep-alive HTTP connection to passgate; X-Forwarded-For names the client."""

    def __init__(self, url: str) -> None:
        parts = urlsplit(url)
        self.host, self.port = parts.hostname or "127.0.0.1", parts.port or 80
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)

    def post(self, path: str, body: str, ctype: str, xff: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": ctype}
        if xff:
            headers["X-Forwarded-For"] = xff
        for attempt in (0, 1):  # a keep-alive connection the server closed is reopened once
            try:
                self.conn.request("POST", path, body.encode(), headers)
                resp = self.conn.getresponse()
                return resp.status, json.loads(resp.read() or b"null")
            except (http.client.HTTPException, OSError):
                self.conn.close()
                self.conn = http.client.HTTPConnection(self.host, self.port, timeout=60)
                if attempt:
                    raise
        raise AssertionError("unreachable")

    def challenge(self, sitekey: str, xff: str) -> dict[str, Any]:
        status, body = self.post(
            "/1/challenge", json.dumps({"sitekey": sitekey, "host": "localhost"}), JSON, xff
        )
        if status != 200 or "challenge" not in body:
            raise RuntimeError(f"/1/challenge answered {status}: {body}")
        if body.get("algorithm", "sha256") != "sha256":
            raise RuntimeError(f"the attacker solves SHA-256 puzzles, not {body['algorithm']}")
        return dict(body)

    def solve(self, challenge: str, nonces: list[int], xff: str) -> dict[str, Any]:
        _, body = self.post(
            "/1/solve", json.dumps({"challenge": challenge, "nonces": nonces}), JSON, xff
        )
        return dict(body)

    def verify(self, secret: str, token: str) -> dict[str, Any]:
        _, body = self.post(
            "/siteverify", urlencode({"secret": secret, "response": token}), FORM, None
        )
        return dict(body)

    def close(self) -> None:
        self.conn.close()


JSON = "application/json"
FORM = "application/x-www-form-urlencoded"


def earn(
    client: Client, solver: Solver, sitekey: str, ip: str
) -> tuple[dict[str, Any], dict[str, Any], int]:
    """One challenge fetched, solved and posted at once: (challenge, /1/solve answer,
    attempts)."""
    ch = client.challenge(sitekey, ip)
    nonces, hashes = solver.solve(ch["salt"], ch["parts"], ch["threshold"])
    return ch, client.solve(ch["challenge"], nonces, ip), hashes


def curve(client: Client, solver: Solver, sitekey: str, ip: str, solves: int) -> dict[str, Any]:
    """`solves` solves from one prefix, back to back: the difficulty issued after each n
    (d[n] is the challenge fetched after n solves), and how long they took."""
    issued = [client.challenge(sitekey, ip)["difficulty"]]
    started = time.monotonic()
    renewed = 0
    while len(issued) <= solves and time.monotonic() - started < 300:
        ch, answer, _ = earn(client, solver, sitekey, ip)
        if "token" not in answer:
            renewed += 1
            continue
        issued.append(client.challenge(sitekey, ip)["difficulty"])
    return {"issued": issued, "seconds": time.monotonic() - started, "renewed": renewed}


def attack(
    client: Client,
    solver: Solver,
    site: Any,
    ips: list[str],
    seconds: float,
    quiet_ip: str,
    probe_every: float = 5.0,
    progress: Callable[[str], None] | None = None,
) -> dict[str, Any]:
    """Earn tokens for `seconds`, one prefix after the other from `ips` (round robin), each
    verified at /siteverify for its score; every `probe_every` s, ask a challenge from
    `quiet_ip` (a prefix that never solves) to see what a bystander pays.

    tokens: [seconds since start, index into ips, difficulty, score, reason codes]."""
    tokens: list[list[Any]] = []
    probes: list[list[float]] = []
    renewed = refused = hashes = 0
    started = time.monotonic()
    next_probe = next_log = started
    i = 0
    while (now := time.monotonic()) - started < seconds:
        if now >= next_probe:
            probes.append(
                [round(now - started, 2), client.challenge(site.sitekey, quiet_ip)["difficulty"]]
            )
            next_probe += probe_every
        if progress and now >= next_log:
            progress(
                f"{now - started:4.0f} s: {len(tokens)} tokens"
                + (f", last difficulty {tokens[-1][2]:,} score {tokens[-1][3]}" if tokens else "")
            )
            next_log += 60
        k = i % len(ips)
        i += 1
        ch, answer, spent = earn(client, solver, site.sitekey, ips[k])
        hashes += spent
        if "token" not in answer:
            renewed += bool(answer.get("renew"))
            refused += not answer.get("renew")
            continue
        verdict = client.verify(site.secret, answer["token"])
        if not verdict.get("success"):
            refused += 1
            continue
        t = round(time.monotonic() - started, 3)
        tokens.append(
            [
                t,
                k,
                ch["difficulty"],
                verdict.get("score"),
                ",".join(verdict.get("score_reason", [])),
            ]
        )
    return {
        "seconds": time.monotonic() - started,
        "prefixes": len(ips),
        "tokens": tokens,
        "probes": probes,
        "renewed": renewed,
        "refused": refused,
        "hashes": hashes,
    }
