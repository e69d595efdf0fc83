/* Draws the charts of a page from the JSON the server wrote into it.
 *
 * The page holds every figure in its tables; this only adds pictures of them.
 * Nothing here builds markup or code from data: labels arrive translated, and
 * Chart.js (vendored, libfed/web/static/vendor) draws them on <canvas>.
 */
(function () {
  "use strict";
  var source = document.getElementById("report-charts");
  if (!source || typeof window.Chart === "undefined") {
    return;
  }
  var data = JSON.parse(source.textContent);
  var locale = document.documentElement.lang || undefined;
  // Blue and orange: told apart with the common colour-vision deficiencies,
  // and each series also differs in shape (solid/dashed line, round/square points).
  var SENT = "#0b5cad";
  var RECEIVED = "#b35900";
  var reduced = window.matchMedia && window.matchMedia("(prefers-reduced-motion: reduce)").matches;

  function options(axis, line) {
    return {
      locale: locale,
      animation: reduced ? false : undefined,
      responsive: true,
      aspectRatio: line ? 3 : 2.5,
      interaction: { mode: "index", intersect: false },
      plugins: { legend: { position: "bottom", labels: { usePointStyle: line } } },
      scales: {
        y: { beginAtZero: true, ticks: { precision: 0 }, title: { display: true, text: axis } }
      }
    };
  }

  function draw(id, type, chart) {
    var canvas = document.getElementById(id);
    if (!canvas || !chart) {
      return;
    }
    var line = type === "line";
    new window.Chart(canvas, {
      type: type,
      data: {
        labels: chart.labels,
        datasets: [
          {
            label: data.series.sent, data: chart.sent,
            backgroundColor: SENT, borderColor: SENT,
            pointStyle: "circle", pointRadius: line ? 4 : undefined
          },
          {
            label: data.series.received, data: chart.received,
            backgroundColor: RECEIVED, borderColor: RECEIVED,
            borderDash: line ? [6, 4] : undefined,
            pointStyle: "rectRot", pointRadius: line ? 5 : undefined
          }
        ]
      },
      options: options(chart.axis, line)
    });
  }

  draw("chart-countries", "bar", data.countries);
  draw("chart-months", "line", data.months);
  draw("chart-years", "bar", data.years);
})();
