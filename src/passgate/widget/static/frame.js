/* passgate widget frame: the checkbox, the calls to /1/challenge and /1/solve, the
 * proof-of-work workers, and the messages to the page that embeds the frame.
 * Query parameters (set by api.js): sitekey, host, hl, theme, size, id, origin, am; and
 * reloaded, set by the frame itself when the server said it was out of date. */
"use strict";
(function () {
  var q = new URLSearchParams(location.search);
  var sitekey = q.get("sitekey") || "";
  var host = q.get("host") || "";
  var origin = q.get("origin") || "";
  var size = q.get("size") || "normal";
  var theme = q.get("theme") || "light";
  // Automation markers, the page's (from api.js) and this frame's own: booleans for the score.
  var automation = { webdriver: navigator.webdriver === true };
  (q.get("am") || "").split(",").forEach(function (k) {
    if (k) automation[k] = true;
  });

  // Strings: human, working, done, failed, retry, expired, rate-limited, network-error, tag,
  // unsupported.
  var STRINGS = {
    en: [
      "I am human",
      "Verifying… {p}%",
      "Verified",
      "Verification failed",
      "Click to try again.",
      "Expired. Click to check again.",
      "Too many attempts. Wait a moment.",
      "Network error. Try again.",
      "proof of work",
      "Your browser cannot run this check.",
    ],
    de: [
      "Ich bin ein Mensch",
      "Prüfung … {p}\u00a0%",
      "Bestätigt",
      "Prüfung fehlgeschlagen",
      "Zum Wiederholen anklicken.",
      "Abgelaufen. Bitte erneut anklicken.",
      "Zu viele Versuche. Bitte kurz warten.",
      "Netzwerkfehler. Erneut versuchen.",
      "Arbeitsnachweis",
      "Ihr Browser unterstützt das nicht.",
    ],
    zh: [
      "我是人类",
      "正在验证… {p}%",
      "验证成功",
      "验证失败",
      "点击重试。",
      "已过期，请重新勾选。",
      "尝试次数过多，请稍后再试。",
      "网络错误，请重试。",
      "工作量证明",
      "您的浏览器无法运行此验证。",
    ],
  };
  var KEYS =
    "human working done failed retry expired rate-limited network-error tag unsupported".split(
      " ",
    );
  var lang = pickLanguage([q.get("hl"), navigator.language, "en"]);
  var T = {};
  KEYS.forEach(function (k, i) {
    T[k] = STRINGS[lang][i];
  });

  function pickLanguage(candidates) {
    for (var i = 0; i < candidates.length; i++) {
      var base = String(candidates[i] || "")
        .toLowerCase()
        .split(/[-_]/)[0];
      if (STRINGS[base]) return base;
    }
    return "en";
  }

  var root = document.documentElement;
  var $ = document.getElementById.bind(document);
  var box = $("box"),
    label = $("label"),
    note = $("note"),
    fill = $("fill"),
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
  var timer = 0;
  var shown = -1; // the percentage on screen
  var spoken = -1; // the last quarter announced

  root.lang = lang === "zh" ? "zh-CN" : lang;
  root.className =
    "t-" +
    (/^(dark|contrast)$/.test(theme) ? theme : "light") +
    " s-" +
    (size === "compact" ? "compact" : "normal");
  $("tag").textContent = T.tag;
  show("idle", T.human, "");

  function show(next, text, detail) {
    state = next;
    root.classList.remove("is-working", "is-done", "is-error");
    if (next !== "idle") root.classList.add("is-" + next);
    box.setAttribute("aria-checked", next === "done" ? "true" : "false");
    label.textContent = text;
    note.textContent = detail;
  }

  function say(text) {
    live.textContent = text;
  }

  function progress(fraction) {
    var p = Math.min(99, Math.floor(fraction * 100));
    if (p <= shown) return;
    shown = p;
    label.textContent = T.working.replace("{p}", p);
    fill.style.width = p + "%";
    if (Math.floor(p / 25) > spoken) {
      spoken = Math.floor(p / 25);
      say(label.textContent);
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

  function stop() {
    run++;
    clearTimeout(timer);
    if (!busy) return;
    busy = false; // a worker cannot be interrupted mid-part: replace them all
    pool.forEach(function (w) {
      w.terminate();
    });
    pool = [];
  }

  // Start the workers early (on hover or focus), so they are ready when the box is checked.
  // False when this browser cannot run them (a module worker for WebAssembly solvers).
  function prepare() {
    var count = Math.min(navigator.hardwareConcurrency || 2, width);
    while (canWork && pool.length < count) {
      var module = false;
      var w =
        kind === "sha256"
          ? new Worker(WORKERS.sha256)
          : new Worker(WORKERS[kind], {
              get type() {
                module = true;
                return "module";
              },
            });
      if (kind !== "sha256" && !module) {
        w.terminate();
        return false;
      }
      pool.push(w);
    }
    return canWork;
  }

  function start() {
    if (state === "working") return;
    stop();
    var mine = run;
    shown = spoken = -1;
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
          err && err.unsupported ? T.unsupported : T[code] || T.retry,
        );
        say(T.failed + ". " + note.textContent);
        send("error", { code: code });
      });
  }

  // Fetch a challenge, solve it and trade the solution for a token. A solution the server
  // answers with `renew` (its challenge predates the store) is replaced by a fresh
  // challenge, silently, `renewals` times at most. A solver this browser cannot run asks
  // for the site's fallback once; a server that finds this frame out of date (`reload`)
  // has it load again, once: the page then resumes the run (api.js, on "ready").
  function earn(mine, renewals, renew, fallback) {
    if (!canWork) return Promise.reject(UNSUPPORTED);
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
  function api(path, body) {
    return fetch(path, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify(body),
      credentials: "omit",
      cache: "no-store",
    }).then(
      function (res) {
        return res.json().then(
          function (data) {
            if (res.ok) return data;
            throw {
              code: res.status === 429 ? "rate-limited" : data.error,
              renew: data.renew === true,
              reload: data.reload === true,
              unsupported: data.nowasm === true,
            };
          },
          function () {
            throw {
              code: res.status === 429 ? "rate-limited" : "challenge-error",
            };
          },
        );
      },
      function () {
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
    if (!prepare()) throw UNSUPPORTED;
    busy = true;
    var expected = (c.parts * 4294967296) / c.threshold;
    var nonces = [],
      next = 0,
      found = 0,
      hashes = 0;
    return new Promise(function (resolve, reject) {
      function give(w) {
        if (next >= c.parts) return;
        var job = { salt: c.salt, part: next++, threshold: c.threshold };
        for (var k in c.params) job[k] = c.params[k];
        w.postMessage(job);
      }
      pool.forEach(function (w) {
        w.onmessage = function (e) {
          var m = e.data;
          if (mine !== run) return;
          if (m.type === "progress") {
            hashes += m.hashes;
            progress(Math.max(found / c.parts, hashes / expected));
          } else if (m.type === "found") {
            nonces[m.part] = m.nonce;
            if (++found < c.parts) return give(w);
            busy = false;
            resolve(nonces);
          } else {
            reject(
              m.type === "nowasm" ? UNSUPPORTED : { code: "challenge-error" },
            );
          }
        };
        w.onerror = function () {
          reject({ code: "challenge-error" });
        };
        give(w);
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
})();
