// The passgate console's script: copy buttons, and the overview's charts (uPlot), drawn
// from /console/api/stats and refreshed every few seconds. The pages work without it.
"use strict";

(function () {
  const PALETTE = ["#0a58ca", "#1e7a3c", "#7c3aed", "#b45309", "#0e7490", "#be185d", "#4b5563", "#7c2d12"];
  const REPLAY = "#d92d20";
  const INK = "#1b1f24";
  const GRID = "#e5e7eb";

  function setUpCopy() {
    for (const button of document.querySelectorAll("button[data-copy]")) {
      const field = document.getElementById(button.dataset.copy);
      if (!field || !navigator.clipboard) continue;
      button.hidden = false;
      button.addEventListener("click", function () {
        navigator.clipboard.writeText(field.value).then(function () {
          button.textContent = "Copied";
        });
      });
    }
  }

  function format(value, unit) {
    if (value === null || value === undefined) return "–";
    if (unit === "percent") return value.toFixed(0) + " %";
    if (unit === "seconds") return value + " s";
    return String(value);
  }

  // Axis times in UTC, as the tables give them: hours within two days, else dates.
  function timeTicks(u, ticks) {
    const span = ticks.length > 1 ? ticks[ticks.length - 1] - ticks[0] : 0;
    return ticks.map(function (t) {
      const text = new Date(t * 1000).toISOString();
      return span > 2 * 86400 ? text.slice(5, 10) : text.slice(11, 16);
    });
  }

  function isReplay(column) {
    return column.indexOf("Replay") === 0;
  }

  function colour(column, index) {
    return isReplay(column) ? REPLAY : PALETTE[index % PALETTE.length];
  }

  function options(chart, width) {
    return {
      width: width,
      height: 220,
      legend: { show: false },
      tzDate: function (ts) { return uPlot.tzDate(new Date(ts * 1000), "Etc/UTC"); },
      scales: { x: { time: true }, y: { range: function (u, min, max) { return [0, Math.max(1, max * 1.1)]; } } },
      axes: [
        { stroke: INK, grid: { stroke: GRID }, values: timeTicks },
        {
          stroke: INK,
          grid: { stroke: GRID },
          size: 60,
          values: function (u, ticks) { return ticks.map(function (t) { return format(t, chart.unit); }); },
        },
      ],
      series: [{}].concat(
        chart.columns.map(function (column, index) {
          const sparse = chart.unit !== "count"; // rates and times: none where nothing happened
          return {
            label: column,
            stroke: colour(column, index),
            width: isReplay(column) ? 3 : 2,
            spanGaps: sparse,
            points: sparse ? { show: true, size: 5, fill: colour(column, index) } : { show: false },
          };
        })
      ),
    };
  }

  function element(tag, text, attributes) {
    const el = document.createElement(tag);
    if (text !== undefined) el.textContent = text;
    for (const name in attributes || {}) el.setAttribute(name, attributes[name]);
    return el;
  }

  function drawLegend(chart) {
    const legend = document.getElementById("legend-" + chart.id);
    if (!legend) return;
    legend.replaceChildren();
    chart.columns.forEach(function (column, index) {
      const item = element("li");
      const swatch = element("span", undefined, { class: "swatch " + (isReplay(column) ? "replay" : "s" + (index % PALETTE.length)) });
      item.append(swatch, document.createTextNode(column));
      legend.append(item);
    });
  }

  function drawTable(chart) {
    const table = document.getElementById("table-" + chart.id);
    if (!table) return;
    const head = element("tr");
    head.append(element("th", "Time (UTC)", { scope: "col" }));
    for (const column of chart.columns) head.append(element("th", column, { scope: "col" }));
    table.tHead.replaceChildren(head);
    const body = table.tBodies[0];
    body.replaceChildren();
    chart.cells.forEach(function (row, i) {
      const tr = element("tr");
      tr.append(element("th", chart.labels[i], { scope: "row" }));
      for (const value of row) tr.append(element("td", value));
      body.append(tr);
    });
  }

  function drawTotals(totals) {
    for (const total of totals) {
      const cell = document.querySelector('[data-total="' + total.id + '"]');
      if (!cell) continue;
      cell.textContent = total.text;
      if (total.id === "replays") cell.parentElement.classList.toggle("alarm", total.text !== "0");
    }
  }

  function Charts(root) {
    this.url = root.dataset.stats;
    this.every = Number(root.dataset.refresh || "10") * 1000;
    this.plots = {};
  }

  Charts.prototype.draw = function (data) {
    for (const chart of data.charts) {
      const box = document.getElementById("plot-" + chart.id);
      const empty = document.getElementById("empty-" + chart.id);
      if (!box) continue;
      const known = this.plots[chart.id];
      const key = chart.columns.join("\n");
      if (empty) empty.hidden = chart.columns.length > 0;
      if (!chart.columns.length) {
        if (known) known.plot.destroy();
        delete this.plots[chart.id];
      } else {
        const aligned = [chart.times].concat(
          chart.columns.map(function (_, j) { return chart.values.map(function (row) { return row[j]; }); })
        );
        if (known && known.key === key) {
          known.plot.setData(aligned);
        } else {
          if (known) known.plot.destroy();
          const width = Math.max(280, box.clientWidth || 600);
          this.plots[chart.id] = { key: key, plot: new uPlot(options(chart, width), aligned, box) };
        }
      }
      drawLegend(chart);
      drawTable(chart);
    }
    drawTotals(data.totals);
  };

  Charts.prototype.refresh = function () {
    const self = this;
    return fetch(this.url, { credentials: "same-origin", headers: { Accept: "application/json" } })
      .then(function (response) {
        if (response.status === 401) {
          window.location.reload(); // the session ended: show the sign-in page
          return null;
        }
        return response.ok ? response.json() : null;
      })
      .then(function (data) { if (data) self.draw(data); })
      .catch(function () { /* offline for a moment: the next refresh tries again */ });
  };

  Charts.prototype.resize = function () {
    for (const id in this.plots) {
      const box = document.getElementById("plot-" + id);
      if (box) this.plots[id].plot.setSize({ width: Math.max(280, box.clientWidth), height: 220 });
    }
  };

  function start() {
    setUpCopy();
    const root = document.getElementById("charts");
    if (!root || typeof uPlot === "undefined") return;
    const charts = new Charts(root);
    charts.refresh();
    setInterval(function () { charts.refresh(); }, charts.every);
    let pending = 0;
    window.addEventListener("resize", function () {
      clearTimeout(pending);
      pending = setTimeout(function () { charts.resize(); }, 150);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
})();
