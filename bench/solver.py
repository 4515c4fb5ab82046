# ruff: noqa: E501 - the page scripts below are JavaScript
"""The widget's solver in headless Chromium: the server's own /1/static/worker.js, timed.

Run as `python -m bench.solver URL SITEKEY SOLVES SECONDS`; prints one JSON object:
- hash rate: one worker (one thread, so one core) on a part it cannot finish (threshold 1),
  its progress counted over SECONDS after a warm-up second, then terminated;
- solve times: SOLVES challenges fetched from `POST /1/challenge` at the site's (default)
  difficulty and solved the way the widget's frame.js does: a pool of
  min(hardwareConcurrency, 4) warm workers (the widget starts them on hover or focus), each
  handed the next part when it finds one; then redeemed at `POST /1/solve`, which must
  return a token. The time runs from the challenge in hand to the last nonce found.
"""

from __future__ import annotations

import json
import sys

from playwright.sync_api import sync_playwright

CHROMIUM = "/usr/bin/chromium"
FLAGS = ["--headless=new", "--no-sandbox", "--disable-gpu", "--disable-background-networking"]

HASH_RATE_JS = """
async ([seconds]) => {
  const w = new Worker('/1/static/worker.js');
  const warm = 1000, t0 = performance.now();
  let counted = 0, from = null, last = null;
  await new Promise((resolve) => {
    w.onmessage = (e) => {
      if (e.data.type !== 'progress') return;
      const now = performance.now();
      if (now - t0 < warm) return;
      if (from === null) { from = now; return; }
      counted += e.data.hashes; last = now;
      if (now - from >= seconds * 1000) resolve();
    };
    w.postMessage({salt: '0123456789abcdef0123456789abcdef', part: 0, threshold: 1});
  });
  w.terminate();
  return {hashes: counted, seconds: (last - from) / 1000};
}
"""

SOLVE_JS = """
async ([sitekey, count]) => {
  const out = [];
  const size = Math.min(navigator.hardwareConcurrency || 2, 4);
  const pool = Array.from({length: size}, () => new Worker('/1/static/worker.js'));
  for (let k = 0; k < count; k++) {
    const r = await fetch('/1/challenge', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({sitekey, host: 'localhost'})});
    const ch = await r.json();
    const t0 = performance.now();
    let hashes = 0;
    const nonces = await new Promise((resolve, reject) => {
      const found = [];
      let next = 0, done = 0;
      const give = (w) => { if (next < ch.parts) w.postMessage({salt: ch.salt, part: next++, threshold: ch.threshold}); };
      for (const w of pool) {
        w.onmessage = (e) => {
          const m = e.data;
          if (m.type === 'progress') hashes += m.hashes;
          else if (m.type === 'found') { found[m.part] = m.nonce; if (++done === ch.parts) resolve(found); else give(w); }
          else reject(new Error('no nonce for part ' + m.part));
        };
        give(w);
      }
    });
    const ms = performance.now() - t0;
    const s = await fetch('/1/solve', {method: 'POST', headers: {'Content-Type': 'application/json'},
      body: JSON.stringify({challenge: ch.challenge, nonces})});
    const body = await s.json();
    out.push({ms, hashes, parts: ch.parts, difficulty: ch.difficulty, ok: s.ok && !!body.token});
  }
  pool.forEach((w) => w.terminate());
  return {workers: size, runs: out};
}
"""


def main() -> None:
    url, sitekey, solves, seconds = sys.argv[1], sys.argv[2], int(sys.argv[3]), float(sys.argv[4])
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=CHROMIUM, args=FLAGS, headless=True)
        try:
            page = browser.new_page()
            page.goto(url + "/")
            rate = page.evaluate(HASH_RATE_JS, [seconds])
            runs = (
                page.evaluate(SOLVE_JS, [sitekey, solves]) if solves else {"workers": 0, "runs": []}
            )
            version = browser.version
        finally:
            browser.close()
    print(
        json.dumps(
            {
                "browser": f"Chromium {version}",
                "hashes": rate["hashes"],
                "seconds": rate["seconds"],
                "hash_rate": rate["hashes"] / rate["seconds"] if rate["seconds"] else 0.0,
                "workers": runs["workers"],
                "solves": runs["runs"],
            }
        )
    )


if __name__ == "__main__":
    main()
