"""The widget in every language, light and dark, on one sheet: docs/locales.png.

Usage: .venv/bin/python scripts/locale-sheet.py [--out docs/locales.png] [--state working]

Starts `passgate demo` on a free loopback port with a throwaway data directory, opens one
page in Debian's Chromium (the browser tests' /usr/bin/chromium) that holds each locale's
frame, normal size, in the light and the dark theme, waits until every frame has its
language, and takes a screenshot of the whole page. The frames are passgate's own
(`/1/frame?hl=CODE`), so what the sheet shows is what a visitor sees, right-to-left included.
The fonts are those of `make system` (fonts-noto-core, fonts-noto-cjk): without them some
scripts show as empty boxes. `--state working` shows the progress label at 42 % instead of
the idle one (set in the page, as the fit test does: no challenge is solved).
"""

from __future__ import annotations

import argparse
import html
import json
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.parse
import urllib.request
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
LOCALES = ROOT / "src" / "passgate" / "widget" / "locales"
CHROMIUM = "/usr/bin/chromium"
# The frames in the page's process: a screenshot then holds every one of them painted (out of
# process, some come out blank).
ARGS = [
    "--headless=new",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-site-isolation-trials",
    "--disable-features=IsolateOrigins,site-per-process",
]
FRAME = (303, 78)  # api.js's normal size
RTL = {"ar", "fa", "he", "ur"}
NAMES = {
    "af": "Afrikaans",
    "am": "Amharic",
    "ar": "Arabic",
    "az": "Azerbaijani",
    "bg": "Bulgarian",
    "bn": "Bengali",
    "bs": "Bosnian",
    "ca": "Catalan",
    "cs": "Czech",
    "da": "Danish",
    "de": "German",
    "el": "Greek",
    "en": "English",
    "en-GB": "English (UK)",
    "es": "Spanish",
    "es-419": "Spanish (Latin America)",
    "et": "Estonian",
    "eu": "Basque",
    "fa": "Persian",
    "fi": "Finnish",
    "fil": "Filipino",
    "fr": "French",
    "fr-CA": "French (Canada)",
    "gl": "Galician",
    "gu": "Gujarati",
    "he": "Hebrew",
    "hi": "Hindi",
    "hr": "Croatian",
    "hu": "Hungarian",
    "hy": "Armenian",
    "id": "Indonesian",
    "is": "Icelandic",
    "it": "Italian",
    "ja": "Japanese",
    "ka": "Georgian",
    "kk": "Kazakh",
    "kn": "Kannada",
    "ko": "Korean",
    "lt": "Lithuanian",
    "lv": "Latvian",
    "ml": "Malayalam",
    "mr": "Marathi",
    "ms": "Malay",
    "nb": "Norwegian Bokmål",
    "nl": "Dutch",
    "pl": "Polish",
    "pt": "Portuguese (Brazil)",
    "pt-PT": "Portuguese (Portugal)",
    "ro": "Romanian",
    "ru": "Russian",
    "sk": "Slovak",
    "sl": "Slovenian",
    "sr": "Serbian",
    "sv": "Swedish",
    "sw": "Swahili",
    "ta": "Tamil",
    "te": "Telugu",
    "th": "Thai",
    "tr": "Turkish",
    "uk": "Ukrainian",
    "ur": "Urdu",
    "vi": "Vietnamese",
    "zh-Hans": "Chinese (Simplified)",
    "zh-Hant": "Chinese (Traditional)",
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


def start_passgate(data: Path) -> tuple[subprocess.Popen[bytes], str, str]:
    """`passgate demo` on a free port: the process, its base URL and the demo sitekey."""
    port = free_port()
    proc = subprocess.Popen(  # noqa: S603
        [sys.executable, "-m", "passgate.cli", "demo", "--port", str(port), "--json"],
        env={**os.environ, "PASSGATE_DATA_DIR": str(data)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
    )
    assert proc.stdout is not None
    sitekey = json.loads(proc.stdout.readline())["sitekey"]
    base = f"http://127.0.0.1:{port}"
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        try:
            with urllib.request.urlopen(base + "/healthz", timeout=1) as r:  # noqa: S310
                if r.status == 200:
                    return proc, base, sitekey
        except OSError:
            time.sleep(0.1)
    proc.kill()
    raise SystemExit("passgate did not start")


def sheet(base: str, sitekey: str, codes: list[str], origin: str) -> str:
    """The page: two locales a row, each with its light and its dark frame."""
    w, h = FRAME
    cells = []
    for code in codes:
        frames = "".join(
            f'<div class="{theme}"><iframe title="{code} {theme}" width="{w}" height="{h}" '
            f'src="{html.escape(frame_url(base, sitekey, code, theme, origin))}"></iframe></div>'
            for theme in ("light", "dark")
        )
        rtl = " · right to left" if code in RTL else ""
        name = html.escape(NAMES.get(code, code))
        cells.append(
            f'<section><h2><b>{code}</b> {name}{rtl}</h2><div class="pair">{frames}</div></section>'
        )
    return f"""<!doctype html><html lang="en"><head><meta charset="utf-8">
<title>passgate: the widget's languages</title><style>
body {{ margin: 0; padding: 16px; background: #eef1f4; color: #1b2530;
  font: 13px/1.3 "Noto Sans", sans-serif; width: {2 * (2 * w + 24) + 24}px; }}
h1 {{ font-size: 16px; margin: 0 0 12px; }}
main {{ display: grid; grid-template-columns: repeat(2, auto); gap: 10px 16px; }}
h2 {{ font-size: 12px; font-weight: 400; margin: 0 0 3px; }}
.pair {{ display: flex; }}
.pair > div {{ padding: 6px; line-height: 0; }}
.light {{ background: #fff; }}
.dark {{ background: #0f1317; }}
iframe {{ border: 0; display: block; }}
</style></head><body>
<h1>passgate widget: {len(codes)} languages, light and dark, normal size</h1>
<main>{"".join(cells)}</main></body></html>"""


def frame_url(base: str, sitekey: str, code: str, theme: str, origin: str) -> str:
    q = urllib.parse.urlencode(
        {"sitekey": sitekey, "hl": code, "theme": theme, "size": "normal", "origin": origin}
    )
    return f"{base}/1/frame?{q}"


def serve_page() -> ThreadingHTTPServer:
    """A server on 127.0.0.1 that answers every GET with its `body`."""

    class Handler(BaseHTTPRequestHandler):
        def do_GET(self) -> None:  # noqa: N802
            body: bytes = getattr(self.server, "body", b"")
            self.send_response(200)
            self.send_header("Content-Type", "text/html; charset=utf-8")
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

        def log_message(self, format: str, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=ROOT / "docs" / "locales.png")
    parser.add_argument("--state", choices=("idle", "working"), default="idle")
    args = parser.parse_args()
    from playwright.sync_api import sync_playwright

    codes = sorted(p.stem for p in LOCALES.glob("*.json"))
    with tempfile.TemporaryDirectory() as tmp:
        proc, base, sitekey = start_passgate(Path(tmp) / "data")
        # The page, from another loopback origin: Chromium keeps a page that is not on a
        # local address (one Playwright made up) from framing a local one.
        page_server = serve_page()
        origin = f"http://localhost:{page_server.server_address[1]}"
        page_server.body = sheet(base, sitekey, codes, origin).encode()  # type: ignore[attr-defined]
        try:
            with sync_playwright() as p:
                browser = p.chromium.launch(executable_path=CHROMIUM, args=ARGS)
                page = browser.new_page(viewport={"width": 1300, "height": 900})
                page.goto(origin + "/", wait_until="load")  # every frame loaded
                # All of it in the viewport: Chromium does not paint frames out of view.
                height = page.evaluate("() => document.documentElement.scrollHeight")
                page.set_viewport_size({"width": 1300, "height": height})
                for element in page.locator("iframe").element_handles():
                    frame = element.content_frame()
                    assert frame is not None
                    code = urllib.parse.parse_qs(urllib.parse.urlsplit(frame.url).query)["hl"][0]
                    frame.wait_for_function("c => document.documentElement.lang === c", arg=code)
                    if args.state == "working":
                        strings = json.loads((LOCALES / f"{code}.json").read_text("utf-8"))
                        frame.evaluate(
                            "t => { document.documentElement.classList.add('is-working');"
                            " document.getElementById('label').textContent = t;"
                            " const f = document.getElementById('fill');"
                            " f.style.transition = 'none'; f.style.width = '42%'; }",
                            strings["working"].replace("{p}", "42"),
                        )
                    frame.evaluate("() => document.fonts.ready.then(() => null)")
                page.wait_for_timeout(1000)  # transitions, and a paint of every frame
                args.out.parent.mkdir(parents=True, exist_ok=True)
                page.screenshot(path=str(args.out), full_page=True)
                browser.close()
        finally:
            page_server.shutdown()
            proc.terminate()
            proc.wait(10)
    print(f"{args.out}: {len(codes)} languages, {args.out.stat().st_size // 1024} KiB")


if __name__ == "__main__":
    main()
