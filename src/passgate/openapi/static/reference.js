/* passgate's API reference page: Redoc renders the OpenAPI document named by the page's
   #reference element (data-spec, a URL on the page's own origin). */
(function () {
  "use strict";
  var element = document.getElementById("reference");
  if (!element || typeof Redoc === "undefined") {
    return;
  }
  var options = {
    expandResponses: "200,201",
    hideHostname: false,
    jsonSampleExpandLevel: 3,
    pathInMiddlePanel: true
  };
  Redoc.init(element.getAttribute("data-spec"), options, element, function (error) {
    if (error) {
      element.setAttribute("data-state", "error");
      element.textContent = "The API reference could not be shown: the OpenAPI document at " +
        element.getAttribute("data-spec") + " did not load.";
    } else {
      element.setAttribute("data-state", "ready");
    }
  });
})();
