/* passgate widget frame: the checkbox, the calls to /1/challenge and /1/solve, the
 * proof-of-work workers, and the messages to the page that embeds the frame.
 * Query parameters (set by api.js): sitekey, host, hl, theme, size, id, origin. */
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

  // Strings: human, working, done, failed, retry, expired, rate-limited, network-error, tag.
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
    ],
  };
  var KEYS =
    "human working done failed retry expired rate-limited network-error tag".split(
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

  var state = "idle";
  var run = 0; // incremented to cancel whatever the previous run still has in flight
  var pool = []; // workers, kept between runs so V8's optimized code stays warm
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
  function prepare() {
    var count = Math.min(navigator.hardwareConcurrency || 2, 4);
    while (pool.length < count) pool.push(new Worker("static/worker.js"));
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
        show("error", T.failed, T[code] || T.retry);
        say(T.failed + ". " + note.textContent);
        send("error", { code: code });
      });
  }

  // Fetch a challenge, solve it and trade the solution for a token. A solution the server
  // answers with `renew` (its challenge predates the store) is replaced by a fresh
  // challenge, silently, `renewals` times at most.
  function earn(mine, renewals, renew) {
    var ask = { sitekey: sitekey, host: host };
    if (renew) ask.renew = true;
    return api("challenge", ask)
      .then(function (c) {
        if (mine !== run) return;
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
        if (mine === run && err && err.renew && renewals > 0)
          return earn(mine, renewals - 1, true);
        throw err;
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

  // Solve every part, handing parts to the workers as they become free.
  function solve(c, mine) {
    prepare();
    busy = true;
    var expected = (c.parts * 4294967296) / c.threshold;
    var nonces = [],
      next = 0,
      found = 0,
      hashes = 0;
    return new Promise(function (resolve, reject) {
      function give(w) {
        if (next < c.parts)
          w.postMessage({ salt: c.salt, part: next++, threshold: c.threshold });
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
            reject({ code: "challenge-error" });
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
