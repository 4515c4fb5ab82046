"""Set up a data directory as a user would (the `passgate` CLI), and pre-build request bodies.

Single-use bodies (solutions for `POST /1/solve`, fresh tokens for `POST /siteverify`) are
built in-process with the server's own signing keys, read from its data directory the way
`passgate serve` reads them: the master key file decrypts the key ring in the store.

Solutions: each challenge has the default difficulty's part count (7 at 150k expected
hashes), but a low per-part work factor (16 expected hashes a part) so that tens of
thousands can be solved before a run. The server's check is the same work at any threshold
(decode, HMAC, one SHA-256 per part, the single-use write, a token minted), so the figure
measures /1/solve as users hit it; only our preparation is cheaper.
"""

from __future__ import annotations

import dataclasses
import json
import os
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlencode

from bench.servers import VENV_BIN
from passgate import challenge, keys, settings, token
from passgate.service import open_engine
from passgate.signing import KeyRing

HOST = "localhost"
WORK_PER_PART = 16


@dataclass(frozen=True)
class Site:
    sitekey: str
    secret: str
    difficulty: int
    token_lifetime: int


def passgate_cli(data_dir: Path, *args: str) -> str:
    env = {**os.environ, "PASSGATE_DATA_DIR": str(data_dir), "PASSGATE_LOG_LEVEL": "warning"}
    return subprocess.run(  # noqa: S603
        [str(VENV_BIN / "passgate"), *args],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    ).stdout


def add_site(
    data_dir: Path,
    token_lifetime: int | None = None,
    difficulty: int | None = None,
    *options: str,
    name: str = "bench",
) -> Site:
    """`passgate site add --hostname localhost --json`, at the default difficulty unless
    `difficulty` is given; `options` are more `site add` options (`--max-difficulty`, ...)."""
    given = ("--difficulty", str(difficulty)) if difficulty is not None else ()
    out = json.loads(
        passgate_cli(
            data_dir, "site", "add", "--hostname", HOST, "--name", name, *given, *options, "--json"
        )
    )
    if token_lifetime is not None:
        passgate_cli(
            data_dir, "site", "update", out["sitekey"], "--token-lifetime", str(token_lifetime)
        )
    cfg = settings.load(env={"PASSGATE_DATA_DIR": str(data_dir)})
    return Site(
        out["sitekey"],
        out["secret"],
        cfg.default_difficulty if difficulty is None else difficulty,
        token_lifetime or cfg.token_lifetime,
    )


def load_ring(data_dir: Path) -> KeyRing:
    """The server's signing keys, decrypted from its store with its master key file."""
    cfg = settings.load(env={"PASSGATE_DATA_DIR": str(data_dir)})
    engine = open_engine(cfg)
    try:
        return keys.load_ring(engine, keys.master_key(cfg))
    finally:
        engine.dispose()


def challenge_body(site: Site) -> str:
    return json.dumps({"sitekey": site.sitekey, "host": HOST})


def solution_bodies(path: Path, count: int, site: Site, ring: KeyRing, lifetime: int = 600) -> Path:
    """`count` distinct solved challenges, one `POST /1/solve` JSON body a line."""
    parts = challenge.parts_for(site.difficulty)
    now = time.time()
    with path.open("w") as f:
        for _ in range(count):
            ch = challenge.issue(site.sitekey, HOST, parts * WORK_PER_PART, now, lifetime)
            ch = dataclasses.replace(ch, parts=parts)
            f.write(
                json.dumps(
                    {"challenge": challenge.encode(ch, ring), "nonces": challenge.solve(ch)},
                    separators=(",", ":"),
                )
            )
            f.write("\n")
    return path


ISSUE_SPACING = 0.00005  # seconds between the pre-minted tokens' issue times


def siteverify_bodies(path: Path, count: int, site: Site, ring: KeyRing) -> Path:
    """`count` fresh tokens, as a site's backend posts them: form-encoded secret + response."""
    start = time.time() - count * ISSUE_SPACING  # issued one after another, as /1/solve would
    with path.open("w") as f:
        for i in range(count):
            issued = start + i * ISSUE_SPACING
            tok = token.mint(site.sitekey, HOST, issued, site.token_lifetime, bound_ip="127.0.0.1")
            f.write(urlencode({"secret": site.secret, "response": token.encode(tok, ring)}))
            f.write("\n")
    return path


def universal_setup(data_dir: Path, site: Site) -> str | None:
    """An API key granted the site at a rate no run reaches; None while the CLI lacks it."""
    try:
        out = json.loads(passgate_cli(data_dir, "key", "add", "--name", "bench", "--json"))
        passgate_cli(
            data_dir,
            "grant",
            "add",
            "--key",
            "bench",
            "--site",
            site.sitekey,
            "--rate",
            "1000000/min",
            "--burst",
            "1000000",
        )
    except (subprocess.CalledProcessError, ValueError, KeyError):
        return None
    user_token: str = out["token"]
    return user_token


def universal_body(site: Site) -> str:
    return json.dumps({"sitekey": site.sitekey, "referer": f"http://{HOST}/login"})
