// barenet serve: colour maps and the views of the network (hidden layers, weights, the
// model's chips). Loaded before app.js; vanilla JS, no dependencies.
"use strict";

// ---- colour maps ---------------------------------------------------------------------------
const SEQ = [[13, 8, 48], [73, 30, 120], [157, 53, 125], [229, 92, 76], [251, 176, 63], [252, 253, 191]];
const DIV = [[33, 102, 172], [146, 197, 222], [247, 247, 247], [244, 165, 130], [178, 24, 43]];

function ramp(stops, t) {
  t = Math.min(1, Math.max(0, t)) * (stops.length - 1);
  const i = Math.min(stops.length - 2, Math.floor(t));
  const f = t - i, a = stops[i], b = stops[i + 1];
  return [a[0] + (b[0] - a[0]) * f, a[1] + (b[1] - a[1]) * f, a[2] + (b[2] - a[2]) * f];
}

// value -> rgb: sequential from 0..max when all values are >= 0, diverging around 0 otherwise.
function colourer(values) {
  let lo = Infinity, hi = -Infinity;
  for (const v of values) { if (v < lo) lo = v; if (v > hi) hi = v; }
  if (lo >= 0) {
    const m = hi > 0 ? hi : 1;
    return (v) => ramp(SEQ, v / m);
  }
  const m = Math.max(-lo, hi) || 1;
  return (v) => ramp(DIV, 0.5 + v / (2 * m));
}

// value -> rgb on the diverging map, symmetric around 0: -m blue, 0 white, +m red.
function symmetric(m) {
  const s = m > 0 ? m : 1;
  return (v) => ramp(DIV, 0.5 + v / (2 * s));
}

function maxAbs(values) {
  let m = 0;
  for (const v of values) m = Math.max(m, Math.abs(v));
  return m;
}

// Paint a h x w block of values (starting at offset) into a new canvas, one pixel per value.
function heatCanvas(values, offset, h, w, colour) {
  const c = document.createElement("canvas");
  c.width = w; c.height = h;
  const g = c.getContext("2d");
  const img = g.createImageData(w, h);
  for (let i = 0; i < h * w; i++) {
    const [r, gr, b] = colour(values[offset + i]);
    img.data[4 * i] = r; img.data[4 * i + 1] = gr; img.data[4 * i + 2] = b; img.data[4 * i + 3] = 255;
  }
  g.putImageData(img, 0, 0);
  return c;
}

// ---- hidden layers ------------------------------------------------------------------------
function showLayers(activations) {
  const box = $("layers");
  box.replaceChildren();
  const names = Object.keys(activations || {});
  if (!names.length) { box.innerHTML = '<p class="empty">This model has no inspectable layers.</p>'; return; }
  for (const name of names) {
    const a = activations[name];
    const row = document.createElement("div");
    row.className = "layer";
    const head = document.createElement("div");
    const title = document.createElement("div");
    title.className = "layer-name";
    title.textContent = `layer ${name.split(" ")[0]} · ${a.label}`;
    const meta = document.createElement("div");
    meta.className = "layer-meta";
    const shown = a.kind === "maps" && a.shape[0] < a.full_shape[0] ? `, first ${a.shape[0]} shown` : "";
    meta.textContent = `output ${a.full_shape.join("×")}${shown} · max ${a.max.toFixed(2)}`;
    head.append(title, meta);
    row.append(head, a.kind === "maps" ? mapsView(a) : denseView(a));
    box.appendChild(row);
  }
}

function denseView(a) {
  const n = a.values.length;
  const cols = Math.min(n, Math.max(8, Math.ceil(Math.sqrt(n * 4))));
  const rows = Math.ceil(n / cols);
  const cell = Math.max(5, Math.min(20, Math.floor(760 / cols)));
  const colour = colourer(a.values);
  const c = document.createElement("canvas");
  c.className = "heat";
  c.width = cols * cell; c.height = rows * cell;
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, c.width, c.height);
  for (let i = 0; i < n; i++) {
    const [r, gr, b] = colour(a.values[i]);
    g.fillStyle = `rgb(${r | 0},${gr | 0},${b | 0})`;
    g.fillRect((i % cols) * cell, Math.floor(i / cols) * cell, cell - 1, cell - 1);
  }
  c.title = `${n} units`;
  return c;
}

function mapsView(a) {
  const [m, h, w] = a.shape;
  const colour = colourer(a.values);
  const box = document.createElement("div");
  box.className = "maps";
  for (let i = 0; i < m; i++) {
    const c = heatCanvas(a.values, i * h * w, h, w, colour);
    c.title = `feature map ${i}`;
    box.appendChild(c);
  }
  return box;
}

// ---- model description and weights ---------------------------------------------------------
function chip(html) {
  const span = document.createElement("span");
  span.className = "chip";
  span.innerHTML = html;
  return span;
}

function escapeHtml(s) {
  return String(s).replace(/[&<>"]/g, (ch) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;" }[ch]));
}

async function loadModel() {
  const info = await (await fetch("/api/model")).json();
  state.classes = info.classes;
  buildBars();
  const box = $("model-info");
  const name = info.model && info.model.name ? info.model.name : "model";
  box.append(chip(`run <b>${escapeHtml(info.run)}</b>`), chip(`<b>${escapeHtml(name)}</b>`),
             chip(`<b>${info.parameters.toLocaleString("en")}</b> parameters`),
             chip(`data <b>${escapeHtml(info.dataset)}</b>`));
  if (typeof info.test_accuracy === "number") {
    box.append(chip(`test accuracy <b>${(100 * info.test_accuracy).toFixed(2)}%</b>`));
  }
  document.title = `barenet · ${name} on ${info.dataset}`;
}

async function loadWeights() {
  const res = await fetch("/api/weights");
  if (!res.ok) { $("weights-card").hidden = true; return; }
  const w = await res.json();
  const [n, h, wd] = w.shape;
  const box = $("weights");
  for (let i = 0; i < n; i++) {
    const tile = w.values.slice(i * h * wd, (i + 1) * h * wd);
    const c = heatCanvas(tile, 0, h, wd, colourer(tile.concat([-1e-9])));
    c.title = `${w.kind === "conv" ? "filter" : "unit"} ${i}`;
    box.appendChild(c);
  }
  const what = w.kind === "conv" ? "filters" : "units";
  const shown = w.count > n ? `the first ${n} of its ${w.count} ${what}` : `its ${w.count} ${what}`;
  $("weights-note").textContent = w.kind === "conv"
    ? `Layer ${w.layer}: ${shown}, each a ${h}×${wd} pattern it slides over the picture (averaged over input channels).`
    : `Layer ${w.layer}: ${shown}, each drawn as the 28×28 pattern of its input weights.`;
}
