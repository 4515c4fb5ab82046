// The demo form: posts the widget's token to the demo backend and shows siteverify's verdict.
(function () {
  "use strict";
  var form = document.getElementById("demo-form");
  var result = document.getElementById("demo-result");
  var replay = document.getElementById("demo-replay");
  var lastToken = "";

  function show(outcome) {
    var ok = outcome.accepted;
    var codes = (outcome.siteverify["error-codes"] || []).join(", ");
    result.className = "result " + (ok ? "ok" : "bad");
    result.textContent = "";
    var head = document.createElement("strong");
    head.textContent = ok ? "Welcome aboard: the server accepted the token." : "Refused: " + codes;
    var pre = document.createElement("pre");
    pre.textContent = JSON.stringify(outcome.siteverify, null, 2);
    result.appendChild(head);
    result.appendChild(pre);
    result.hidden = false;
    result.setAttribute("data-outcome", ok ? "success" : codes);
  }

  function send(token) {
    lastToken = token;
    var body = new URLSearchParams({ response: token });
    return fetch("/demo/verify", { method: "POST", body: body })
      .then(function (r) { return r.json(); })
      .then(function (outcome) {
        show(outcome);
        replay.hidden = !token;
      });
  }

  form.addEventListener("submit", function (event) {
    event.preventDefault();
    var field = form.querySelector('[name="h-captcha-response"]');
    var token = field ? field.value : "";
    if (!token) {
      show({ accepted: false, siteverify: { success: false, "error-codes": ["missing-input-response"] } });
      return;
    }
    send(token).then(function () {
      if (window.hcaptcha) window.hcaptcha.reset();
    });
  });

  replay.addEventListener("click", function () {
    send(lastToken);
  });
})();
