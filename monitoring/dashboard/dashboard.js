// The shopgraph dashboard: each panel is one PromQL query over the chosen range, drawn with uPlot.
// Metric sources: docs/architecture.md#monitoring. Every panel marks what it drew in data-series
// (the number of series with data) once loaded, which the browser test waits for.
"use strict";

const REFRESH_MS = 10_000;
const POINTS = 240; // samples per series across the range, at most (a step is at least 1 s)
const PALETTE = ["#2f6fde", "#d9534f", "#3aa76d", "#f0b429", "#8e5bd6", "#1fa5b8", "#e07b39", "#687083"];

const shortStream = (stream) => (stream || "").replace(/^shopgraph\.events\./, "");
const perSecond = (v) => (v == null ? "" : `${v.toFixed(2)}/s`);
const count = (v) => (v == null ? "" : v.toLocaleString("en", { maximumFractionDigits: 1 }));
const millis = (v) => (v == null ? "" : `${(v * 1000).toFixed(1)} ms`);
const clock = (t) => new Date(t * 1000).toLocaleTimeString("en-GB");

const PANELS = [
  {
    id: "requests", title: "Graph requests per second (Apollo Router)", format: perSecond,
    query: 'sum(rate(http_server_request_duration_seconds_count{job="router"}[1m]))',
    label: () => "requests",
  },
  {
    id: "errors", title: "Graph errors per second, by code", format: perSecond,
    query: 'sum by (code) (rate(apollo_router_graphql_error_total{job="router"}[1m]))',
    label: (m) => m.code,
  },
  {
    id: "latency", title: "p99 latency of the router's requests, per subgraph", format: millis,
    query: 'histogram_quantile(0.99, sum by (le, subgraph_name) (rate(http_client_request_duration_seconds_bucket{job="router"}[1m])))',
    label: (m) => m.subgraph_name,
  },
  {
    id: "published", title: "Events published per second, by stream", format: perSecond,
    query: "sum by (stream) (rate(shopgraph_events_published_total[1m]))",
    label: (m) => shortStream(m.stream),
  },
  {
    id: "handled", title: "Events handled per second, by consuming service and outcome", format: perSecond,
    query: "sum by (service, outcome) (rate(shopgraph_events_handled_total[1m]))",
    label: (m) => `${m.service} ${m.outcome}`,
  },
  {
    id: "lag", title: "Consumer lag: events not yet delivered, by stream → group", format: count,
    query: "max by (stream, group) (shopgraph_consumer_lag)",
    label: (m) => `${shortStream(m.stream)} → ${m.group}`,
  },
  {
    id: "pending", title: "Pending: delivered, not acknowledged, by stream → group", format: count,
    query: "max by (stream, group) (shopgraph_consumer_pending)",
    label: (m) => `${shortStream(m.stream)} → ${m.group}`,
  },
  {
    id: "backlog", title: "Outbox backlog and dead letters", format: count,
    query: 'label_replace(max by (stream) (shopgraph_outbox_backlog), "kind", "outbox", "", "")'
      + ' or label_replace(sum by (stream) (max by (stream, group) (shopgraph_dead_letters)), "kind", "dead letters", "", "")',
    label: (m) => `${shortStream(m.stream)} ${m.kind}`,
  },
  {
    id: "up", title: "Processes answering their scrape (1) and ready (1)", format: count,
    query: 'label_replace(up, "what", "up", "", "") or label_replace(shopgraph_ready, "what", "ready", "", "")',
    label: (m) => `${m.process || m.job} ${m.what}`,
  },
];

async function prometheus(path, params) {
  const response = await fetch(`../api/v1/${path}?${new URLSearchParams(params)}`);
  const body = await response.json();
  if (body.status !== "success") throw new Error(body.error || `HTTP ${response.status}`);
  return body.data;
}

// Prometheus' matrix as uPlot's columns: one x axis of step-aligned times, one column per series.
function columns(result, start, step, points) {
  const times = [];
  for (let t = start; times.length <= points; t += step) times.push(t);
  const series = result.map(({ values }) => {
    const column = new Array(times.length).fill(null);
    // NaN (e.g. a quantile over no requests) is a gap, not a point.
    for (const [t, v] of values) {
      const value = Number(v);
      column[Math.round((t - start) / step)] = Number.isFinite(value) ? value : null;
    }
    return column;
  });
  return [times, ...series];
}

function panelElement(panel) {
  const element = document.createElement("article");
  element.className = "panel";
  element.dataset.panel = panel.id;
  element.innerHTML = `<h2></h2><p class="query"></p><div class="chart"></div>`;
  element.querySelector("h2").textContent = panel.title;
  element.querySelector(".query").textContent = panel.query;
  return element;
}

async function draw(panel, element, range) {
  const end = Math.floor(Date.now() / 1000);
  const step = Math.max(1, Math.round(range / POINTS));
  const points = Math.floor(range / step);
  const start = end - step * points;
  const chart = element.querySelector(".chart");
  try {
    const data = await prometheus("query_range", { query: panel.query, start, end, step });
    const [times, ...all] = columns(data.result, start, step, points);
    const drawn = all.flatMap((column, i) => (column.some((v) => v !== null) ? [i] : []));
    const result = drawn.map((i) => data.result[i]);
    chart.replaceChildren();
    if (result.length === 0) {
      chart.innerHTML = '<p class="empty">no data yet</p>';
    } else {
      const options = {
        width: chart.clientWidth || 540,
        height: 220,
        scales: { x: { time: true } },
        legend: { live: false },
        series: [{}, ...result.map(({ metric }, i) => ({
          label: panel.label(metric) || "(none)",
          stroke: PALETTE[i % PALETTE.length],
          width: 1.5,
          value: (_, v) => panel.format(v),
        }))],
        axes: [
          { values: (_, ticks) => ticks.map(clock), space: 70 },
          { values: (_, ticks) => ticks.map((v) => panel.format(v)), size: 70 },
        ],
      };
      new uPlot(options, [times, ...drawn.map((i) => all[i])], chart);
    }
    element.dataset.series = String(result.length);
  } catch (error) {
    chart.innerHTML = '<p class="error"></p>';
    chart.querySelector(".error").textContent = `query failed: ${error.message}`;
    element.dataset.series = "error";
  }
}

async function drawAlerts() {
  const section = document.getElementById("alerts");
  try {
    const { alerts } = await prometheus("alerts", {});
    section.replaceChildren();
    for (const alert of alerts) {
      const item = document.createElement("span");
      item.className = `alert ${alert.state}`;
      const where = [alert.labels.process, alert.labels.subgraph_name, alert.labels.group, shortStream(alert.labels.stream)]
        .filter(Boolean).join(" ");
      item.textContent = `${alert.state}: ${alert.labels.alertname}${where ? ` (${where})` : ""}`;
      item.title = alert.annotations.summary || "";
      section.append(item);
    }
    if (alerts.length === 0) section.innerHTML = '<span class="alert none">no alerts</span>';
  } catch (error) {
    section.textContent = `alerts: ${error.message}`;
  }
}

function main() {
  const container = document.getElementById("panels");
  const elements = PANELS.map((panel) => container.appendChild(panelElement(panel)));
  const rangeSelect = document.getElementById("range");
  // ?range=<seconds> picks one of the ranges offered.
  const asked = new URLSearchParams(location.search).get("range");
  if ([...rangeSelect.options].some((option) => option.value === asked)) rangeSelect.value = asked;
  const refresh = async () => {
    const range = Number(rangeSelect.value);
    await Promise.all([drawAlerts(), ...PANELS.map((panel, i) => draw(panel, elements[i], range))]);
    document.getElementById("updated").textContent = `updated ${new Date().toLocaleTimeString()}`;
  };
  rangeSelect.addEventListener("change", refresh);
  refresh();
  setInterval(refresh, REFRESH_MS);
}

main();
