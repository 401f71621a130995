// The tunelab dashboard: polls the experiment's server (same origin only) and draws with the plotly.js
// the server ships from the installed plotly package. No build step, no other host.
"use strict";

const POLL_MS = Number(new URLSearchParams(location.search).get("interval") || 1000);
const SLOW_EVERY = 5;  // best-so-far and curves every 5 polls, importance every 10
const state = {
  trials: [], readOnly: true, metric: null, mode: "min", sortKey: "id", sortDir: 1,
  chosen: new Set(), autoChosen: true, polls: 0, busy: false,
};
const $ = (id) => document.getElementById(id);
const PLOT_CONFIG = { displaylogo: false, responsive: true };

async function api(method, path, body) {
  const init = { method, credentials: "same-origin", headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const response = await fetch(path, init);
  const payload = await response.json().catch(() => ({ message: response.statusText }));
  if (!response.ok) throw new Error(payload.message || `${method} ${path}: ${response.status}`);
  return payload;
}

function say(text, isError) {
  $("message").textContent = text;
  $("message").className = isError ? "error" : "";
}

function numericKeys(trials) {
  const keys = new Set();
  for (const t of trials) {
    for (const [k, v] of Object.entries(t.result || {})) {
      if (typeof v === "number" && !["training_iteration", "timestamp", "time_total_s", "time_this_iter_s",
        "time_since_restore", "timesteps_total", "episodes_total", "iterations_since_restore",
        "timesteps_since_restore", "pid"].includes(k)) keys.add(k);
    }
  }
  return [...keys].sort();
}

function configKeys(trials) {
  const keys = new Set();
  for (const t of trials) for (const k of Object.keys(flatten(t.config))) keys.add(k);
  return [...keys].sort();
}

function flatten(obj, prefix = "", out = {}) {
  for (const [k, v] of Object.entries(obj || {})) {
    if (v !== null && typeof v === "object" && !Array.isArray(v)) flatten(v, prefix + k + "/", out);
    else out[prefix + k] = v;
  }
  return out;
}

function metricOf(t) {
  const v = (t.result || {})[state.metric];
  return typeof v === "number" ? v : null;
}

function columns() {
  const cfg = configKeys(state.trials).map((k) => ({ key: "config:" + k, label: k, get: (t) => flatten(t.config)[k] }));
  return [
    { key: "id", label: "trial", get: (t) => t.id },
    { key: "status", label: "status", get: (t) => t.status },
    ...cfg,
    { key: "metric", label: state.metric || "metric", get: metricOf, num: true },
    { key: "iter", label: "iterations", get: (t) => (t.result || {}).training_iteration ?? null, num: true },
    { key: "time", label: "time (s)", get: (t) => (t.result || {}).time_total_s ?? null, num: true },
  ];
}

function show(value) {
  if (value === null || value === undefined) return "";
  if (typeof value === "number") return Number.isInteger(value) ? String(value) : value.toPrecision(5);
  return typeof value === "object" ? JSON.stringify(value) : String(value);
}

function renderTable() {
  const cols = columns();
  const head = document.createElement("tr");
  head.appendChild(document.createElement("th")).textContent = "curve";
  for (const c of cols) {
    const th = head.appendChild(document.createElement("th"));
    th.textContent = c.label;
    th.dataset.key = c.key;
    if (c.key === state.sortKey) th.className = state.sortDir > 0 ? "sorted-asc" : "sorted-desc";
    th.addEventListener("click", () => {
      state.sortDir = state.sortKey === c.key ? -state.sortDir : 1;
      state.sortKey = c.key;
      renderTable();
    });
  }
  if (!state.readOnly) head.appendChild(document.createElement("th")).textContent = "";
  $("trials").tHead.replaceChildren(head);

  const text = $("filter").value.trim().toLowerCase();
  const status = $("status-filter").value;
  const sortCol = cols.find((c) => c.key === state.sortKey) || cols[0];
  const rows = state.trials
    .filter((t) => !status || t.status === status)
    .filter((t) => !text || cols.some((c) => show(c.get(t)).toLowerCase().includes(text)))
    .sort((a, b) => {
      const x = sortCol.get(a), y = sortCol.get(b);
      if (x === y) return 0;
      if (x === null || x === undefined) return 1;
      if (y === null || y === undefined) return -1;
      return (x < y ? -1 : 1) * state.sortDir;
    });
  const body = document.createDocumentFragment();
  for (const t of rows) {
    const tr = document.createElement("tr");
    tr.dataset.id = t.id;
    tr.dataset.status = t.status;
    const pick = tr.appendChild(document.createElement("td")).appendChild(document.createElement("input"));
    pick.type = "checkbox";
    pick.checked = state.chosen.has(t.id);
    pick.addEventListener("change", () => {
      state.autoChosen = false;
      if (pick.checked) state.chosen.add(t.id); else state.chosen.delete(t.id);
      refreshCurves();
    });
    for (const c of cols) {
      const td = tr.appendChild(document.createElement("td"));
      td.textContent = show(c.get(t));
      if (c.num) td.className = "num";
      if (c.key === "status") td.className = "status-" + t.status;
    }
    if (!state.readOnly) {
      const td = tr.appendChild(document.createElement("td"));
      if (["PENDING", "RUNNING", "PAUSED"].includes(t.status)) {
        const stop = td.appendChild(document.createElement("button"));
        stop.textContent = "stop";
        stop.className = "stop";
        stop.dataset.id = t.id;
        stop.addEventListener("click", () => stopTrial(t.id, stop));
      }
    }
    body.appendChild(tr);
  }
  $("trials").tBodies[0].replaceChildren(body);
}

function renderCounts() {
  const counts = {};
  for (const t of state.trials) counts[t.status] = (counts[t.status] || 0) + 1;
  $("counts").textContent = `${state.trials.length} trials: ` +
    Object.entries(counts).map(([s, n]) => `${n} ${s}`).join(", ");
}

function renderMetricChoice() {
  const keys = numericKeys(state.trials);
  const select = $("metric");
  const current = [...select.options].map((o) => o.value).join();
  if (current !== keys.join()) {
    select.replaceChildren(...keys.map((k) => new Option(k, k)));
  }
  if (!state.metric && keys.length) {
    state.metric = ["mean_accuracy", "mean_loss", "episode_reward_mean", "loss", "accuracy"].find((k) => keys.includes(k)) || keys[0];
    state.mode = /acc|reward|score/.test(state.metric) ? "max" : "min";
    $("mode").value = state.mode;
  }
  if (state.metric) select.value = state.metric;
}

// Parallel coordinates drawn as SVG lines (one per trial, coloured by the metric) rather than plotly's
// WebGL "parcoords" trace: WebGL is often missing or unreliable on the remote and headless machines
// experiments run on, and this page must draw everywhere.
const VIRIDIS = ["#440154", "#3b528b", "#21918c", "#5ec962", "#fde725"];

function colourOf(share) {
  return VIRIDIS[Math.min(VIRIDIS.length - 1, Math.max(0, Math.round(share * (VIRIDIS.length - 1))))];
}

function axisOf(label, values) {
  if (values.every((v) => typeof v === "number" && Number.isFinite(v))) {
    const lo = Math.min(...values), hi = Math.max(...values);
    const at = (v) => (hi > lo ? (v - lo) / (hi - lo) : 0.5);
    return { label, at, ticks: hi > lo ? [[0, show(lo)], [1, show(hi)]] : [[0.5, show(lo)]] };
  }
  const names = [...new Set(values.map(show))].sort();
  const at = (v) => (names.length > 1 ? names.indexOf(show(v)) / (names.length - 1) : 0.5);
  return { label, at, ticks: names.map((n) => [at(n), n]) };
}

function renderParcoords() {
  const scored = state.trials.filter((t) => metricOf(t) !== null);
  if (!scored.length) return;
  const flat = scored.map((t) => flatten(t.config));
  const axes = configKeys(scored).map((k) => axisOf(k, flat.map((c) => c[k])));
  const metricAxis = axisOf(state.metric, scored.map(metricOf));
  axes.push(metricAxis);
  const traces = scored.map((t, i) => {
    const good = metricAxis.at(metricOf(t));
    return {
      type: "scatter", mode: "lines+markers", name: t.id, showlegend: false, hoverinfo: "text",
      text: axes.map((a) => `${t.id} ${a.label}=${show(a === metricAxis ? metricOf(t) : flat[i][a.label])}`),
      x: axes.map((_, j) => j), y: axes.map((a) => a.at(a === metricAxis ? metricOf(t) : flat[i][a.label])),
      line: { color: colourOf(state.mode === "min" ? 1 - good : good), width: 2 }, marker: { size: 5 },
    };
  });
  const annotations = axes.flatMap((a, j) => a.ticks.map(([y, text]) => ({
    x: j, y, text, showarrow: false, xanchor: "left", xshift: 4, font: { size: 10 },
  })));
  const shapes = axes.map((_, j) => ({ type: "line", x0: j, x1: j, y0: 0, y1: 1, line: { color: "#999", width: 1 } }));
  Plotly.react("parcoords", traces, {
    margin: { l: 20, r: 60, t: 10, b: 40 }, annotations, shapes,
    xaxis: { tickvals: axes.map((_, j) => j), ticktext: axes.map((a) => a.label), zeroline: false, showgrid: false },
    yaxis: { visible: false, range: [-0.05, 1.05] },
  }, PLOT_CONFIG);
}

async function refreshCurves() {
  if (!state.metric) return;
  if (state.autoChosen) {
    state.chosen = new Set(state.trials.filter((t) => t.result).slice(0, 5).map((t) => t.id));
  }
  const ids = [...state.chosen].filter((id) => state.trials.some((t) => t.id === id));
  const traces = [];
  for (const id of ids) {
    const { results } = await api("GET", `/trials/${encodeURIComponent(id)}/results`);
    traces.push({
      type: "scatter", mode: "lines", name: id,
      x: results.map((r) => r.training_iteration), y: results.map((r) => r[state.metric] ?? null),
    });
  }
  Plotly.react("curves", traces, {
    margin: { l: 50, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "training_iteration" } },
    yaxis: { title: { text: state.metric } }, showlegend: true,
  }, PLOT_CONFIG);
}

async function refreshBest() {
  if (!state.metric) return;
  const q = `metric=${encodeURIComponent(state.metric)}&mode=${state.mode}`;
  const { points } = await api("GET", `/best?${q}`);
  const start = points.length ? points[0].time : 0;
  Plotly.react("best", [{
    type: "scatter", mode: "lines+markers", line: { shape: "hv" }, name: `best ${state.metric}`,
    x: points.map((p) => p.time - start), y: points.map((p) => p.value), text: points.map((p) => p.trial),
  }], {
    margin: { l: 50, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "seconds since the first result" } },
    yaxis: { title: { text: `best ${state.metric} (${state.mode})` } },
  }, PLOT_CONFIG);
}

async function refreshImportance() {
  if (!state.metric) return;
  const q = `metric=${encodeURIComponent(state.metric)}&mode=${state.mode}`;
  const { importance, message } = await api("GET", `/importance?${q}`);
  const names = Object.keys(importance).reverse();
  $("importance-note").textContent = message;
  Plotly.react("importance", [{ type: "bar", orientation: "h", y: names, x: names.map((n) => importance[n]) }],
    { margin: { l: 120, r: 10, t: 10, b: 40 }, xaxis: { title: { text: "share of the variance" }, range: [0, 1] } },
    PLOT_CONFIG);
}

async function poll() {
  if (state.busy) return;
  state.busy = true;
  try {
    state.trials = (await api("GET", "/trials")).trials;
    renderMetricChoice();
    renderCounts();
    renderTable();
    renderParcoords();
    if (state.polls % SLOW_EVERY === 0) {
      await refreshCurves();
      await refreshBest();
    }
    if (state.polls % (2 * SLOW_EVERY) === 0) await refreshImportance();
    state.polls += 1;
    $("live").textContent = "updated " + new Date().toLocaleTimeString();
  } catch (err) {
    $("live").textContent = "not updating: " + err.message;
  } finally {
    state.busy = false;
  }
}

async function stopTrial(id, button) {
  button.disabled = true;
  try {
    const { trial } = await api("PUT", `/trials/${encodeURIComponent(id)}`);
    say(`Trial ${trial.id} is ${trial.status}.`);
  } catch (err) {
    say(err.message, true);
  }
  state.polls = 0;
  await poll();
}

async function addTrials() {
  let spec;
  try {
    spec = JSON.parse($("add-spec").value);
  } catch (err) {
    say("The spec is not valid JSON: " + err.message, true);
    return;
  }
  try {
    const { trials } = await api("POST", "/trials", { name: $("add-name").value, spec });
    say(`Added ${trials.length} trial(s): ${trials.map((t) => t.id).join(", ")}.`);
  } catch (err) {
    say(err.message, true);
  }
  await poll();
}

async function start() {
  const info = await api("GET", "/info");
  state.readOnly = info.read_only;
  $("experiment").textContent = info.experiment;
  $("mode-badge").textContent = info.read_only ? "read-only (from files)" : "live";
  $("mode-badge").className = "badge" + (info.read_only ? " ro" : "");
  $("add-section").hidden = info.read_only;
  await poll();
  const first = state.trials[0];
  if (first && !$("add-spec").value) {
    $("add-spec").value = JSON.stringify({ run: first.trainable_name, config: first.config });
  }
  $("metric").addEventListener("change", () => { state.metric = $("metric").value; state.polls = 0; poll(); });
  $("mode").addEventListener("change", () => { state.mode = $("mode").value; state.polls = 0; poll(); });
  $("filter").addEventListener("input", renderTable);
  $("status-filter").addEventListener("change", renderTable);
  $("add-button").addEventListener("click", addTrials);
  setInterval(poll, POLL_MS);
}

start().catch((err) => say("Could not load the experiment: " + err.message, true));
