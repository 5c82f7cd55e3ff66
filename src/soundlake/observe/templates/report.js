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
  // Column lineage: a click on a column lights up its upstream datasets and flows.
  function trace(button) {
    var data = document.getElementById("lineage-data");
    if (!data) { return; }
    var edges = JSON.parse(data.textContent);
    var inputs = {};
    edges.forEach(function (e) {
      var key = e[0] + "\u0000" + e[1];
      (inputs[key] = inputs[key] || []).push([e[2], e[3]]);
    });
    var start = [button.getAttribute("data-rel"), button.getAttribute("data-col")];
    var seen = {}, relations = {}, hops = {}, lines = [];
    var stack = [start];
    relations[start[0]] = true;
    while (stack.length) {
      var node = stack.pop();
      (inputs[node[0] + "\u0000" + node[1]] || []).forEach(function (src) {
        lines.push(node[0] + "." + node[1] + "  \u2190  " + src[0] + "." + src[1]);
        relations[src[0]] = true;
        hops[src[0] + "\u0000" + node[0]] = true;
        var key = src[0] + "\u0000" + src[1];
        if (!seen[key]) { seen[key] = true; stack.push(src); }
      });
    }
    var graph = document.querySelector("svg.graph");
    if (graph) { graph.classList.add("tracing"); }
    document.querySelectorAll("svg.graph .node").forEach(function (g) {
      g.classList.toggle("lit", !!relations[g.getAttribute("data-name")]);
    });
    document.querySelectorAll("svg.graph .edge").forEach(function (p) {
      var key = p.getAttribute("data-source") + "\u0000" + p.getAttribute("data-target");
      p.classList.toggle("lit", !!hops[key]);
    });
    document.querySelectorAll(".lineage-col").forEach(function (b) { b.classList.toggle("lit", b === button); });
    var list = document.getElementById("lineage-path");
    list.textContent = "";
    lines.forEach(function (text) {
      var item = document.createElement("li");
      item.textContent = text;
      list.appendChild(item);
    });
  }
  document.addEventListener("click", function (event) {
    var target = event.target;
    if (target && target.classList && target.classList.contains("lineage-col")) { trace(target); }
  });
  if (document.readyState === "loading") {
    document.addEventListener("DOMContentLoaded", check);
  } else {
    check();
  }
})();
