// barenet board: the ticked runs' curves overlaid, new epochs every few seconds (runs.js has
// the run list and the shared state; charts.js draws).
"use strict";

const DASHED = [7, 5];   // validation lines
// Line styles of the diagnostics charts: one per layer of a run, in order (the colour is the run's).
const LAYER_DASHES = [[], [7, 4], [2, 3], [10, 3, 2, 3], [4, 6], [12, 3, 2, 3, 2, 3]];
const THRESHOLD = [3, 4];   // the clipping threshold C (--clip-grad-norm)

// ---- curves --------------------------------------------------------------------------------
async function refreshCurves() {
  const names = [...state.selected].filter((n) => query("run", n) !== null);
  if (!names.length) { state.curves = {}; return; }
  const doc = await getJSON("/api/curves?" + names.map((n) => query("run", n)).join("&"));
  const fresh = {};
  for (const c of doc.runs) fresh[c.name] = c;
  state.curves = fresh;
}

function points(c, values) {
  return c.epoch.map((e, i) => [e, values[i] === undefined ? null : values[i]]);
}

function selectedCurves() {
  return state.listing.runs.filter((r) => state.selected.has(r.name) && state.curves[r.name])
    .map((r) => state.curves[r.name]);
}

// The specs of the charts: [id, spec] for each chart card.
function chartSpecs() {
  const runs = selectedCurves();
  const pair = (key, label) => runs.flatMap((c) => [
    ["train_" + key, "train", []], ["val_" + key, "validation", DASHED]]
    .filter(([col]) => c.series[col])
    .map(([col, what, dash]) => ({ label: c.name + " " + what, color: colorOf(c.name), dash,
      points: points(c, c.series[col]) })));
  const diag = (kind) => runs.flatMap((c) => {
    const lines = Object.entries(c.diagnostics[kind] || {});
    return lines.map(([name, values], i) => ({ label: c.name + " " + name, color: colorOf(c.name),
      dash: LAYER_DASHES[i % LAYER_DASHES.length], width: 1.8, points: points(c, values) }));
  });
  // a run's gradient clipping (--clip-grad-norm): its columns present, as lines or bars
  const clip = (c, key, what, dash, width) => (c.clip && c.clip[key] ? [{ label: c.name + " " +
    what, color: colorOf(c.name), dash, width, points: points(c, c.clip[key]) }] : []);
  const dots = runs.filter((c) => c.test_accuracy !== null && c.epoch.length)
    .map((c) => ({ x: c.epoch[c.epoch.length - 1], y: c.test_accuracy, color: colorOf(c.name),
      label: c.name + " test" }));
  return {
    loss: { series: pair("loss"), log: state.logY.has("loss") },
    acc: { series: pair("acc"), percent: true, dots },
    lr: { series: runs.filter((c) => c.series.lr).map((c) => ({ label: c.name + " lr",
      color: colorOf(c.name), points: points(c, c.series.lr) })), log: state.logY.has("lr") },
    grad: { series: diag("grad_norm"), log: state.logY.has("grad") },
    ratio: { series: diag("update_ratio"), log: state.logY.has("ratio"),
      marks: [{ y: 1e-3, label: "1e-3, the usual healthy ratio" }] },
    dead: { series: diag("dead_relu"), percent: true },
    clip: { series: runs.flatMap((c) => [...clip(c, "total_norm", "‖g‖ before clipping", [], 2),
      ...clip(c, "max_norm", "threshold C", THRESHOLD, 1.5)]), log: state.logY.has("clip") },
    clipped: { series: runs.flatMap((c) => clip(c, "fraction_clipped", "steps clipped")),
      percent: true, bars: true, range: [0, 1.12], with: "clip" },
  };
}

function hasData(spec) {
  return spec.series.some((s) => s.points.some(([, y]) => y !== null));
}

function renderCharts() {
  const specs = chartSpecs();
  const runs = selectedCurves();
  for (const [id, spec] of Object.entries(specs)) {
    const card = $("card-" + id);
    // a chart `with` another is shown beside it (the steps clipped beside the norm)
    const has = hasData(spec) || (spec.with !== undefined && hasData(specs[spec.with]));
    const optional = card.dataset.optional === "1";
    card.hidden = optional && !has;
    if (card.hidden) continue;
    spec.empty = runs.length ? "no epoch recorded yet" : "tick a run to draw its curves";
    const canvas = $("chart-" + id);
    Charts.draw(canvas, spec, canvas._hoverX);
    const lines = card.querySelector(".lines");
    if (lines) lines.replaceChildren(...(id === "clip" ? clipKey() : layerKeys(id, runs)));
  }
  renderLegend(runs);
  renderRuns();
}

// The key of a diagnostics chart: per run (runs with the same layers together), the line
// style of each of its layers, first to last.
function layerKeys(id, runs) {
  const kind = { grad: "grad_norm", ratio: "update_ratio", dead: "dead_relu" }[id];
  const groups = new Map();
  for (const c of runs) {
    const names = Object.keys(c.diagnostics[kind] || {});
    if (!names.length) continue;
    const key = JSON.stringify(names);
    if (!groups.has(key)) groups.set(key, { names, runs: [] });
    groups.get(key).runs.push(c.name);
  }
  return [...groups.values()].map(({ names, runs: who }) => {
    const row = el("span", "layer-row");
    row.append(el("b", null, who.join(", ")));
    names.forEach((name, i) => {
      const item = el("span", "layer-key");
      item.append(Charts.lineKey("#6b7185", LAYER_DASHES[i % LAYER_DASHES.length], 2),
        el("span", null, name));
      row.append(item);
    });
    return row;
  });
}

// The key of the clipping chart: the norm before clipping, and the threshold.
function clipKey() {
  const row = el("span", "layer-row");
  for (const [dash, what] of [[[], "‖g‖ before clipping"], [THRESHOLD, "threshold C"]]) {
    const item = el("span", "layer-key");
    item.append(Charts.lineKey("#6b7185", dash, 2), el("span", null, what));
    row.append(item);
  }
  return [row];
}

function renderLegend(runs) {
  const legend = $("legend");
  legend.replaceChildren(...runs.map((c) => {
    const item = el("span", "legend-run");
    const sw = el("span", "swatch");
    sw.style.background = colorOf(c.name);
    item.append(sw, el("span", null, c.name));
    return item;
  }));
  const key = el("span", "legend-key");
  key.append(Charts.lineKey("#1d2130", []), el("span", null, "train"),
    Charts.lineKey("#1d2130", DASHED), el("span", null, "validation"),
    el("span", "key diamond"), el("span", null, "test"));
  if (runs.length) legend.append(key);
}

// ---- polling -------------------------------------------------------------------------------
function showError(err) {
  const s = $("status");
  s.textContent = "cannot reach the board: " + (err && err.message ? err.message : err);
  s.className = "status error";
  $("live-chip").dataset.state = "error";
}

async function poll() {
  clearTimeout(state.timer);
  if (state.busy) return;
  state.busy = true;
  try {
    applyListing(await getJSON("/api/runs"));
    await refreshCurves();
    renderCharts();
    const training = state.listing.runs.some((r) => r.status === "training");
    const chip = $("live-chip");
    chip.dataset.state = training ? "live" : "idle";
    chip.textContent = (training ? "training now · " : "") + "updated " +
      new Date().toLocaleTimeString([], { hour12: false });
    $("status").textContent = "";
    $("status").className = "status";
  } catch (err) {
    showError(err);
  } finally {
    state.busy = false;
    state.timer = setTimeout(poll, state.refresh * 1000);
  }
}

function showScales() {
  for (const button of document.querySelectorAll("button.scale")) {
    const log = state.logY.has(button.dataset.chart);
    button.textContent = log ? "log scale" : "linear scale";
    button.title = "Show the y axis on a " + (log ? "linear" : "log") + " scale";
  }
}

function setup() {
  for (const canvas of document.querySelectorAll("canvas.chart")) {
    Charts.attach(canvas, canvas.parentElement.querySelector(".tip"));
  }
  for (const button of document.querySelectorAll("button.scale")) {
    button.addEventListener("click", () => {
      const id = button.dataset.chart;
      if (state.logY.has(id)) state.logY.delete(id); else state.logY.add(id);
      showScales(); remember(); renderCharts();
    });
  }
  showScales();
  $("select-all").addEventListener("click", () => {
    for (const r of state.listing ? state.listing.runs : []) {
      if (state.selected.size < state.max && r.status !== "unreadable") state.selected.add(r.name);
    }
    remember(); poll();
  });
  $("select-none").addEventListener("click", () => { state.selected.clear(); remember(); poll(); });
  let resize = null;
  window.addEventListener("resize", () => {
    clearTimeout(resize);
    resize = setTimeout(() => { if (state.listing) renderCharts(); }, 100);
  });
  document.addEventListener("visibilitychange", () => { if (!document.hidden) poll(); });
  poll();
}

setup();
