/* passgate's hCaptcha adapter (served, after engine.js, as /1/api.js and /1/secure-api.js): a
 * drop-in for hCaptcha's script (../shared/contracts/hcaptcha-compat.md). It exposes
 * window.hcaptcha (and window.grecaptcha), renders .h-captcha containers, and writes the
 * hidden h-captcha-response / g-recaptcha-response fields.
 * Query parameters: onload, render (onload|explicit), hl, recaptchacompat (on|off),
 * endpoint; sentry, custom, assethost, imghost, reportapi, host and uj are ignored. */
var E = engine({
  file: "/1/api.js",
  select: 'script[src*="/1/api.js"],script[src*="/1/secure-api.js"]',
  path: /\/1\/(secure-)?api\.js$/,
  iface: "hcaptcha",
  attr: "data-hcaptcha-widget-id",
  stale: ",:scope>textarea[id*=captcha-response-]",
  emit: function (w, type, value) {
    if (type === "open") callback(w, "open-callback");
    else if (type === "token") callback(w, "callback", value);
    else if (type === "error") callback(w, "error-callback", value.code);
    else callback(w, type + "-callback"); // expired, chalexpired
  },
});
var opt = E.opt;

// Calls the onload function once the page is parsed, looking for it for 10 s.
function ready() {
  E.onload(opt.get("onload"), 100, 100);
}

// Loaded twice (a wrapper adding the script to a page that has it): one set of globals and
// widgets, but this copy's onload is called too.
if (window.hcaptcha && window.hcaptcha.passgate) E.parsed(ready);
else hcaptcha();

function callback(w, name, arg) {
  E.call(w.cfg[name], arg);
}

function hcaptcha() {
  var compat = opt.get("recaptchacompat") !== "off";
  var CALLBACKS = [
    "callback",
    "expired-callback",
    "chalexpired-callback",
    "open-callback",
    "close-callback",
    "error-callback",
  ];
  var known = Object.create(null); // every id ever rendered

  function fail(text) {
    throw new Error("[passgate] " + text);
  }

  function render(container, config) {
    var el =
      typeof container === "string"
        ? document.getElementById(container)
        : container;
    if (!el || !el.appendChild) fail("container not found: " + container);
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
    var size = bound ? "invisible" : cfg.size;
    if (!/^(normal|compact|invisible)$/.test(size)) size = "normal";
    var w = E.render(el, {
      sitekey: cfg.sitekey,
      hl: cfg.hl || opt.get("hl"),
      theme: cfg.theme,
      size: size,
      tabindex: cfg.tabindex,
      vis: size === "invisible" ? 1 : 0,
      float: size === "invisible" && "right",
      click:
        bound &&
        function (w) {
          execute(w.id);
        },
      fields: [
        ["textarea", "h-captcha-response", "h-captcha-response-@"],
        compat && ["textarea", "g-recaptcha-response", "g-recaptcha-response-@"],
      ].filter(Boolean),
    });
    w.cfg = cfg;
    known[w.id] = 1;
    return w.id;
  }

  function execute(id, opts) {
    if (id && typeof id === "object") {
      opts = id;
      id = null;
    }
    opts = opts || {};
    var w = E.find(id);
    if (!w) {
      var code =
        id == null || id === "" ? "missing-captcha" : "invalid-captcha-id";
      if (opts.async) return Promise.reject(code);
      if (known[id]) return; // removed: its wrapper may not know yet
      fail(code);
    }
    if (opts.rqdata != null) w.data = String(opts.rqdata);
    return E.execute(w, opts.async);
  }

  function reset(id) {
    var w = E.find(id);
    if (w) E.stop(w, "reset");
  }

  function getResponse(id) {
    E.sweep();
    var w = E.find(id);
    return w ? w.token : "";
  }

  window.hcaptcha = {
    passgate: true,
    render: render,
    execute: execute,
    reset: reset,
    remove: function (id) {
      var w = E.find(id);
      if (w) E.drop(w);
    },
    close: function (id) {
      var w = E.find(id);
      if (!w || !w.running) return;
      E.stop(w, "close");
      callback(w, "close-callback");
    },
    getResponse: getResponse,
    getRespKey: function (id) {
      E.sweep();
      var w = E.find(id);
      return w ? w.key : "";
    },
    setData: function (id, data) {
      if (id && typeof id === "object") {
        data = id;
        id = null;
      }
      var w = E.find(id);
      if (w && data && data.rqdata != null)
        E.send(w, { type: "data", rqdata: (w.data = String(data.rqdata)) });
    },
  };
  if (compat) {
    window.grecaptcha = {
      render: render,
      execute: execute,
      reset: reset,
      getResponse: getResponse,
      ready: E.parsed, // authentik waits with it
    };
  }

  E.parsed(function () {
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
  });
}
