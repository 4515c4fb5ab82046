/* passgate api.js: the page-side script, a drop-in for hCaptcha's. It exposes
 * window.hcaptcha (and window.grecaptcha), renders .h-captcha containers, creates the
 * widget iframe from the passgate origin, relays its events over postMessage and
 * writes the hidden h-captcha-response / g-recaptcha-response fields.
 * Query parameters: onload, render (onload|explicit), hl, recaptchacompat (on|off),
 * endpoint; sentry, custom, assethost, imghost, reportapi, host and uj are ignored. */
(function () {
  "use strict";
  var script =
    document.currentScript ||
    document.querySelector(
      'script[src*="/1/api.js"],script[src*="/1/secure-api.js"]',
    );
  var src = new URL(script ? script.src : "/1/api.js", location.href);
  var opt = src.searchParams;
  var onload = opt.get("onload");

  // Calls the onload function once the page is parsed; a script that runs later may define
  // it (async scripts run in any order), so it is looked for again for 10 s.
  function ready() {
    var left = 100;
    (function call() {
      if (!onload) return;
      if (typeof window[onload] === "function") window[onload]();
      else if (left--) setTimeout(call, 100);
    })();
  }
  function parsed(f) {
    if (document.readyState === "loading")
      document.addEventListener("DOMContentLoaded", f);
    else setTimeout(f);
  }
  // Loaded twice (a wrapper adding the script to a page that has it): one set of globals and
  // widgets, but this copy's onload is called too.
  if (window.hcaptcha && window.hcaptcha.passgate) return parsed(ready);

  // The API base: `endpoint`, else where this script came from (keeping any path prefix).
  var base = (
    opt.get("endpoint") ||
    src.origin + src.pathname.replace(/\/1\/(secure-)?api\.js$/, "")
  ).replace(/\/+$/, "");
  var ORIGIN = new URL(base, location.href).origin;
  var compat = opt.get("recaptchacompat") !== "off";
  var SIZES = { normal: [303, 78], compact: [164, 144], invisible: [303, 78] };
  var CALLBACKS = [
    "callback",
    "expired-callback",
    "chalexpired-callback",
    "open-callback",
    "close-callback",
    "error-callback",
  ];
  var widgets = Object.create(null);
  var known = Object.create(null); // every id ever rendered
  var order = [];

  function fail(text) {
    throw new Error("[passgate] " + text);
  }

  // The widget for an id, or the first one when no id is given. A widget whose container or
  // frame has left the document (a framework tore it down) counts as removed; one rendered
  // into a container not yet in the document waits for it.
  function find(id) {
    order.slice().forEach(function (i) {
      var w = widgets[i];
      var box = w.nodes[0]; // a button rendered before it had a parent: its box follows now
      if (!w.seen && box !== w.frame && w.el.isConnected && !box.isConnected)
        w.el.after(box);
      if (w.el.isConnected && w.frame.isConnected) w.seen = true;
      else if (w.seen || w.win) drop(w);
    });
    return widgets[id == null || id === "" ? order[0] : id];
  }

  function drop(w) {
    clearTimeout(w.timer);
    settle(w, false, "challenge-closed");
    w.nodes.forEach(function (n) {
      n.remove();
    });
    if (w.click) w.el.removeEventListener("click", w.click);
    w.el.removeAttribute("data-hcaptcha-widget-id");
    delete widgets[w.id];
    order.splice(order.indexOf(w.id), 1);
  }

  function callback(w, name, arg) {
    var f = w.cfg[name];
    if (typeof f === "string") {
      f = f.split(".").reduce(function (o, k) {
        return o == null ? o : o[k];
      }, window);
    }
    if (typeof f !== "function") return;
    try {
      f(arg);
    } catch (e) {
      setTimeout(function () {
        throw e;
      });
    }
  }

  // Messages wait while the frame loads, and load again when the page moves the frame.
  function send(w, msg) {
    msg.source = "passgate";
    var win = w.frame.contentWindow;
    if (win && win === w.win) win.postMessage(msg, ORIGIN);
    else w.queue.push(msg);
  }

  function settle(w, ok, value) {
    var pending = w.pending;
    w.pending = [];
    pending.forEach(function (p) {
      p[ok ? 0 : 1](value);
    });
  }

  function setToken(w, token, key) {
    w.token = token;
    w.key = key;
    w.fields.forEach(function (f) {
      f.value = token;
    });
    clearTimeout(w.timer);
  }

  function expire(w) {
    setToken(w, "", "");
    send(w, { type: "expired" });
    callback(w, "expired-callback");
  }

  // Timers sleep with the tab and the device: on waking, on focus and before a form is
  // sent, a token past its lifetime leaves the fields.
  function sweep() {
    find();
    order.slice().forEach(function (id) {
      var w = widgets[id];
      if (w && w.token && Date.now() >= w.until) expire(w);
    });
  }
  ["visibilitychange", "pageshow", "focus", "submit"].forEach(function (t) {
    window.addEventListener(t, sweep, true);
  });

  // Marks only automation tools leave on a page (docs/abuse.md): hints for the score, sent
  // as names, never a fingerprint.
  function markers() {
    var w = window,
      d = document,
      m = [];
    if (navigator.webdriver) m.push("webdriver");
    if (w.callPhantom || w._phantom) m.push("phantom");
    if (w.__nightmare) m.push("nightmare");
    if (
      d.__selenium_unwrapped ||
      d.__webdriver_evaluate ||
      w._Selenium_IDE_Recorder
    )
      m.push("selenium");
    if (
      Object.keys(d).some(function (k) {
        return /^\$?cdc_/.test(k);
      })
    )
      m.push("cdc");
    return m.join(",");
  }

  function render(container, config) {
    var el =
      typeof container === "string"
        ? document.getElementById(container)
        : container;
    if (!el || !el.appendChild) fail("container not found: " + container);
    // Rendering into a rendered container replaces its widget; the frame and fields of a
    // copied container (a restored snapshot, a clone) are taken out.
    find();
    var old = widgets[el.getAttribute("data-hcaptcha-widget-id")];
    if (old && old.el === el) drop(old);
    el.querySelectorAll(
      ":scope>iframe[data-hcaptcha-widget-id],:scope>textarea[id*=captcha-response-]",
    ).forEach(function (n) {
      n.remove();
    });
    var cfg = {};
    var data = el.dataset;
    ["sitekey", "theme", "size", "tabindex", "hl"].forEach(function (k) {
      if (data[k]) cfg[k] = data[k];
    });
    CALLBACKS.forEach(function (k) {
      var d = data[k.replace(/-c/, "C")];
      if (d) cfg[k] = d;
    });
    for (var k in config || {}) if (config[k] != null) cfg[k] = config[k];
    if (!cfg.sitekey) fail("missing sitekey");
    // A button or input given the class is bound: clicking it runs an invisible check.
    var bound = /^(BUTTON|INPUT)$/.test(el.tagName);
    var size = bound ? "invisible" : SIZES[cfg.size] ? cfg.size : "normal";
    var id = Math.random().toString(36).slice(2, 12);
    var box = el;
    var click = function (e) {
      e.preventDefault();
      execute(id);
    };
    if (bound) {
      box = document.createElement("span");
      el.after(box);
      el.addEventListener("click", click);
    }
    var frame = document.createElement("iframe");
    var params = new URLSearchParams({
      sitekey: cfg.sitekey,
      host: location.hostname,
      hl: cfg.hl || opt.get("hl") || "",
      theme: cfg.theme || "light",
      size: size,
      id: id,
      origin: location.origin,
      am: markers(),
    });
    frame.src = base + "/1/frame?" + params;
    frame.title = "passgate human check";
    frame.setAttribute("data-hcaptcha-widget-id", id);
    frame.setAttribute("scrolling", "no");
    if (cfg.tabindex != null) frame.setAttribute("tabindex", cfg.tabindex);
    frame.style.border = "0";
    frame.style.width = SIZES[size][0] + "px";
    frame.style.height = SIZES[size][1] + "px";
    frame.style.colorScheme = "normal";
    if (size === "invisible") {
      frame.style.display = "none";
      frame.style.position = "fixed";
      frame.style.right = frame.style.bottom = "16px";
      frame.style.zIndex = "2147483647";
      frame.style.boxShadow = "0 4px 16px rgba(0,0,0,.2)";
      frame.style.borderRadius = "6px";
    }
    var w = {
      id: id,
      el: el,
      cfg: cfg,
      frame: frame,
      size: size,
      seen: el.isConnected,
      nodes: [bound ? box : frame],
      click: bound && click,
      fields: [],
      queue: [],
      pending: [],
    };
    w.token = w.key = "";
    el.setAttribute("data-hcaptcha-widget-id", id);
    box.appendChild(frame);
    ["h-captcha", compat && "g-recaptcha"].forEach(function (p) {
      if (!p) return;
      var ta = document.createElement("textarea");
      ta.name = p + "-response";
      ta.id = p + "-response-" + id;
      ta.hidden = true;
      ta.style.display = "none";
      ta.setAttribute("aria-hidden", "true");
      ta.tabIndex = -1;
      box.appendChild(ta);
      w.fields.push(ta);
      if (!bound) w.nodes.push(ta);
    });
    widgets[id] = w;
    known[id] = 1;
    order.push(id);
    return id;
  }

  // Only the current frame of a live widget is heard: a removed widget's is not.
  window.addEventListener("message", function (e) {
    var m = e.data;
    var w = m && m.source === "passgate" && widgets[m.id];
    if (e.origin !== ORIGIN || !w || w.frame.contentWindow !== e.source) return;
    if (m.type === "ready") {
      if (w.win) {
        // The frame loaded again (its container moved): it resumes where it was.
        var back = { type: w.running ? "execute" : w.token ? "done" : "data" };
        if (w.data != null) back.rqdata = w.data;
        w.queue.unshift(back);
      }
      w.win = e.source;
      w.queue.splice(0).forEach(function (msg) {
        send(w, msg);
      });
    } else if (m.type === "open") {
      if (w.size === "invisible") w.frame.style.display = "";
      if (w.running !== 2) callback(w, "open-callback"); // not again for a resumed run
      w.running = 2;
    } else if (m.type === "token" && typeof m.response === "string") {
      w.running = false;
      w.data = null;
      setToken(w, m.response, m.key || "");
      w.until = Date.now() + (m.expires_in || 120) * 1000;
      w.timer = setTimeout(function () {
        if (find(w.id) === w) expire(w);
      }, w.until - Date.now());
      if (w.size === "invisible") {
        setTimeout(function () {
          if (w.token) w.frame.style.display = "none";
        }, 1200);
      }
      callback(w, "callback", m.response);
      settle(w, true, { response: m.response, key: w.key });
    } else if (m.type === "error") {
      w.running = false;
      callback(w, "error-callback", m.code);
      settle(w, false, "internal-error"); // the contract's rejection codes; the callback has the cause
    } else if (m.type === "chalexpired") {
      w.running = false;
      callback(w, "chalexpired-callback");
      settle(w, false, "challenge-expired");
    }
  });

  function execute(id, opts) {
    if (id && typeof id === "object") {
      opts = id;
      id = null;
    }
    opts = opts || {};
    var w = find(id);
    if (!w) {
      var code =
        id == null || id === "" ? "missing-captcha" : "invalid-captcha-id";
      if (opts.async) return Promise.reject(code);
      if (known[id]) return; // removed: its wrapper may not know yet
      fail(code);
    }
    if (!w.running) {
      setToken(w, "", "");
      w.running = 1; // 2 once the frame says the challenge is open
    }
    var msg = { type: "execute" };
    if (opts.rqdata != null) msg.rqdata = w.data = String(opts.rqdata);
    send(w, msg);
    if (opts.async) {
      return new Promise(function (resolve, reject) {
        w.pending.push([resolve, reject]);
      });
    }
  }

  function stop(w, type) {
    setToken(w, "", "");
    w.running = false;
    send(w, { type: type });
    settle(w, false, "challenge-closed");
  }

  var hcaptcha = {
    passgate: true,
    render: render,
    execute: execute,
    reset: function (id) {
      var w = find(id);
      if (w) stop(w, "reset");
      if (w && w.size === "invisible") w.frame.style.display = "none";
    },
    remove: function (id) {
      var w = find(id);
      if (w) drop(w);
    },
    close: function (id) {
      var w = find(id);
      if (!w || !w.running) return;
      w.running = false;
      send(w, { type: "close" });
      if (w.size === "invisible") w.frame.style.display = "none";
      callback(w, "close-callback");
      settle(w, false, "challenge-closed");
    },
    getResponse: function (id) {
      sweep();
      var w = find(id);
      return w ? w.token : "";
    },
    getRespKey: function (id) {
      sweep();
      var w = find(id);
      return w ? w.key : "";
    },
    setData: function (id, data) {
      if (id && typeof id === "object") {
        data = id;
        id = null;
      }
      var w = find(id);
      if (w && data && data.rqdata != null)
        send(w, { type: "data", rqdata: (w.data = String(data.rqdata)) });
    },
  };
  window.hcaptcha = hcaptcha;
  if (compat) {
    window.grecaptcha = {
      render: render,
      execute: execute,
      reset: hcaptcha.reset,
      getResponse: hcaptcha.getResponse,
    };
  }

  function boot() {
    if (opt.get("render") !== "explicit") {
      document.querySelectorAll(".h-captcha").forEach(function (el) {
        try {
          if (!el.getAttribute("data-hcaptcha-widget-id")) render(el);
        } catch (e) {
          setTimeout(function () {
            throw e;
          });
        }
      });
    }
    ready();
  }
  parsed(boot);
})();
