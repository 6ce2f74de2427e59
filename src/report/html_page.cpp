#include "report/html_page.hpp"

namespace kp::report {

std::string_view html_page_css() {
  return R"css(body { font-family: system-ui, sans-serif; margin: 0 auto; max-width: 1200px; padding: 1em; color: #222; }
h1 { margin: 0.2em 0; }
h1[data-verdict="PASS"] { color: #1a7f37; }
h1[data-verdict="CONDITIONAL PASS"] { color: #9a6700; }
h1[data-verdict="FAIL"] { color: #cf222e; }
h1[data-verdict="INVALID"], h1[data-verdict="INCOMPLETE"], h1[data-verdict="ABORTED"] { color: #8250df; }
table { border-collapse: collapse; margin: 0.5em 0 1em; width: 100%; }
th, td { border: 1px solid #d0d7de; padding: 0.25em 0.5em; text-align: left; vertical-align: top; }
th { background: #f6f8fa; }
td.verdict { white-space: nowrap; font-weight: 600; }
.warning { color: #cf222e; font-weight: 700; }
.charts { display: flex; flex-wrap: wrap; gap: 1em; }
.chart { flex: 1 1 540px; min-width: 400px; height: 300px; position: relative; }
section.phase, section.soak { border-top: 2px solid #d0d7de; margin-top: 1.5em; }
ul.notes li { margin: 0.2em 0; }
)css";
}

std::string_view html_page_script() {
  return R"js((function () {
  'use strict';
  var data = JSON.parse(document.getElementById('kp-data').textContent);
  var root = document.getElementById('report');
  var colours = ['#0969da', '#1a7f37', '#9a6700', '#8250df', '#bf3989', '#cf222e'];

  function el(tag, text, cls) {
    var node = document.createElement(tag);
    if (text !== undefined && text !== null) { node.textContent = String(text); }
    if (cls) { node.className = cls; }
    return node;
  }
  function table(headers, rows, verdictColumn) {
    var t = el('table');
    var head = el('tr');
    headers.forEach(function (h) { head.appendChild(el('th', h)); });
    t.appendChild(head);
    rows.forEach(function (row) {
      var tr = el('tr');
      row.forEach(function (cell, i) { tr.appendChild(el('td', cell, i === verdictColumn ? 'verdict' : '')); });
      t.appendChild(tr);
    });
    return t;
  }
  function list(items, cls) {
    var ul = el('ul', null, cls);
    items.forEach(function (item) { ul.appendChild(el('li', item)); });
    return ul;
  }
  // A chart in its own box; data-expected-points is what the model holds, data-points what Chart.js drew.
  function chart(parent, id, expected, config) {
    var box = el('div', null, 'chart');
    var canvas = el('canvas');
    canvas.id = id;
    canvas.setAttribute('data-expected-points', String(expected));
    box.appendChild(canvas);
    parent.appendChild(box);
    config.options = config.options || {};
    config.options.animation = false;
    config.options.responsive = true;
    config.options.maintainAspectRatio = false;
    var drawn = new Chart(canvas.getContext('2d'), config);
    var points = 0;
    drawn.data.datasets.forEach(function (dataset, i) { points += drawn.getDatasetMeta(i).data.length; });
    canvas.setAttribute('data-points', String(points));
    return drawn;
  }
  function count(datasets) {
    return datasets.reduce(function (sum, d) { return sum + d.data.length; }, 0);
  }

  if (data.duration_scale_note) { root.appendChild(el('p', data.duration_scale_note, 'warning')); }
  root.appendChild(table(['', ''], data.meta.map(function (m) { return [m.key, m.value]; })));
  root.appendChild(el('h2', 'Phases'));
  root.appendChild(table(['Phase', 'Verdict', 'Reason'], data.phases.map(function (p) {
    return [p.name, p.verdict, p.reason];
  }), 1));
  root.appendChild(el('h2', 'Pre-production checklist'));
  root.appendChild(table(['Item', 'State', 'Evidence'], data.checklist.map(function (c) {
    return [c.item, c.state, c.evidence];
  }), 1));

  if (data.soak) {
    // A soak's latency hour by hour: the table, and each metric's P50 (dashed) and P99 per hour, so a slow
    // drift shows; with a load profile, its factor on the right axis (stepped: held from each change on).
    var soak = el('section', null, 'soak');
    soak.id = 'soak';
    root.appendChild(soak);
    soak.appendChild(el('h2', 'Soak: latency hour by hour'));
    soak.appendChild(el('p', 'soak: ' + data.soak.summary));
    if (data.soak.load_profile) { soak.appendChild(el('p', 'load profile ' + data.soak.load_profile)); }
    var profiled = data.soak.load_profile !== '';
    var hourHeaders = ['Metric', 'Hour', 'Count', 'P50', 'P99', 'Max'];
    if (profiled) { hourHeaders.push('Load factor'); }
    soak.appendChild(table(hourHeaders, data.soak.rows.map(function (r) {
      var row = [r.metric, r.hour, r.count, r.p50, r.p99, r.max];
      if (profiled) { row.push(r.load_factor); }
      return row;
    })));
    var soakSets = [];
    data.soak.series.forEach(function (s, i) {
      var colour = colours[i % colours.length];
      soakSets.push({ label: s.metric + ' P50', data: s.p50_ms, borderColor: colour, pointRadius: 3, tension: 0,
                      borderDash: [3, 3], yAxisID: 'y' });
      soakSets.push({ label: s.metric + ' P99', data: s.p99_ms, borderColor: colour, pointRadius: 3, tension: 0,
                      yAxisID: 'y' });
    });
    var soakScales = { x: { type: 'linear', beginAtZero: true, title: { display: true, text: 'hour of the soak' } },
                       y: { beginAtZero: true, title: { display: true, text: 'ms' } } };
    if (data.soak.factors.length > 0) {
      soakSets.push({ label: 'load factor %', data: data.soak.factors, borderColor: '#57606a', borderDash: [6, 4],
                      pointRadius: 0, stepped: 'after', yAxisID: 'factor' });
      soakScales.factor = { type: 'linear', axis: 'y', position: 'right', min: 0, max: 100, grid: { drawOnChartArea: false },
                            title: { display: true, text: 'load factor %' } };
    }
    if (count(soakSets) > 0) {
      var soakCharts = el('div', null, 'charts');
      soak.appendChild(soakCharts);
      chart(soakCharts, 'soak-hours', count(soakSets), {
        type: 'line', data: { datasets: soakSets },
        options: { plugins: { title: { display: true, text: 'Soak: P50 and P99 per hour of the soak' } },
                   scales: soakScales }
      });
    }
  }

  data.phases.forEach(function (phase) {
    var section = el('section', null, 'phase');
    section.id = 'phase-' + phase.phase;
    // In the document before any chart is made: Chart.js draws a detached canvas only once it is attached.
    root.appendChild(section);
    section.appendChild(el('h2', phase.name + ': ' + phase.verdict));
    if (phase.reason) { section.appendChild(el('p', phase.reason)); }
    if (phase.rows.length > 0) {
      section.appendChild(table(['Metric', 'Measured', 'Target', 'Critical', 'Verdict', 'Reason'],
        phase.rows.map(function (r) { return [r.metric, r.measured, r.target, r.critical, r.verdict, r.reason]; }), 4));
    }
    if (phase.invalid_reasons.length > 0) {
      section.appendChild(el('h3', 'INVALID because'));
      section.appendChild(list(phase.invalid_reasons, 'notes invalid'));
    }
    if (phase.notes.length > 0) {
      section.appendChild(el('h3', 'Notes'));
      section.appendChild(list(phase.notes, 'notes'));
    }
    var charts = el('div', null, 'charts');
    section.appendChild(charts);

    if (phase.rate.series.length > 0) {
      var datasets = [];
      var last = 0;
      phase.rate.series.forEach(function (s, i) {
        datasets.push({ label: s.name + ' achieved /s', data: s.achieved, borderColor: colours[i % colours.length],
                        pointRadius: 1, tension: 0 });
        if (s.errors.some(function (p) { return p.y > 0; })) {
          datasets.push({ label: s.name + ' errors /s', data: s.errors, borderColor: '#cf222e', pointRadius: 1 });
        }
        s.achieved.forEach(function (p) { last = Math.max(last, p.x); });
      });
      if (phase.rate.offered_points.length > 0) {
        // The rate the schedule offered in each second: a stress ramp's steps, a steady run's flat line.
        datasets.push({ label: 'offered /s', data: phase.rate.offered_points, borderColor: '#57606a',
                        borderDash: [6, 4], pointRadius: 0, stepped: true, spanGaps: false });
      } else if (phase.rate.offered !== null) {
        datasets.push({ label: 'offered /s (' + phase.rate.offered_metric + ')',
                        data: [{ x: 0, y: phase.rate.offered }, { x: last, y: phase.rate.offered }],
                        borderColor: '#57606a', borderDash: [6, 4], pointRadius: 0 });
      }
      chart(charts, 'rate-' + phase.phase, count(datasets), {
        type: 'line', data: { datasets: datasets },
        options: { parsing: true, plugins: { title: { display: true, text: phase.name + ': rate over time' } },
                   scales: { x: { type: 'linear', title: { display: true, text: 'second of the phase' } },
                             y: { beginAtZero: true, title: { display: true, text: 'per second' } } } }
      });
    }
    if (phase.percentiles.length > 0) {
      // P50 and P99 of each second (seconds without a completion are left out).
      var percentileSets = [];
      phase.percentiles.forEach(function (s, i) {
        var colour = colours[i % colours.length];
        percentileSets.push({ label: s.name + ' P50', data: s.p50_ms, borderColor: colour, pointRadius: 1,
                              tension: 0, borderDash: [3, 3] });
        percentileSets.push({ label: s.name + ' P99', data: s.p99_ms, borderColor: colour, pointRadius: 1,
                              tension: 0 });
      });
      chart(charts, 'percentiles-' + phase.phase, count(percentileSets), {
        type: 'line', data: { datasets: percentileSets },
        options: { plugins: { title: { display: true, text: phase.name + ': P50 and P99 per second' } },
                   scales: { x: { type: 'linear', title: { display: true, text: 'second of the phase' } },
                             y: { type: 'logarithmic', title: { display: true, text: 'ms' } } } }
      });
    }
    if (phase.throughput.length > 0) {
      var throughputSets = phase.throughput.map(function (s, i) {
        return { label: s.name, data: s.mbps, borderColor: colours[i % colours.length], pointRadius: 1, tension: 0 };
      });
      chart(charts, 'throughput-' + phase.phase, count(throughputSets), {
        type: 'line', data: { datasets: throughputSets },
        options: { plugins: { title: { display: true, text: phase.name + ': throughput over time' } },
                   scales: { x: { type: 'linear', title: { display: true, text: 'second of the phase' } },
                             y: { beginAtZero: true, title: { display: true, text: 'Mbit/s' } } } }
      });
    }
    if (phase.latency.length > 0) {
      // HDR-style: x is 1 / (1 - percentile) on a log scale, so 90, 99, 99.9 ... are evenly spaced.
      var latencySets = phase.latency.map(function (curve, i) {
        return { label: curve.metric + ' (' + curve.count + ' values)', borderColor: colours[i % colours.length],
                 pointRadius: 2, tension: 0,
                 data: curve.points.map(function (p) {
                   return { x: p.percentile >= 100 ? curve.count : 1 / (1 - p.percentile / 100), y: p.ms };
                 }) };
      });
      chart(charts, 'latency-' + phase.phase, count(latencySets), {
        type: 'line', data: { datasets: latencySets },
        options: { plugins: { title: { display: true, text: phase.name + ': latency by percentile' } },
                   scales: { x: { type: 'logarithmic', title: { display: true, text: 'percentile' },
                                  ticks: { callback: function (value) {
                                    var p = 100 * (1 - 1 / value);
                                    var label = String(Math.round(p * 10000) / 10000);
                                    return [1, 2, 10, 100, 1000, 10000, 100000, 1000000].indexOf(value) >= 0 ? label : '';
                                  } } },
                             y: { type: 'logarithmic', title: { display: true, text: 'ms' } } } }
      });
    }
    phase.stress.forEach(function (search, n) {
      section.appendChild(el('h3', 'Stress: ' + search.series + ' (' + search.metric + ')'));
      section.appendChild(table(['Level', 'Offered', 'Achieved', 'P99 ms', 'Held'], search.steps.map(function (s) {
        return [s.level_text + (s.bisection ? ' (bisection)' : ''), s.offered === null ? '-' : s.offered.toFixed(1),
                s.achieved === null ? '-' : s.achieved.toFixed(1), s.p99_ms === null ? '-' : s.p99_ms.toFixed(2),
                s.broke ? 'broke: ' + s.broke : 'held'];
      })));
      section.appendChild(el('p', 'breaking point: ' + search.breaking_point_text, 'breaking-point'));
      if (search.note) { section.appendChild(el('p', search.note)); }
      var steps = search.steps.filter(function (s) { return s.level !== null && s.achieved !== null; });
      steps.sort(function (a, b) { return a.level - b.level; });
      var stressSets = [{
        label: 'achieved (' + search.achieved_unit + ')', tension: 0,
        data: steps.map(function (s) { return { x: s.level, y: s.achieved }; }),
        pointRadius: steps.map(function (s) { return s.broke ? 7 : 3; }),
        pointStyle: steps.map(function (s) { return s.broke ? 'crossRot' : 'circle'; }),
        pointBackgroundColor: steps.map(function (s) { return s.broke ? '#cf222e' : '#1a7f37'; }),
        borderColor: '#0969da'
      }];
      if (search.breaking_level !== null) {
        var top = steps.reduce(function (m, s) { return Math.max(m, s.achieved); }, 0);
        stressSets.push({ label: 'breaking point', data: [{ x: search.breaking_level, y: 0 }, { x: search.breaking_level, y: top }],
                          borderColor: '#cf222e', borderDash: [4, 4], pointRadius: 0 });
      }
      chart(charts, 'stress-' + phase.phase + '-' + n, count(stressSets), {
        type: 'line', data: { datasets: stressSets },
        options: { plugins: { title: { display: true, text: search.series + ': achieved by level (breaking point marked)' } },
                   scales: { x: { type: 'linear', title: { display: true, text: 'level (' + search.unit + ')' } },
                             y: { beginAtZero: true } } }
      });
    });
  });
  document.body.setAttribute('data-rendered', 'true');
})();)js";
}

}  // namespace kp::report
