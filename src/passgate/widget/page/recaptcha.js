/* passgate's reCAPTCHA adapter (served, after engine.js, as /recaptcha/api.js and
 * /recaptcha/api2/api.js): reCAPTCHA v2's and v3's page interface (docs/recaptcha.md §1-5)
 * over the engine. It exposes window.grecaptcha, renders .g-recaptcha containers and buttons,
 * and writes the hidden g-recaptcha-response textarea.
 * Query parameters: render (onload, the default; explicit; or a sitekey: v3 for it), onload,
 * hl; any other is ignored. The widget, its look and its words are passgate's. */
var E = engine({
  file: "/recaptcha/api.js",
  select: 'script[src*="/recaptcha/api.js"],script[src*="/recaptcha/api2/api.js"]',
  path: /\/recaptcha\/(api2\/)?api\.js$/,
  iface: "recaptcha",
  attr: "data-passgate-id",
  emit: function (w, type, value) {
    var cfg = w.cfg || {};
    if (type === "token") E.call(cfg.callback, value);
    else if (type === "expired") E.call(cfg["expired-callback"]);
    else if (type !== "open") E.call(cfg["error-callback"]); // error, chalexpired
  },
});
var opt = E.opt;
var MODE = opt.get("render") || "onload";
var V3 = /^(onload|explicit)$/.test(MODE) ? "" : MODE; // the sitekey of ?render=SITEKEY
var ACTION = /^[A-Za-z0-9/_]{1,100}$/;
var TEST = "6LeIxAcTAAAAAJcZVRqyHh71UMIEGNQ_MXjiZKhI"; // the published v2 test sitekey

// Loaded twice: one set of globals and widgets, but this copy's onload is called too.
if (window.grecaptcha && window.grecaptcha.passgate) E.parsed(onload);
else recaptcha();

function onload() {
  E.onload(opt.get("onload"), 100, 100);
}

function recaptcha() {
  var ids = []; // widget number: engine id; isolated widgets from 100000
  var isolated = 100000;
  var v3 = Object.create(null); // sitekey: [widget, the queue of its runs]
  var waiting = []; // ready()'s callbacks until the API is
  var up = false;

  function fail(text) {
    throw new Error("[passgate] " + text);
  }

  // A widget by its number; none: the first created that is still there.
  function get(n) {
    E.find();
    if (n == null) {
      for (var i = 0; i < ids.length; i++) if (E.widgets[ids[i]]) return E.widgets[ids[i]];
      return;
    }
    return E.widgets[ids[n]];
  }

  // The one .grecaptcha-badge: passgate's notice, bottom right, made through the CSSOM.
  function badge() {
    var b = document.querySelector(".grecaptcha-badge");
    if (b) return b;
    b = document.createElement("div");
    b.className = "grecaptcha-badge";
    b.textContent = "passgate";
    b.title = "Protected by passgate, a proof of work";
    var s = b.style;
    s.position = "fixed";
    s.right = s.bottom = "16px";
    s.zIndex = "2147483646";
    s.font = "12px/1 system-ui,sans-serif";
    s.padding = "5px 8px";
    s.border = "1px solid #cfd6dd";
    s.borderRadius = "6px";
    s.background = "#f8fafb";
    s.color = "#1b2530";
    document.body.appendChild(b);
    return b;
  }

  function render(container, params, inherit, implicit) {
    var el =
      typeof container === "string"
        ? document.getElementById(container)
        : container;
    if (!el || !el.appendChild) fail("no container " + container);
    var cfg = {};
    if (inherit || implicit) {
      var data = el.dataset;
      "sitekey theme size tabindex badge action type".split(" ").forEach(function (k) {
        if (data[k]) cfg[k] = data[k];
      });
      ["callback", "expired-callback", "error-callback"].forEach(function (k) {
        var d = data[k.replace(/-c/, "C")];
        if (d) cfg[k] = d;
      });
    }
    for (var k in params || {}) if (params[k] != null) cfg[k] = params[k];
    if (!cfg.sitekey) fail("missing sitekey");
    if (cfg.action != null && !ACTION.test(cfg.action)) {
      // refused before anything is rendered or sent
      return void setTimeout(function () {
        E.call(cfg["error-callback"]);
      });
    }
    if (cfg.sitekey === TEST) console.warn("[passgate] the test sitekey: for testing only");
    // A button or input given the class is bound: a click runs an invisible check (v3 with
    // data-action), and the token goes into its form.
    var button = /^(BUTTON|INPUT)$/.test(el.tagName);
    var size = button ? "invisible" : cfg.size;
    if (!/^(normal|compact|invisible)$/.test(size)) size = "normal";
    var n = cfg.isolated ? isolated++ : ids.length;
    var place = { bottomleft: "left", inline: "" }[cfg.badge];
    var w = E.render(el, {
      sitekey: cfg.sitekey,
      hl: cfg.hl || opt.get("hl"),
      theme: cfg.theme === "dark" ? "dark" : "light",
      size: size,
      tabindex: cfg.tabindex,
      vis: button && cfg.action ? 3 : size === "invisible" ? 1 : 0,
      float: size === "invisible" && !(button && cfg.action) && (place == null ? "right" : place),
      wrap: !button,
      click:
        button &&
        function (w) {
          E.execute(w);
        },
      into: button ? el.form : null,
      fields: [
        [
          "textarea",
          "g-recaptcha-response",
          "g-recaptcha-response" + (n ? "-" + n : ""),
          "g-recaptcha-response",
        ],
      ],
    });
    if (button && cfg.action) badge();
    w.cfg = cfg;
    w.action = cfg.action || "";
    ids[n] = w.id;
    return n;
  }

  // v3: a token bound to `action` for `sitekey`, from a hidden widget kept for that sitekey;
  // one run at a time for each.
  function token(sitekey, action) {
    action = action == null ? "" : String(action);
    if (action && !ACTION.test(action))
      return Promise.reject(new Error("[passgate] invalid action: " + action));
    var one = v3[sitekey] || (v3[sitekey] = [null, Promise.resolve()]);
    var next = one[1].then(function () {
      E.find();
      var w = one[0];
      if (!w || E.widgets[w.id] !== w) {
        var slot = document.createElement("div");
        slot.hidden = true;
        badge().appendChild(slot);
        w = one[0] = E.render(slot, {
          sitekey: sitekey,
          hl: opt.get("hl"),
          size: "invisible",
          vis: 3,
        });
        w.cfg = {};
      }
      w.action = action;
      return E.execute(w, true);
    });
    one[1] = next.catch(function () {});
    return next.then(function (r) {
      return r.response;
    });
  }

  window.grecaptcha = {
    passgate: true,
    render: function (container, params, inherit) {
      return render(container, params, inherit);
    },
    execute: function (a, options) {
      if (typeof a === "string") return token(a, options && options.action);
      var w = get(a);
      if (w && w.size === "invisible") E.execute(w);
    },
    reset: function (n) {
      var w = get(n);
      if (w) E.stop(w, "reset");
    },
    getResponse: function (n) {
      E.sweep();
      var w = get(n);
      return w ? w.token : "";
    },
    ready: function (f) {
      if (up) f();
      else waiting.push(f);
    },
  };

  if (V3 && document.body) badge(); // at once where it can: pages reach for it early
  E.parsed(function () {
    if (MODE !== "explicit") {
      document.querySelectorAll(".g-recaptcha").forEach(function (el) {
        if (el.getAttribute("data-passgate-id")) return;
        try {
          render(el, null, false, true);
        } catch (e) {
          setTimeout(function () {
            throw e;
          });
        }
      });
    }
    if (V3) badge();
    up = true;
    onload();
    waiting.splice(0).forEach(function (f) {
      E.call(f);
    });
  });
}
