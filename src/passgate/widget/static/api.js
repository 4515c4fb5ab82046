/* passgate api.js: the page-side script, a drop-in for hCaptcha's. It exposes
 * window.hcaptcha (and window.grecaptcha), renders .h-captcha containers, creates the
 * widget iframe from the passgate origin, relays its events over postMessage and
 * writes the hidden h-captcha-response / g-recaptcha-response fields.
 * Query parameters: onload, render (onload|explicit), hl, recaptchacompat (on|off),
 * endpoint; sentry, custom, assethost, imghost, reportapi, host and uj are ignored. */
(function () {
  "use strict";
  if (window.hcaptcha && window.hcaptcha.passgate) return; // loaded twice

  var script =
    document.currentScript ||
    document.querySelector(
      'script[src*="/1/api.js"],script[src*="/1/secure-api.js"]',
    );
  var src = new URL(script ? script.src : "/1/api.js", location.href);
  var opt = src.searchParams;
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
  var widgets = {};
  var order = [];

  function fail(text) {
    throw new Error("[passgate] " + text);
  }

  // The widget for an id, or the first one when no id is given.
  function find(id) {
    return widgets[id == null || id === "" ? order[0] : id];
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

  function send(w, msg) {
    msg.source = "passgate";
    if (w.ready) w.frame.contentWindow.postMessage(msg, ORIGIN);
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

  function render(container, config) {
    var el =
      typeof container === "string"
        ? document.getElementById(container)
        : container;
    if (!el || !el.appendChild) fail("container not found: " + container);
    var old = el.getAttribute("data-hcaptcha-widget-id");
    if (old && widgets[old]) return old;
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
    if (bound) {
      box = document.createElement("span");
      el.after(box);
      el.addEventListener("click", function (e) {
        e.preventDefault();
        if (widgets[id]) execute(id);
      });
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
    });
    frame.src = base + "/1/frame?" + params;
    frame.title = "passgate human check";
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
      nodes: [bound ? box : frame],
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
    order.push(id);
    return id;
  }

  window.addEventListener("message", function (e) {
    if (e.origin !== ORIGIN || !e.data || e.data.source !== "passgate") return;
    var w;
    for (var i = 0; i < order.length; i++) {
      if (widgets[order[i]].frame.contentWindow === e.source)
        w = widgets[order[i]];
    }
    if (!w) return;
    var m = e.data;
    if (m.type === "ready") {
      w.ready = true;
      w.queue.splice(0).forEach(function (msg) {
        send(w, msg);
      });
    } else if (m.type === "open") {
      w.running = true;
      if (w.size === "invisible") w.frame.style.display = "";
      callback(w, "open-callback");
    } else if (m.type === "token" && typeof m.response === "string") {
      w.running = false;
      setToken(w, m.response, m.key || "");
      w.timer = setTimeout(
        function () {
          setToken(w, "", "");
          send(w, { type: "expired" });
          callback(w, "expired-callback");
        },
        (m.expires_in || 120) * 1000,
      );
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
        order.length && id != null ? "invalid-captcha-id" : "missing-captcha";
      if (opts.async) return Promise.reject(code);
      fail(code);
    }
    if (!w.running) setToken(w, "", "");
    w.running = true;
    var msg = { type: "execute" };
    if (opts.rqdata != null) msg.rqdata = String(opts.rqdata);
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
      if (!w) return;
      stop(w, "reset");
      w.nodes.forEach(function (n) {
        n.remove();
      });
      w.el.removeAttribute("data-hcaptcha-widget-id");
      delete widgets[w.id];
      order.splice(order.indexOf(w.id), 1);
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
      var w = find(id);
      return w ? w.token : "";
    },
    getRespKey: function (id) {
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
        send(w, { type: "data", rqdata: String(data.rqdata) });
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
    var onload = opt.get("onload");
    if (onload && typeof window[onload] === "function") window[onload]();
  }
  if (document.readyState === "loading")
    document.addEventListener("DOMContentLoaded", boot);
  else setTimeout(boot);
})();
