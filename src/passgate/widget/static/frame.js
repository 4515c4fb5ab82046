/* passgate widget frame: the checkbox, the calls to /1/challenge and /1/solve, the
 * proof-of-work workers, and the messages to the page that embeds the frame.
 * Query parameters (set by the page's script, page/engine.js): sitekey, host, hl, lang (the
 * page's), theme, size, id, origin, am, if (the interface: hcaptcha, turnstile, recaptcha);
 * and reloaded, set by the frame itself when the server said it was out of date. */
"use strict";
(function () {
  var q = new URLSearchParams(location.search);
  var sitekey = q.get("sitekey") || "";
  var host = q.get("host") || "";
  var origin = q.get("origin") || "";
  var size = q.get("size") || "normal";
  var theme = q.get("theme") || "light";
  var iface = q.get("if");
  // Automation markers, the page's (from api.js) and this frame's own: booleans for the score.
  var automation = { webdriver: navigator.webdriver === true };
  (q.get("am") || "").split(",").forEach(function (k) {
    if (k) automation[k] = true;
  });

  // Strings: English's built in (locales/en.json, written in by assets.py), shown at once;
  // another language's fetched from its content-hashed file, and swapped in when it comes.
  var T = JSON.parse("@@passgate:en@@");
  // The locales' common hash (in their file names), then the code of each.
  var LOCALES = "@@passgate:locales@@".split(" ");
  var ALIAS = {
    iw: "he",
    no: "nb",
    nn: "nb", // Nynorsk: Bokmål is the nearest this widget speaks
    tl: "fil",
    zh: "zh-hans",
    "zh-cn": "zh-hans",
    "zh-tw": "zh-hant",
    "zh-hk": "zh-hant",
    "zh-mo": "zh-hant",
  };
  // hl (the page's choice), the page's <html lang>, then the browser's languages: the first
  // this widget speaks, itself or along its base language (de-AT: de), else English.
  var lang = pick(
    [q.get("hl"), q.get("lang")].concat(
      navigator.languages || [navigator.language],
    ),
  );

  function pick(tags) {
    var codes = {};
    LOCALES.slice(1).forEach(function (c) {
      codes[c.toLowerCase()] = c;
    });
    for (var i = 0; i < tags.length; i++) {
      var t = String(tags[i] || "")
        .toLowerCase()
        .replace(/_/g, "-")
        .replace(/^es-(?!es$).+/, "es-419") // Latin America's, the US's
        .replace(/^pt-(?!br$).+/, "pt-pt"); // pt is Brazil's
      for (; t; t = t.replace(/-?[^-]*$/, "")) {
        if (codes[ALIAS[t] || t]) return codes[ALIAS[t] || t];
      }
    }
    return "en";
  }

  var root = document.documentElement;
  var $ = document.getElementById.bind(document);
  var box = $("box"),
    label = $("label"),
    name = $("name"),
    note = $("note"),
    fill = $("fill"),
    pg = $("pg"),
    live = $("live");

  // What this browser can run: workers, and WebAssembly with SIMD (the Argon2id solver);
  // without the latter the frame asks for the site's SHA-256 fallback, if it has one.
  var canWork = typeof Worker === "function";
  var canWasm = (function () {
    try {
      // (module (func (result v128) i32.const 0 i8x16.splat i8x16.popcnt))
      return WebAssembly.validate(
        new Uint8Array([
          0, 97, 115, 109, 1, 0, 0, 0, 1, 5, 1, 96, 0, 1, 123, 3, 2, 1, 0, 10,
          10, 1, 8, 0, 65, 0, 253, 15, 253, 98, 11,
        ]),
      );
    } catch (e) {
      return false;
    }
  })();
  // The solver of each algorithm (served under content-hashed names, see assets.py).
  var WORKERS = {
    sha256: "static/worker.js",
    argon2id: "static/worker-argon2.js",
  };

  var state = "idle";
  var run = 0; // incremented to cancel whatever the previous run still has in flight
  var pool = []; // workers, kept between runs so V8's optimized code stays warm
  var kind = "sha256"; // the pool's algorithm: the last challenge's
  var width = 4; // the most workers that algorithm's challenges use
  var busy = false;
  var rqdata = null;
  var action = ""; // Turnstile's and reCAPTCHA's action and Turnstile's cData, bound by the page
  var cdata = "";
  var timer = 0;
  var shown = -1; // the percentage on screen
  var spoken = -1; // the last quarter announced
  var drawn = -1; // the bar's width, in percent
  var heard = 0; // when the workers last reported (Date.now())
  var blocked = false; // this browser refused to start a worker
  var watchdog = 0;
  var clicked = 0; // when this run started (Date.now())
  var posted = 0; // when its workers were given their parts; 0 before
  var creep = 0; // the interval that keeps the bar moving between reports
  var floor = 0; // the share the bar has crept to, between reports
  var guess = 0; // the workers' last estimate
  var parts = 1; // the parts of the challenge being solved
  var tall = 0; // the height last sent to the page

  root.className =
    "t-" +
    (/^(dark|contrast)$/.test(theme) ? theme : "light") +
    " s-" +
    (size === "compact" ? "compact" : "normal");
  $("tag").textContent = T.tag;
  show("idle", T.human, "");
  if (lang !== "en") {
    fetch("static/locales/" + lang + "." + LOCALES[0] + ".json", {
      credentials: "omit",
    })
      .then(function (r) {
        return r.json();
      })
      .then(translate, function () {}); // English it stays
  }

  // The chosen language's strings in place of English's, on screen too.
  function translate(strings) {
    var next = {};
    for (var k in T) next[k] = strings[k] || T[k];
    [label, name, note, $("tag")].forEach(function (el) {
      for (var k in T) {
        if (el.textContent && el.textContent === T[k]) {
          el.textContent = next[k];
          return;
        }
      }
    });
    T = next;
    root.lang = lang;
    if (/^(ar|fa|he|ur)$/.test(lang)) root.dir = "rtl";
    send("lang", { lang: lang, title: T.title }); // the page names the iframe with it
  }

  function show(next, text, detail) {
    state = next;
    root.classList.remove("is-working", "is-done", "is-error");
    if (next !== "idle") root.classList.add("is-" + next);
    box.setAttribute("aria-checked", next === "done" ? "true" : "false");
    label.textContent = text;
    // The box's accessible name: the state, never the percentage, which a screen reader
    // would read out on every change (the live region announces quarters).
    name.textContent = next === "working" ? T.human : text;
    note.textContent = detail;
  }

  function say(text) {
    live.textContent = text;
  }

  // f: the estimated share of the work done, below 1 until the last part is found, and
  // growing with every report of the workers (see solve), so the bar, drawn at a tenth of a
  // percent, keeps moving; the label shows whole percents, and the live region announces
  // quarters only, in the widget's language (T.progress).
  function progress(f) {
    var bar = Math.floor(f * 100000) / 1000;
    if (bar > drawn) {
      drawn = bar;
      fill.style.width = bar + "%";
    }
    var p = Math.min(99, Math.floor(f * 100));
    if (p <= shown) return;
    shown = p;
    label.textContent = T.working.replace("{p}", p);
    if (Math.floor(p / 25) > spoken) {
      spoken = Math.floor(p / 25);
      say(T.progress.replace("{p}", p));
    }
  }

  // Between the workers' reports the estimate can flatten (a part that takes longer than
  // expected): every 400 ms the bar creeps a thirtieth of the way to the next whole part,
  // never reaching it, so it moves at least every 500 ms and reaches 100 % only when done.
  function tick() {
    var x = Math.max(guess, floor) * parts;
    var next = Math.min(parts, Math.floor(x) + 1);
    floor = Math.min(x + (next - x) / 30, next - 1e-6) / parts;
    progress(floor);
  }

  // The height the frame needs (its box grows when the text needs more room: larger text,
  // wider spacing, WCAG 1.4.12), told to the page, which sizes the iframe (page/engine.js).
  function measure() {
    var h = Math.ceil(pg.getBoundingClientRect().height);
    if (h !== tall) {
      tall = h;
      send("height", { height: h });
    }
  }

  function send(type, extra) {
    var msg = { source: "passgate", type: type, id: q.get("id") || "" };
    for (var k in extra) msg[k] = extra[k];
    try {
      parent.postMessage(msg, origin);
    } catch (e) {
      // an unusable origin parameter: nobody to tell
    }
  }

  var UNSUPPORTED = { code: "challenge-error", unsupported: true };
  var BLOCKED = { code: "challenge-error", blocked: true };
  // Workers that never report (blocked, or stuck) must not leave a spinner forever: the
  // page hears of it within 10 s of the click. Their first report is due LIMIT ms after the
  // click (FIRST ms after they got their parts at least, should the challenge come late);
  // later ones SILENCE ms after the last. A challenge that does not come is api()'s TIMEOUT.
  var LIMIT = 9000;
  var FIRST = 4000;
  var SILENCE = 8000;
  var TIMEOUT = 15000;
  var abort = null; // rejects the solve in progress

  function due() {
    if (!posted) return Date.now() + 500; // the challenge is on its way
    return heard ? heard + SILENCE : Math.max(clicked + LIMIT, posted + FIRST);
  }

  function watch(mine) {
    clearTimeout(watchdog);
    watchdog = setTimeout(
      function () {
        if (mine !== run) return;
        if (posted && abort && Date.now() >= due()) return abort(BLOCKED);
        watch(mine);
      },
      Math.max(0, due() - Date.now()),
    );
  }

  function stop() {
    run++;
    clearTimeout(timer);
    clearTimeout(watchdog);
    clearInterval(creep);
    if (!busy) return;
    busy = false; // a worker cannot be interrupted mid-part: replace them all
    pool.forEach(function (w) {
      w.terminate();
    });
    pool = [];
  }

  // Start the workers early (on hover or focus), so they are ready when the box is checked.
  // False when this browser cannot run them (a module worker for WebAssembly solvers), or
  // refuses to start one (`blocked`: hardened privacy settings, content blockers).
  function prepare() {
    var count = Math.min(navigator.hardwareConcurrency || 2, width);
    while (canWork && pool.length < count) {
      var module = false;
      var w;
      try {
        w =
          kind === "sha256"
            ? new Worker(WORKERS.sha256)
            : new Worker(WORKERS[kind], {
                get type() {
                  module = true;
                  return "module";
                },
              });
      } catch (e) {
        blocked = true;
        return false;
      }
      if (kind !== "sha256" && !module) {
        w.terminate();
        return false;
      }
      w.onerror = flag; // a script refused before solve() listens
      pool.push(w);
    }
    return canWork;
  }

  function flag() {
    this.failed = true;
  }

  function start() {
    if (state === "working") return;
    stop();
    var mine = run;
    shown = spoken = drawn = -1;
    clicked = Date.now();
    posted = floor = guess = 0;
    watch(mine);
    show("working", "", "");
    progress(0);
    send("open");
    earn(mine, 1)
      .then(function (r) {
        if (mine !== run || !r) return;
        stop();
        rqdata = null;
        show("done", T.done, "");
        fill.style.width = "100%";
        say(T.done);
        send("token", {
          response: r.token,
          key: r.ekey,
          expires_in: r.expires_in,
        });
      })
      .catch(function (err) {
        if (mine !== run) return;
        var code = (err && err.code) || "challenge-error";
        stop();
        show(
          "error",
          T.failed,
          err && err.blocked
            ? T.blocked
            : err && err.unsupported
              ? T.unsupported
              : T[code] || T.retry,
        );
        say(T.failed + ". " + note.textContent);
        // why: the server's reason, or the browser's (Turnstile's error codes tell them apart)
        send("error", {
          code: code,
          why: !err
            ? ""
            : err.unsupported
              ? "unsupported"
              : err.blocked
                ? "blocked"
                : err.why || "",
        });
      });
  }

  // Fetch a challenge, solve it and trade the solution for a token. A solution the server
  // answers with `renew` (its challenge predates the store) is replaced by a fresh
  // challenge, silently, `renewals` times at most. A solver this browser cannot run asks
  // for the site's fallback once; a server that finds this frame out of date (`reload`)
  // has it load again, once: the page then resumes the run (api.js, on "ready").
  function earn(mine, renewals, renew, fallback) {
    if (!canWork) return Promise.reject(UNSUPPORTED);
    posted = 0;
    var ask = { sitekey: sitekey, host: host, v: 2 };
    if (renew) ask.renew = true;
    if (fallback || !canWasm) ask.fallback = true;
    return api("challenge", ask)
      .then(function (c) {
        if (mine !== run) return;
        if (q.has("reloaded")) {
          q.delete("reloaded"); // up to date: a later upgrade may reload it again
          history.replaceState(null, "", "?" + q);
        }
        if (c.token) return c;
        var left = c.expires * 1000 - Date.now();
        clearTimeout(timer);
        if (left > 0) timer = setTimeout(expire, left); // unless the clocks disagree
        return solve(c, mine).then(function (nonces) {
          if (mine !== run) return;
          var body = { challenge: c.challenge, nonces: nonces };
          if (rqdata != null) body.rqdata = rqdata;
          if (size === "invisible") body.mode = "invisible";
          if (iface) body.interface = iface;
          if (action) body.action = action;
          if (cdata) body.cdata = cdata;
          body.automation = automation;
          return api("solve", body);
        });
      })
      .catch(function (err) {
        if (mine !== run || !err) throw err;
        if (err.renew && renewals > 0)
          return earn(mine, renewals - 1, true, fallback);
        if (err.unsupported && !ask.fallback)
          return earn(mine, renewals, false, true);
        if (!err.reload || q.has("reloaded")) throw err;
        q.set("reloaded", "1");
        location.replace("?" + q);
        return new Promise(function () {}); // this document is going away
      });
  }

  function expire() {
    stop();
    show("error", T.failed, T.expired);
    say(T.expired);
    send("chalexpired");
  }

  // POST JSON to the widget API on this frame's own origin; rejects with {code}.
  // A request that stalls is given up after TIMEOUT ms, as a network error.
  function api(path, body) {
    var ctl = typeof AbortController === "function" ? new AbortController() : null;
    var limit = setTimeout(function () {
      if (ctl) ctl.abort();
    }, TIMEOUT);
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
      signal: ctl ? ctl.signal : undefined,
    }).then(
      function (res) {
        clearTimeout(limit); // the body may still stall: the signal covers it until read
        limit = setTimeout(function () {
          if (ctl) ctl.abort();
        }, TIMEOUT);
        return res.json().then(
          function (data) {
            clearTimeout(limit);
            if (res.ok) return data;
            throw {
              code: res.status === 429 ? "rate-limited" : data.error,
              renew: data.renew === true,
              reload: data.reload === true,
              unsupported: data.nowasm === true,
              why: data.message,
            };
          },
          function () {
            clearTimeout(limit);
            if (ctl && ctl.signal.aborted) throw { code: "network-error" };
            throw {
              code: res.status === 429 ? "rate-limited" : "challenge-error",
            };
          },
        );
      },
      function () {
        clearTimeout(limit);
        throw { code: "network-error" };
      },
    );
  }

  // Solve every part, handing parts to the workers as they become free. A challenge of an
  // algorithm this frame has no solver for comes from a newer server: reload.
  function solve(c, mine) {
    var algorithm = c.algorithm || "sha256";
    if (!WORKERS[algorithm]) throw { code: "challenge-error", reload: true };
    if (algorithm !== kind) {
      pool.forEach(function (w) {
        w.terminate();
      });
      pool = [];
      kind = algorithm;
    }
    width = kind === "sha256" ? 4 : c.parts;
    if (!prepare()) throw blocked ? BLOCKED : UNSUPPORTED;
    busy = true;
    var expected = 4294967296 / c.threshold; // attempts a part takes, on average
    var nonces = [],
      next = 0,
      found = 0,
      tried = []; // attempts on the part each worker holds
    // Each part found counts 1, each part in hand 1 - e^(-attempts/expected): the estimate
    // grows with every report and never jumps back when a part is found early or late.
    function estimate() {
      var x = found;
      tried.forEach(function (n) {
        x += 1 - Math.exp(-n / expected);
      });
      return x / c.parts;
    }
    return new Promise(function (resolve, reject) {
      abort = reject; // by the watchdog (watch), armed at the click
      heard = 0;
      posted = Date.now();
      guess = floor = 0;
      parts = c.parts;
      clearInterval(creep);
      creep = setInterval(tick, 400);
      watch(mine);
      function give(w, i) {
        tried[i] = 0;
        if (next >= c.parts) return;
        var job = { salt: c.salt, part: next++, threshold: c.threshold };
        for (var k in c.params) job[k] = c.params[k];
        w.postMessage(job);
      }
      pool.forEach(function (w, i) {
        w.onmessage = function (e) {
          var m = e.data;
          if (mine !== run) return;
          heard = Date.now();
          if (m.type === "progress") {
            tried[i] += m.hashes;
            guess = estimate();
            progress(guess);
          } else if (m.type === "found") {
            nonces[m.part] = m.nonce;
            if (++found < c.parts) return give(w, i);
            busy = false;
            clearTimeout(watchdog);
            clearInterval(creep);
            resolve(nonces);
          } else {
            reject(
              m.type === "nowasm" ? UNSUPPORTED : { code: "challenge-error" },
            );
          }
        };
        w.onerror = function () {
          reject(BLOCKED); // its script refused or failed to load
        };
        if (w.failed) reject(BLOCKED); // before this run
        give(w, i);
      });
    });
  }

  function activate(e) {
    if (state === "done") return;
    if (e) e.preventDefault();
    start();
  }
  ["pointerover", "focusin", "touchstart"].forEach(function (type) {
    document.addEventListener(type, prepare, { once: true, passive: true });
  });
  box.addEventListener("click", activate);
  label.parentNode.addEventListener("click", function () {
    box.focus();
    activate();
  });
  box.addEventListener("keydown", function (e) {
    if (e.key === " " || e.key === "Enter") activate(e);
  });

  window.addEventListener("message", function (e) {
    var m = e.data;
    if (
      e.source !== parent ||
      e.origin !== origin ||
      !m ||
      m.source !== "passgate"
    )
      return;
    if ("rqdata" in m) rqdata = m.rqdata;
    if ("action" in m) action = m.action;
    if ("cdata" in m) cdata = m.cdata;
    if (m.type === "execute") {
      if (state === "working") return;
      stop();
      start();
    } else if (
      m.type === "reset" ||
      (m.type === "close" && state === "working")
    ) {
      stop();
      show("idle", T.human, "");
      fill.style.width = "0";
    } else if (m.type === "done" && state === "idle") {
      // loaded again (the page moved the frame) while the page holds a token from it
      show("done", T.done, "");
      fill.style.width = "100%";
    } else if (m.type === "expired" && state === "done") {
      show("idle", T.human, T.expired);
      fill.style.width = "0";
      say(T.expired);
    }
  });

  send("ready");
  if (typeof ResizeObserver === "function") new ResizeObserver(measure).observe(pg);
  measure();
})();
