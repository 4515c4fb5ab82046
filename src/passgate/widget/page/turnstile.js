/* passgate's Turnstile adapter (served, after engine.js, as /turnstile/v0/api.js): Turnstile's
 * page interface (docs/turnstile.md §1-5) over the engine. It exposes window.turnstile,
 * renders .cf-turnstile containers, and writes the hidden cf-turnstile-response input.
 * Query parameters: render (explicit: nothing until turnstile.render), onload; any other is
 * ignored. The widget, its look and its words are passgate's. */
var E = engine({
  file: "/turnstile/v0/api.js",
  select: 'script[src*="/turnstile/v0/api.js"]',
  path: /\/turnstile\/v0\/api\.js$/,
  iface: "turnstile",
  attr: "data-passgate-id",
  early: 10000, // expired-callback comes 10 s before the end, as Turnstile's does
  emit: emit,
});
var opt = E.opt;
var ONLOAD = opt.get("onload");

// Loaded twice: one set of globals and widgets, but this copy's onload is called too.
if (window.turnstile && window.turnstile.passgate) onload();
else turnstile();

// window[onload] once, right after the script; if it is not defined yet, once more 1 s later.
function onload() {
  setTimeout(function () {
    E.onload(ONLOAD, 1, 1000);
  });
}

// Every parameter, as a render key; its attribute is data- and the key in lower case.
var KEYS = (
  "sitekey action cData theme size appearance execution language retry retry-interval " +
  "refresh-expired refresh-timeout response-field response-field-name tabindex callback " +
  "error-callback expired-callback timeout-callback before-interactive-callback " +
  "after-interactive-callback unsupported-callback"
).split(" ");
// The values of each parameter that takes a few, its default first.
var VALUES = {
  theme: ["auto", "light", "dark"],
  size: ["normal", "flexible", "compact", "invisible"], // invisible: wrappers' older name
  appearance: ["always", "execute", "interaction-only"],
  execution: ["render", "execute"],
  retry: ["auto", "never"],
  "refresh-expired": ["auto", "manual", "never"],
  "refresh-timeout": ["auto", "manual", "never"],
};
var ACTION = /^[\w-]{0,32}$/;
var CDATA = /^[\w=-]{0,255}$/;
// Turnstile's published test sitekeys (§8): the server answers them; the page side shows the
// invisible ones never, asks a click for the interactive one, and never retries the failing.
var INTERACTIVE = "3x00000000000000000000FF";
var TEST = /^[123]x0{20}[A-F]{2}$/;
var ASK = 300000; // ms a click is waited for before timeout-callback
var RETRYABLE = /^(110600|200500|300010|600010)$/;

function warn(text) {
  console.warn("[passgate] " + text);
}

// error-callback(code): a truthy answer means handled; else a warning. No error-callback at
// all: the error is thrown, on its own.
function fail(cfg, code) {
  var f = E.fn(cfg["error-callback"]);
  if (!f) {
    setTimeout(function () {
      throw new Error("[passgate] widget error " + code);
    });
  } else if (!E.call(f, code)) warn("widget error " + code);
}

// The frame's failure (the hCaptcha engine's code, and why) as one of Turnstile's codes.
function code(m) {
  var why = m.why || "";
  if (why === "unsupported") return "110500";
  if (why === "blocked") return "300010";
  if (m.code === "network-error") return "200500";
  if (m.code === "invalid-data") {
    if (/allowed/.test(why)) return "110200";
    return /sitekey/.test(why) ? "110100" : "102001";
  }
  return "600010"; // refused, rate limited, a failing test sitekey
}

function emit(w, type, value) {
  var cfg = w.cfg;
  if (type === "open") {
    if (w.asking) {
      w.asking = false;
      clearTimeout(w.ask);
      E.call(cfg["after-interactive-callback"]);
    }
  } else if (type === "token") {
    w.last = value;
    w.expired = false;
    E.call(cfg.callback, value);
  } else if (type === "expired") {
    w.expired = true;
    E.call(cfg["expired-callback"], value);
    if (cfg["refresh-expired"] === "auto") run(w);
  } else {
    var c = type === "chalexpired" ? "110600" : code(value);
    if (c === "110500") E.call(cfg["unsupported-callback"]);
    fail(cfg, c);
    if (cfg.retry === "auto" && RETRYABLE.test(c) && !TEST.test(cfg.sitekey)) {
      clearTimeout(w.retry);
      w.retry = setTimeout(function () {
        if (E.widgets[w.id] === w && !w.running && !w.token) run(w);
      }, cfg["retry-interval"]);
    }
  }
}

// Starts a run; the interactive test sitekey asks for a click first, and shows itself.
function run(w) {
  if (w.cfg.sitekey !== INTERACTIVE) return E.execute(w);
  E.show(w, 1);
  if (w.asking) return;
  w.asking = true;
  E.call(w.cfg["before-interactive-callback"]);
  w.ask = setTimeout(function () {
    if (E.widgets[w.id] !== w || !w.asking) return;
    w.asking = false;
    E.call(w.cfg["timeout-callback"]);
    if (w.cfg["refresh-timeout"] === "auto") run(w);
  }, ASK);
}

// A parameter's value, checked: one outside its list is warned about and the default used.
function checked(cfg, k) {
  var v = cfg[k];
  var ok = VALUES[k];
  if (ok) {
    if (v != null && ok.indexOf(v) < 0) {
      warn("unknown " + k + " " + JSON.stringify(v) + ": " + ok[0] + " used");
      v = null;
    }
    return v == null ? ok[0] : v;
  }
  if (k === "retry-interval") {
    v = v == null ? 8000 : Number(v);
    return v > 0 && v < 900000 && v % 1 === 0 ? v : (warn("bad " + k), 8000);
  }
  return v;
}

function turnstile() {
  function query(s) {
    try {
      return document.querySelector(s);
    } catch (e) {
      return null;
    }
  }

  // A widget by its id, its container or a selector of it; none: the newest live one.
  function find(a) {
    E.find();
    if (a == null) return E.widgets[E.order[E.order.length - 1]];
    var w = E.widgets[a];
    if (w) return w;
    var el = typeof a === "string" ? query(a) : a;
    w = el && el.getAttribute && E.widgets[el.getAttribute("data-passgate-id")];
    return w && w.el === el ? w : undefined;
  }

  // The container's data-* attributes, then the render keys over them.
  function settings(el, params) {
    var cfg = {};
    KEYS.forEach(function (k) {
      var v = el.getAttribute("data-" + k.toLowerCase());
      if (v != null) cfg[k] = v;
    });
    if ("response-field" in cfg) cfg["response-field"] = cfg["response-field"] === "true";
    for (var k in params || {}) if (params[k] !== undefined) cfg[k] = params[k];
    for (k in VALUES) cfg[k] = checked(cfg, k);
    cfg["retry-interval"] = checked(cfg, "retry-interval");
    return cfg;
  }

  // An action or cData that breaks its rule: its error code, else "".
  function refused(cfg) {
    if (!ACTION.test(cfg.action == null ? "" : cfg.action)) return "110420";
    return CDATA.test(cfg.cData == null ? "" : cfg.cData) ? "" : "110430";
  }

  function render(container, params) {
    var el = typeof container === "string" ? query(container) : container;
    if (!el || !el.appendChild) return warn("no container " + container);
    var cfg = settings(el, params);
    var key = cfg.sitekey;
    if (!key) return warn("no sitekey");
    var bad = refused(cfg);
    if (bad) {
      // refused before anything is rendered or sent
      return void setTimeout(function () {
        fail(cfg, bad);
      });
    }
    if (TEST.test(key)) warn("a test sitekey: for testing only");
    var theme = cfg.theme;
    if (theme === "auto")
      theme = matchMedia("(prefers-color-scheme: dark)").matches ? "dark" : "light";
    var lang = String(cfg.language || "auto");
    var hidden =
      /^[12]x0{20}BB$/.test(key) ||
      cfg.appearance === "interaction-only" ||
      cfg.size === "invisible";
    var w = E.render(el, {
      sitekey: key,
      theme: theme,
      size: cfg.size,
      hl: lang === "auto" ? "" : lang,
      tabindex: cfg.tabindex,
      vis: hidden ? 3 : cfg.appearance === "execute" ? 2 : 0,
      wrap: true,
      fields:
        cfg["response-field"] === false
          ? []
          : [["input", cfg["response-field-name"] || "cf-turnstile-response", "@_response"]],
    });
    w.cfg = cfg;
    w.action = cfg.action || "";
    w.cdata = cfg.cData || "";
    if (cfg.execution === "render") run(w);
    return w.id;
  }

  window.turnstile = {
    passgate: true,
    render: render,
    execute: function (container, params) {
      var w = find(container);
      if (!w && params) w = E.widgets[render(container, params)];
      if (!w) return;
      if (params) {
        var cfg = {};
        for (var k in w.cfg) cfg[k] = w.cfg[k];
        for (k in params) if (params[k] !== undefined) cfg[k] = params[k];
        var bad = refused(cfg);
        if (bad) return fail(cfg, bad);
        w.cfg = cfg;
        w.action = cfg.action || "";
        w.cdata = cfg.cData || "";
      }
      if (w.running) return;
      if (w.token) return void E.call(w.cfg.callback, w.token);
      run(w);
    },
    reset: function (id) {
      var w = find(id);
      if (!w) return;
      clearTimeout(w.retry);
      w.last = undefined;
      w.expired = false;
      E.stop(w, "reset");
      if (w.cfg.execution === "render") run(w);
    },
    remove: function (id) {
      var w = find(id);
      if (w) E.drop(w);
    },
    getResponse: function (id) {
      E.sweep();
      var w = find(id);
      return (w && (w.token || w.last)) || undefined;
    },
    isExpired: function (id) {
      E.sweep();
      var w = find(id);
      return !!(w && w.expired);
    },
    ready: function (f) {
      if (document.readyState === "loading") E.parsed(f);
      else f();
    },
    implicitRender: implicit,
  };

  function implicit() {
    document.querySelectorAll(".cf-turnstile").forEach(function (el) {
      if (el.getAttribute("data-passgate-id")) return;
      try {
        render(el);
      } catch (e) {
        setTimeout(function () {
          throw e;
        });
      }
    });
  }

  if (opt.get("render") !== "explicit") E.parsed(implicit);
  onload();
}
