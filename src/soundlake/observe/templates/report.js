(function () {
  "use strict";
  var errors = [];
  window.addEventListener("error", function (event) {
    errors.push(String(event.message || "error"));
  });
  function count(selector) {
    return document.querySelectorAll(selector).length;
  }
  function check() {
    var body = document.body;
    var sized = 0;
    var svgs = document.querySelectorAll("svg.graph, svg.chart");
    for (var i = 0; i < svgs.length; i++) {
      var box = svgs[i].getBoundingClientRect();
      if (box.width > 0 && box.height > 0) { sized += 1; }
    }
    var info = {
      nodes: count("svg.graph .node"),
      edges: count("svg.graph .edge"),
      charts: count("svg.chart"),
      sized: sized,
      svgs: svgs.length,
      errors: errors.length
    };
    var expectNodes = parseInt(body.getAttribute("data-expect-nodes") || "0", 10);
    var expectCharts = parseInt(body.getAttribute("data-expect-charts") || "0", 10);
    var ok = errors.length === 0 && info.nodes === expectNodes &&
      info.charts === expectCharts && sized === svgs.length;
    body.setAttribute("data-render-info", JSON.stringify(info));
    body.setAttribute("data-render-ok", ok ? "true" : "false");
  }
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", check);
  } else {
    check();
  }
})();
