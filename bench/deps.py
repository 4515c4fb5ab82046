"""Install what the benchmark needs when it is missing: wrk (Debian), the peers (`altcha`
from PyPI, `@cap.js/server` from npm into bench/.work/), matplotlib and py-spy."""

from __future__ import annotations

import importlib.util
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

WORK = Path(__file__).resolve().parent / ".work"
PIP = {"altcha": "altcha==2.3.0", "matplotlib": "matplotlib>=3.8", "playwright": "playwright>=1.45"}
PIP_TOOLS = {"py-spy": "py-spy>=0.3"}
CAP = "@cap.js/server@4.0.5"


def log(msg: str) -> None:
    print(f"[bench] {msg}", file=sys.stderr, flush=True)


def run(cmd: list[str], **kw: object) -> None:
    subprocess.run(cmd, check=True, **kw)  # type: ignore[call-overload]  # noqa: S603


def ensure_debian(*packages: str) -> None:
    """apt-get the packages whose commands are missing (after one apt-get update)."""
    missing = [p for p in packages if shutil.which(p) is None]
    if not missing:
        return
    log(f"installing Debian packages: {' '.join(missing)}")
    sudo = [] if os.geteuid() == 0 else ["sudo"]
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    run([*sudo, "apt-get", "update", "-qq"], env=env)
    run([*sudo, "apt-get", "install", "-y", "-qq", "--no-install-recommends", *missing], env=env)


def ensure_python() -> None:
    want = [spec for mod, spec in PIP.items() if importlib.util.find_spec(mod) is None]
    bindir = Path(sys.executable).parent
    want += [spec for tool, spec in PIP_TOOLS.items() if not (bindir / tool).exists()]
    if want:
        log(f"pip install {' '.join(want)}")
        run([sys.executable, "-m", "pip", "install", "-q", *want])


def cap_dir() -> Path | None:
    """bench/.work with @cap.js/server installed, or None when Node or npm is missing."""
    if shutil.which("node") is None or shutil.which("npm") is None:
        return None
    pkg = WORK / "node_modules" / "@cap.js" / "server" / "package.json"
    if not pkg.exists() or json.loads(pkg.read_text())["version"] != CAP.rsplit("@", 1)[1]:
        WORK.mkdir(parents=True, exist_ok=True)
        manifest = WORK / "package.json"
        if not manifest.exists():
            manifest.write_text('{"name": "passgate-bench-peers", "private": true}\n')
        log(f"npm install {CAP} into {WORK}")
        run(["npm", "install", "--no-audit", "--no-fund", "--silent", CAP], cwd=WORK)
    return WORK


def ensure_all() -> Path | None:
    ensure_debian("wrk", "openssl")
    if shutil.which("chromium") is None and Path("/usr/bin/chromium").exists() is False:
        ensure_debian("chromium")
    ensure_python()
    return cap_dir()
