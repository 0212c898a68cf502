// barenet serve: colour maps and the views of the network (hidden layers, attention, weights,
// the model's chips). Loaded before app.js; vanilla JS, no dependencies.
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
    const range = a.min < 0 ? `min ${a.min.toFixed(2)} · ` : "";
    const signs = a.min < 0 ? " (blue < 0 < red)" : "";
    meta.textContent = `output ${a.full_shape.join("×")}${shown} · ${range}max ${a.max.toFixed(2)}${signs}`;
    if (a.kind === "sequence") meta.append(document.createElement("br"), sequenceNote(a));
    head.append(title, meta);
    const view = a.kind === "maps" ? mapsView(a) : a.kind === "sequence" ? sequenceView(a) : denseView(a);
    row.append(head, view);
    box.appendChild(row);
  }
}

// What the rows and columns of a sequence heat map are, in words.
function sequenceNote(a) {
  const [t, f] = a.full_shape;
  const cut = a.shape[1] < f ? `first ${a.shape[1]} of ${f}` : `${f}`;
  const pooled = a.step > 1 ? ` (${a.step} per row)` : "";
  const rows = a.rows === "tokens"
    ? `rows: ${t} tokens${pooled}, the class token then the patches in reading order`
    : `rows: ${t} time steps${pooled}, the image rows top to bottom`;
  return `${rows}; columns: ${cut} features`;
}

// A sequence (T steps or tokens x F features) as a heat map: a row per step, a column per
// feature; the class token's row is set apart by a gap. Hover for the value.
function sequenceView(a) {
  const [t, f] = a.shape;
  const cw = Math.max(2, Math.min(12, Math.floor(760 / f)));
  const ch = Math.max(3, Math.min(12, Math.floor(340 / t)));
  const step = a.step || 1;
  const gap = a.rows === "tokens" && step === 1 ? 3 : 0;   // sets the class token apart
  const colour = colourer(a.values);
  const c = document.createElement("canvas");
  c.className = "heat sequence";
  c.width = f * cw; c.height = t * ch + gap;
  const g = c.getContext("2d");
  g.fillStyle = "#fff";
  g.fillRect(0, 0, c.width, c.height);
  for (let i = 0; i < t; i++) {
    const y = i * ch + (i > 0 ? gap : 0);
    for (let j = 0; j < f; j++) {
      const [r, gr, b] = colour(a.values[i * f + j]);
      g.fillStyle = `rgb(${r | 0},${gr | 0},${b | 0})`;
      g.fillRect(j * cw, y, cw, ch);
    }
  }
  c.title = sequenceNote(a);
  c.addEventListener("mousemove", (ev) => {
    const box = c.getBoundingClientRect();
    const j = Math.floor((ev.clientX - box.left) * c.width / box.width / cw);
    const yy = (ev.clientY - box.top) * c.height / box.height;
    const i = yy < ch + gap ? 0 : Math.floor((yy - gap) / ch);
    if (i < 0 || i >= t || j < 0 || j >= f) return;
    const first = i * step, last = Math.min((i + 1) * step, a.full_shape[0]) - 1;
    const what = a.rows === "tokens"
      ? (step === 1 ? (i === 0 ? "class token" : `token ${i} (patch ${i})`) : `tokens ${first}…${last}`)
      : (step === 1 ? `step ${i + 1}` : `steps ${first + 1}…${last + 1}`);
    c.title = `${what}, feature ${j}: ${a.values[i * f + j].toFixed(3)}`;
  });
  return c;
}

// ---- attention of a vision transformer --------------------------------------------------
// The picture the network saw (784 pixels 0..255) tinted by where the class token looks: each
// patch is coloured by its weight / the largest weight (sequential map), the ink drawn lighter.
function attentionCanvas(pixels, weights, grid, patch) {
  let m = 0;
  for (const row of weights) for (const v of row) m = Math.max(m, v);
  const c = document.createElement("canvas");
  const side = grid * patch;
  c.width = side; c.height = side;
  const g = c.getContext("2d");
  const img = g.createImageData(side, side);
  for (let y = 0; y < side; y++) {
    for (let x = 0; x < side; x++) {
      const w = weights[Math.floor(y / patch)][Math.floor(x / patch)];
      const [r, gr, b] = ramp(SEQ, m > 0 ? w / m : 0);
      const ink = 0.7 * (pixels[y * 28 + x] || 0) / 255;
      const k = 4 * (y * side + x);
      img.data[k] = r + (255 - r) * ink; img.data[k + 1] = gr + (255 - gr) * ink;
      img.data[k + 2] = b + (255 - b) * ink; img.data[k + 3] = 255;
    }
  }
  g.putImageData(img, 0, 0);
  return c;
}

function pct(v) { return `${(100 * v).toFixed(v < 0.1 ? 1 : 0)}%`; }

// One overlay per encoder layer (and smaller ones per head) above the layers' outputs.
function showAttention(attention, pixels) {
  let box = $("attention");
  if (!box) {
    box = document.createElement("div");
    box.id = "attention";
    box.className = "attention";
    $("layers").before(box);
  }
  box.replaceChildren();
  box.hidden = !(attention && attention.length && pixels);
  if (box.hidden) return;
  const head = document.createElement("div");
  head.className = "attention-head";
  const g0 = attention[0].grid;
  head.innerHTML = `<div class="layer-name">Where the class token looks</div><div class="layer-meta">` +
    `Its attention over the ${g0 * g0} patches in each encoder layer, averaged over the heads ` +
    `(below: head by head), scaled to the layer's largest weight: dark little, bright much. ` +
    `Uniform attention would give every token ${pct(1 / (1 + g0 * g0))}.</div>`;
  box.appendChild(head);
  const strip = document.createElement("div");
  strip.className = "attention-maps";
  for (const a of attention) {
    const fig = document.createElement("figure");
    const big = attentionCanvas(pixels, a.weights, a.grid, a.patch);
    big.className = "att";
    let top = 0;
    for (const row of a.weights) for (const v of row) top = Math.max(top, v);
    big.title = `layer ${a.layer}: largest patch weight ${pct(top)}, on the class token itself ${pct(a.cls)}`;
    const heads = document.createElement("div");
    heads.className = "att-heads";
    a.heads.forEach((h, i) => {
      const c = attentionCanvas(pixels, h, a.grid, a.patch);
      c.title = `head ${i + 1}`;
      heads.appendChild(c);
    });
    const cap = document.createElement("figcaption");
    const more = a.num_heads > a.heads.length ? ` (first ${a.heads.length} of ${a.num_heads} heads)` : "";
    cap.append(`layer ${a.layer.split(" ")[0]}`, document.createElement("br"),
               `max ${pct(top)} · self ${pct(a.cls)}${more}`);
    fig.append(big, cap, heads);
    strip.appendChild(fig);
  }
  box.appendChild(strip);
}

function hideAttention() {
  const box = $("attention");
  if (box) { box.replaceChildren(); box.hidden = true; }
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
    if (w.kind === "recurrent") {   // one tile per gate, captioned
      const fig = document.createElement("figure");
      const cap = document.createElement("figcaption");
      cap.textContent = w.gates[i];
      c.className = "gate";
      c.title = `${w.gates[i]}: a row per hidden unit, a column per pixel of the row read`;
      fig.append(c, cap);
      box.appendChild(fig);
      continue;
    }
    c.title = `${w.kind === "dense" ? "unit" : w.kind === "patch" ? "feature" : "filter"} ${i}`;
    box.appendChild(c);
  }
  $("weights-note").textContent = weightsNote(w);
}

// What the tiles of /api/weights show, in words.
function weightsNote(w) {
  const [n, h, wd] = w.shape;
  const what = { conv: "filters", patch: "features", recurrent: "hidden units" }[w.kind] || "units";
  const count = w.kind === "recurrent" ? h : n;
  const shown = w.count > count ? `the first ${count} of its ${w.count} ${what}` : `its ${w.count} ${what}`;
  if (w.kind === "conv") return `Layer ${w.layer}: ${shown}, each a ${h}×${wd} pattern it slides over the picture (averaged over input channels).`;
  if (w.kind === "patch") {
    const patches = Math.round(28 / h) ** 2;
    return `Layer ${w.layer}: ${shown}, each a ${h}×${wd} pattern matched against every one of the ${patches} patches ` +
      `of the picture (averaged over input channels): a token's features are these matches.`;
  }
  if (w.kind === "recurrent") {
    return `Layer ${w.layer}: the input weights of ${shown}, one tile per gate (${w.gates.join(", ")}): a row per unit, ` +
      `a column per pixel of the image row it reads at each time step (the same weights for all ${wd} rows).`;
  }
  return `Layer ${w.layer}: ${shown}, each drawn as the 28×28 pattern of its input weights.`;
}
