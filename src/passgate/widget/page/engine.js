/* passgate's page-side engine, shared by the three scripts passgate serves: each is this file
 * followed by one adapter (hcaptcha.js, turnstile.js or recaptcha.js) in one function scope
 * (build.mjs; assets.py serves them). The engine keeps the widgets, creates each one's iframe
 * from the passgate origin and sizes it, relays the frame's events over postMessage (checking
 * the origin), writes the hidden fields, keeps the token until it expires, and starts, resets
 * and removes runs. The adapter gives it the names, parameters, callbacks and fields of its
 * interface, and hears the frame's events through spec.emit.
 *
 * spec: file (the script's usual path, when the page cannot tell which <script> is running),
 * select (a CSS selector for that <script>), path (a RegExp: the script's own path, taken off
 * its URL to leave the API base), iface ("hcaptcha" | "turnstile" | "recaptcha", sent with the
 * solution), attr (the attribute naming a container's widget), stale (a selector of fields a
 * copied container may hold), early (ms: the token counts as expired this long before its
 * end), emit(w, type, value) with type "open", "token", "error", "chalexpired" or "expired". */
function engine(spec) {
  var script =
    document.currentScript || document.querySelector(spec.select);
  var src = new URL(script ? script.src : spec.file, location.href);
  var opt = src.searchParams;
  // The API base: `endpoint`, else where this script came from (keeping any path prefix).
  var base = (
    opt.get("endpoint") || src.origin + src.pathname.replace(spec.path, "")
  ).replace(/\/+$/, "");
  var ORIGIN = new URL(base, location.href).origin;
  // The iframe's size for each widget size; flexible: this wide at least, and as wide as its
  // container.
  var SIZES = {
    normal: [303, 78],
    compact: [164, 144],
    invisible: [303, 78],
    flexible: [303, 78],
  };
  var widgets = Object.create(null);
  var order = []; // live widgets' ids, oldest first

  function parsed(f) {
    if (document.readyState === "loading")
      document.addEventListener("DOMContentLoaded", f);
    else setTimeout(f);
  }

  // Calls the page's global function `name`; a script that runs later may define it (async
  // scripts run in any order), so it is looked for again, `left` times, every `every` ms.
  function onload(name, left, every) {
    (function call() {
      if (!name) return;
      if (typeof window[name] === "function") window[name]();
      else if (left-- > 0) setTimeout(call, every);
    })();
  }

  // A callback: a function, or the name of a global one ("a.b" reaches window.a.b).
  function fn(f) {
    if (typeof f === "string") {
      f = f.split(".").reduce(function (o, k) {
        return o == null ? o : o[k];
      }, window);
    }
    return typeof f === "function" ? f : null;
  }

  // Calls a callback; what it throws is thrown again on its own, never into the engine.
  function call(f, arg) {
    f = fn(f);
    if (!f) return;
    try {
      return f(arg);
    } catch (e) {
      setTimeout(function () {
        throw e;
      });
    }
  }

  // The widget for an id, or the first one when no id is given. A widget whose container or
  // frame has left the document (a framework tore it down) counts as removed; one rendered
  // into a container not yet in the document waits for it.
  function find(id) {
    order.slice().forEach(function (i) {
      var w = widgets[i];
      var box = w.nodes[0]; // a button rendered before it had a parent: its box follows now
      if (!w.seen && w.click && w.el.isConnected && !box.isConnected)
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
    w.el.removeAttribute(spec.attr);
    delete widgets[w.id];
    order.splice(order.indexOf(w.id), 1);
  }

  // Messages wait while the frame loads, and load again when the page moves the frame.
  function send(w, msg) {
    msg.source = "passgate";
    var win = w.frame.contentWindow;
    if (win && win === w.win) win.postMessage(msg, ORIGIN);
    else w.queue.push(msg);
  }

  // What the next token is bound to: rqdata (hCaptcha's), the action and cData.
  function bound(w, msg) {
    if (w.data != null) msg.rqdata = w.data;
    if (w.action != null) msg.action = w.action;
    if (w.cdata != null) msg.cdata = w.cdata;
    return msg;
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
    var old = w.token;
    setToken(w, "", "");
    send(w, { type: "expired" });
    spec.emit(w, "expired", old);
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

  // The page's host: that of the first window, from this one upwards, with an http(s) URL
  // (a widget in a blob: or about:blank frame reports the page that made it).
  function host() {
    for (var v = window; ; v = v.parent) {
      try {
        if (/^http/.test(v.location.href)) return v.location.hostname;
      } catch (e) {
        break; // another origin's window
      }
      if (v === v.parent) break;
    }
    return location.hostname;
  }

  // Shows or hides a widget's frame.
  function show(w, on) {
    w.frame.style.display = on ? "" : "none";
  }

  /* Renders a widget into element `el`, replacing the one there, and returns it. o: sitekey,
   * theme, size (a key of SIZES), hl, tabindex; vis (0: always shown; 1: shown while a run
   * is open, hidden after its token; 2: hidden until a run opens; 3: never shown by the
   * engine, hidden after a token); float ("right" | "left": fixed in that bottom corner);
   * wrap (a <div> in the container holds the frame and fields); click (el is a button: a click
   * calls click(w) instead of its default); fields ([tag, name, id, class]: the hidden fields,
   * "@" in the id standing for the widget's id); into (where the fields go: else beside the
   * frame). */
  function render(el, o) {
    // Rendering into a rendered container replaces its widget; the frame and fields of a
    // copied container (a restored snapshot, a clone) are taken out.
    find();
    var old = widgets[el.getAttribute(spec.attr)];
    if (old && old.el === el) drop(old);
    el.querySelectorAll(":scope>[" + spec.attr + "]" + (spec.stale || "")).forEach(
      function (n) {
        n.remove();
      },
    );
    var id = Math.random().toString(36).slice(2, 12);
    var size = SIZES[o.size] ? o.size : "normal";
    var box = el;
    if (o.click || o.wrap) {
      box = document.createElement(o.click ? "span" : "div");
      box.setAttribute(spec.attr, id);
      if (o.click) el.after(box);
      else el.appendChild(box);
    }
    var frame = document.createElement("iframe");
    var params = new URLSearchParams({
      sitekey: o.sitekey,
      host: host(),
      hl: o.hl || "",
      lang: document.documentElement.lang, // the frame's next choice, after hl
      theme: o.theme || "light",
      size: size,
      id: id,
      origin: location.origin,
      am: markers(),
      if: spec.iface,
    });
    frame.src = base + "/1/frame?" + params;
    frame.title = "passgate: Check that you are human"; // English's, until the frame's language
    frame.setAttribute(spec.attr, id);
    frame.setAttribute("scrolling", "no");
    if (o.tabindex != null) frame.setAttribute("tabindex", o.tabindex);
    var s = frame.style;
    s.border = "0";
    s.width = size === "flexible" ? "100%" : SIZES[size][0] + "px";
    if (size === "flexible") s.minWidth = SIZES[size][0] + "px";
    s.height = SIZES[size][1] + "px";
    s.colorScheme = "normal";
    if (o.float) {
      s.position = "fixed";
      s[o.float] = s.bottom = "16px";
      s.zIndex = "2147483647";
      s.boxShadow = "0 4px 16px rgba(0,0,0,.2)";
      s.borderRadius = "6px";
    }
    var w = {
      id: id,
      el: el,
      frame: frame,
      size: size,
      vis: o.vis || 0,
      seen: el.isConnected,
      nodes: [box === el ? frame : box],
      fields: [],
      queue: [],
      pending: [],
      token: "",
      key: "",
    };
    if (w.vis) show(w, 0);
    el.setAttribute(spec.attr, id);
    box.appendChild(frame);
    (o.fields || []).forEach(function (f) {
      var n = document.createElement(f[0]);
      n.name = f[1];
      n.id = f[2].replace("@", id);
      if (f[3]) n.className = f[3];
      if (f[0] === "input") n.type = "hidden";
      else {
        n.hidden = true;
        n.style.display = "none";
        n.setAttribute("aria-hidden", "true");
        n.tabIndex = -1;
      }
      (o.into || box).appendChild(n);
      w.fields.push(n);
      if (o.into || box === el) w.nodes.push(n);
    });
    if (o.click) {
      w.click = function (e) {
        e.preventDefault();
        o.click(w);
      };
      el.addEventListener("click", w.click);
    }
    widgets[id] = w;
    order.push(id);
    return w;
  }

  // Only the current frame of a live widget is heard: a removed widget's is not.
  window.addEventListener("message", function (e) {
    var m = e.data;
    var w = m && m.source === "passgate" && widgets[m.id];
    if (e.origin !== ORIGIN || !w || w.frame.contentWindow !== e.source) return;
    if (m.type === "ready") {
      if (w.win) {
        // The frame loaded again (its container moved): it resumes where it was.
        w.queue.unshift(
          bound(w, { type: w.running ? "execute" : w.token ? "done" : "data" }),
        );
      }
      w.win = e.source;
      w.queue.splice(0).forEach(function (msg) {
        send(w, msg);
      });
    } else if (m.type === "open") {
      if (w.vis === 1 || w.vis === 2) show(w, 1);
      if (w.running !== 2) spec.emit(w, "open"); // not again for a resumed run
      w.running = 2;
    } else if (m.type === "token" && typeof m.response === "string") {
      w.running = false;
      w.data = null;
      setToken(w, m.response, m.key || "");
      var life = (m.expires_in || 120) * 1000;
      w.until = Date.now() + life - Math.min(spec.early || 0, life / 2);
      w.timer = setTimeout(function () {
        if (find(w.id) === w) expire(w);
      }, w.until - Date.now());
      if (w.vis & 1) {
        setTimeout(function () {
          if (w.token) show(w, 0);
        }, 1200);
      }
      spec.emit(w, "token", m.response);
      settle(w, true, { response: m.response, key: w.key });
    } else if (m.type === "error") {
      w.running = false;
      spec.emit(w, "error", m);
      settle(w, false, "internal-error"); // hCaptcha's rejection codes; the callback has the cause
    } else if (m.type === "chalexpired") {
      w.running = false;
      spec.emit(w, "chalexpired");
      settle(w, false, "challenge-expired");
    } else if (m.type === "height" && typeof m.height === "number") {
      // The frame's text needs more room than the standard size (larger text, wider
      // spacing: WCAG 1.4.12): the iframe grows to fit it, never below its standard height.
      w.frame.style.height =
        Math.max(SIZES[w.size][1], Math.min(Math.ceil(m.height), 1000)) + "px";
    } else if (m.type === "lang" && typeof m.title === "string") {
      // The frame's language: the iframe's accessible name in it (locales' `title`).
      w.frame.title = "passgate: " + m.title;
      if (typeof m.lang === "string") w.frame.lang = m.lang;
    }
  });

  // Starts a run (the token is dropped); with `promise`, a Promise of {response, key}.
  function execute(w, promise) {
    if (!w.running) {
      setToken(w, "", "");
      w.running = 1; // 2 once the frame says the challenge is open
    }
    send(w, bound(w, { type: "execute" }));
    if (promise) {
      return new Promise(function (resolve, reject) {
        w.pending.push([resolve, reject]);
      });
    }
  }

  // Ends a run: "reset" (the widget back to its first state) or "close" (an open run).
  function stop(w, type) {
    setToken(w, "", "");
    w.running = false;
    send(w, { type: type });
    if (w.vis === 1) show(w, 0);
    settle(w, false, "challenge-closed");
  }

  return {
    opt: opt,
    widgets: widgets,
    order: order,
    parsed: parsed,
    onload: onload,
    fn: fn,
    call: call,
    find: find,
    drop: drop,
    send: send,
    sweep: sweep,
    show: show,
    render: render,
    execute: execute,
    stop: stop,
  };
}
