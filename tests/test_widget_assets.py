"""The widget's files: content-hashed immutable URLs named by a frame page that is revalidated
at each load, references rewritten before hashing, the workers' own CSP, and the Argon2
library served from node_modules (npm ci), never from the repository."""

from __future__ import annotations

import hashlib
import re
from pathlib import Path

import pytest

from passgate.widget import assets

pytestmark = pytest.mark.anyio

HASHED = re.compile(r"""(?<=["'/])([\w-]+)\.([0-9a-f]{12})\.(js|mjs|css|wasm)(?=["'])""")
CSP_BEFORE = (  # the frame's policy before Argon2id: it gains 'wasm-unsafe-eval' only
    "default-src 'none'; script-src 'self'; style-src 'self'; connect-src 'self'; "
    "worker-src 'self'; img-src 'self' data:; frame-ancestors *; base-uri 'none'"
)


def directives(csp: str) -> set[str]:
    return {" ".join(sorted(d.split())) for d in csp.split(";")}


async def fetch_hashed(client, text: str) -> dict[str, bytes]:
    """Every hashed file `text` names: fetched, immutable, named by its content's hash."""
    found = {}
    for m in HASHED.finditer(text):
        r = await client.get("/1/static/" + m[0])
        assert r.status_code == 200, m[0]
        assert r.headers["cache-control"] == "public, max-age=31536000, immutable"
        assert hashlib.sha256(r.content).hexdigest()[:12] == m[2]
        found[f"{m[1]}.{m[3]}"] = r.content
    return found


async def test_the_frame_page_is_revalidated_and_names_hashed_files(client) -> None:
    r = await client.get("/1/frame?sitekey=x")
    assert r.headers["cache-control"] == "no-cache"
    again = await client.get("/1/frame?sitekey=y", headers={"if-none-match": r.headers["etag"]})
    assert again.status_code == 304
    assert directives(r.headers["content-security-policy"]) == directives(
        CSP_BEFORE.replace("script-src 'self'", "script-src 'self' 'wasm-unsafe-eval'")
    )
    assert 'href="static/frame.css"' not in r.text and 'src="static/frame.js"' not in r.text
    files = await fetch_hashed(client, r.text)
    assert set(files) == {"frame.css", "frame.js"}
    workers = await fetch_hashed(client, files["frame.js"].decode())
    assert set(workers) == {"worker.js", "worker-argon2.js"}
    library = await fetch_hashed(client, workers["worker-argon2.js"].decode())
    assert set(library) == {"argon2.mjs", "argon2.wasm"}


async def test_workers_carry_their_own_policy(client) -> None:
    frame = (await client.get("/1/frame")).text
    js = (await client.get("/1/" + re.search(r"static/frame\.\w+\.js", frame)[0])).text
    for m in HASHED.finditer(js):
        r = await client.get("/1/static/" + m[0])
        assert "'wasm-unsafe-eval'" in r.headers["content-security-policy"]
    plain = await client.get("/1/static/worker-argon2.js")
    assert "'wasm-unsafe-eval'" in plain.headers["content-security-policy"]
    assert "content-security-policy" not in (await client.get("/1/static/frame.js")).headers


async def test_plain_names_stay_served_for_frames_cached_before_an_upgrade(client) -> None:
    for name in ("frame.js", "frame.css", "worker.js", "worker-argon2.js", "argon2.mjs"):
        r = await client.get(f"/1/static/{name}", headers={"accept-encoding": "gzip"})
        assert r.status_code == 200, name
        assert r.headers["cache-control"].startswith("public, max-age=86400")
        assert r.headers["content-encoding"] == "gzip"
    api = await client.get("/1/api.js")  # hCaptcha's URL: neither hashed nor rewritten
    assert api.headers["cache-control"].startswith("public, max-age=86400")
    assert api.content == (Path(assets.__file__).with_name("static") / "api.js").read_bytes()
    assert (await client.get("/1/static/nope.0123456789ab.js")).status_code == 404


async def test_the_library_comes_from_node_modules(client) -> None:
    dist = assets.LIBRARY / "dist"
    wasm = await client.get("/1/static/argon2.wasm")
    assert wasm.headers["content-type"] == "application/wasm"
    assert wasm.content == (dist / "argon2.wasm").read_bytes()
    mjs = await client.get("/1/static/argon2.mjs")
    assert mjs.headers["content-type"].startswith("text/javascript")
    notice, _, body = mjs.text.partition("\n")
    assert notice.startswith("/*! @phi-ag/argon2 0.5.28 | MIT licence")
    assert body.encode() == (dist / "index.js").read_bytes()
    static = Path(assets.__file__).with_name("static")
    assert not list(static.glob("argon2*")), "the library is installed by npm, not copied"


def test_a_missing_library_says_how_to_install_it(monkeypatch, tmp_path) -> None:
    monkeypatch.setattr(assets, "LIBRARY", tmp_path / "argon2")
    with pytest.raises(assets.MissingLibrary, match=r"run make \(npm ci\) first"):
        assets.library()


def test_references_are_rewritten_before_the_referrer_is_hashed(tmp_path) -> None:
    (tmp_path / "frame.html").write_text('<script src="static/app.js"></script>')
    (tmp_path / "app.js").write_text('new Worker("static/work.js"); // not "work.jsx"')
    (tmp_path / "work.js").write_text('import x from "./lib.mjs"; "api.js";')
    (tmp_path / "lib.mjs").write_text("export default 1;")
    (tmp_path / "api.js").write_text('"/1/api.js"; "static/work.js"')
    t = assets.AssetTable(tmp_path, hashed=True)
    lib, work, app = (t.hashed[n] for n in ("lib.mjs", "work.js", "app.js"))
    assert t.assets[work].body.decode() == f'import x from "./{lib}"; "api.js";'
    assert t.assets[app].body.decode() == f'new Worker("static/{work}"); // not "work.jsx"'
    assert t.assets["frame.html"].body.decode() == f'<script src="static/{app}"></script>'
    assert t.assets["api.js"].body.decode() == '"/1/api.js"; "static/work.js"'
    assert set(t.hashed) == {"lib.mjs", "work.js", "app.js"}  # frame.html, api.js: their own URLs
    for name, hashed in t.hashed.items():
        assert t.assets[hashed] is t.assets[name]
        assert hashed.split(".")[1] == hashlib.sha256(t.assets[name].body).hexdigest()[:12]
