// Herald admin overview: draws the per-minute chart from
// /admin/overview.json (same origin, the session cookie). The page shows
// the same numbers as a table without this script.
"use strict";
(function () {
  var canvas = document.getElementById("per-minute-chart");
  if (!canvas || typeof Chart === "undefined") {
    return;
  }
  fetch("/admin/overview.json", { credentials: "same-origin" })
    .then(function (response) {
      if (!response.ok) {
        throw new Error("overview: HTTP " + response.status);
      }
      return response.json();
    })
    .then(function (data) {
      var first = Date.parse(data.first_minute);
      var labels = data.accepted.map(function (_, i) {
        return new Date(first + i * 60000).toISOString().substring(11, 16);
      });
      var series = function (label, values, color) {
        return { label: label, data: values, borderColor: color,
                 backgroundColor: color, tension: 0.2, pointRadius: 0 };
      };
      new Chart(canvas, {
        type: "line",
        data: {
          labels: labels,
          datasets: [
            series("Accepted", data.accepted, "#0d6efd"),
            series("Delivered", data.delivered, "#198754"),
            series("Failed", data.failed, "#dc3545")
          ]
        },
        options: {
          responsive: true,
          maintainAspectRatio: false,
          animation: false,
          scales: { y: { beginAtZero: true, ticks: { precision: 0 } } }
        }
      });
    })
    .catch(function (err) {
      canvas.parentElement.hidden = true;
      console.warn(err);
    });
})();
