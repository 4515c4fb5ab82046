"""The widget's files: content-hashed immutable URLs named by a frame page that is revalidated
at each load, references rewritten before hashing, the workers' own CSP, the Argon2
library served from node_modules (npm ci), never from the repository, and the minified copies
that `npm run build` makes, served while their sources are unchanged."""

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
    assert api.content == (assets.BUILD / "page-hcaptcha.js").read_bytes()  # minified
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


def test_the_build_is_current_and_served(caplog) -> None:
    """make (npm run build) has minified every widget file as it is now: what is served."""
    manifest = assets.BUILD / "manifest.json"
    assert manifest.is_file(), "the widget is not built: run make (npm run build)"
    static = Path(assets.__file__).with_name("static")
    with caplog.at_level("WARNING", "passgate"):
        copies = assets.minified()
        scripts = assets.page_scripts()
    assert not caplog.records, "the build is older than its sources: run make (npm run build)"
    engine = (assets.PAGE / "engine.js").read_text()
    for served, adapter in assets.SCRIPTS.items():
        source = assets.bundle(engine, (assets.PAGE / adapter).read_text())
        assert len(scripts[served]) < 0.6 * len(source), served
    assert set(copies) == {p.name for p in static.iterdir()}
    t = assets.table()
    for name, body in copies.items():
        source = (static / name).read_bytes()
        assert len(body) < 0.8 * len(source), name
        assert len(t.assets[name].body) < len(source), f"{name}: the source is served"


def test_a_stale_or_missing_build_serves_the_sources(tmp_path, caplog) -> None:
    static, build = tmp_path / "static", tmp_path / "build"
    static.mkdir()
    build.mkdir()
    (static / "a.js").write_text("var a = 1; // the source\n")
    (static / "b.js").write_text("var b = 2;\n")
    (static / "c.css").write_text("a { b: c }\n")  # added since the build
    (build / "a.js").write_text("var a=1;\n")
    (build / "b.js").write_text("var b=3;\n")
    digest = hashlib.sha256(b"var a = 1; // the source\n").hexdigest()
    (build / "manifest.json").write_text(f'{{"a.js": "{digest}", "b.js": "0"}}')
    with caplog.at_level("WARNING", "passgate"):
        assert assets.minified(static, build) == {"a.js": b"var a=1;\n"}
    assert "b.js, c.css" in caplog.text and "older" in caplog.text
    caplog.clear()
    with caplog.at_level("WARNING", "passgate"):
        assert assets.minified(static, tmp_path / "nowhere") == {}
    assert "missing" in caplog.text


def test_a_stale_page_script_is_served_readable(tmp_path, caplog) -> None:
    """A page-side script is the engine and its adapter in one scope; the built copy is
    served only while both are unchanged."""
    page, build = tmp_path / "page", tmp_path / "build"
    page.mkdir()
    build.mkdir()
    (page / "engine.js").write_text("function engine() {}\n")
    for adapter in assets.SCRIPTS.values():
        (page / adapter).write_text(f"engine(); // {adapter}\n")
    text = assets.bundle("function engine() {}\n", "engine(); // hcaptcha.js\n")
    assert text.startswith('(function () {\n"use strict";\n') and text.endswith("})();\n")
    (build / "page-hcaptcha.js").write_text("engine();\n")
    digest = hashlib.sha256(text.encode()).hexdigest()
    (build / "manifest.json").write_text(f'{{"page/hcaptcha.js": "{digest}"}}')
    with caplog.at_level("WARNING", "passgate"):
        scripts = assets.page_scripts(page, build)
    assert scripts["api.js"] == b"engine();\n"
    assert scripts["turnstile-api.js"].decode().endswith("engine(); // turnstile.js\n})();\n")
    assert "turnstile.js, recaptcha.js" in caplog.text
