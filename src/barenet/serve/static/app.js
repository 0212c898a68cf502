// barenet serve: the drawing page. Vanilla JS, no dependencies.
"use strict";

const $ = (id) => document.getElementById(id);
const pad = $("pad");
const ctx = pad.getContext("2d");
const INK_WIDTH = 22;          // stroke width on the 280x280 pad
const THROTTLE_MS = 80;        // at most one prediction request per this interval while drawing

const state = {
  strokes: [],     // each stroke: array of [x, y] in pad pixels
  drawing: null,   // id of the pointer drawing the current stroke
  sample: null,    // {index, label, label_name, pixels} from /api/sample, drawn under the strokes
  upload: null,    // {file, bitmap} a picture file chosen with "Upload", drawn under the strokes
  classes: [],
  generation: 0,   // bumped on clear/sample so answers to older pictures are ignored
  inflight: false,
  pending: false,
  timer: null,
};

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

// ---- the drawing pad -----------------------------------------------------------------------
function redraw() {
  ctx.fillStyle = "#fff";
  ctx.fillRect(0, 0, pad.width, pad.height);
  if (state.sample) {
    const px = state.sample.pixels;
    const inverted = px.map((v) => 255 - v);   // the pad is dark ink on white
    const tile = heatCanvas(inverted, 0, 28, 28, (v) => [v, v, v]);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(tile, 0, 0, pad.width, pad.height);
  }
  if (state.upload && state.upload.bitmap) {  // the whole picture, fitted and centred
    const b = state.upload.bitmap;
    const s = Math.min(pad.width / b.width, pad.height / b.height);
    ctx.imageSmoothingEnabled = true;
    ctx.drawImage(b, (pad.width - b.width * s) / 2, (pad.height - b.height * s) / 2, b.width * s, b.height * s);
  }
  ctx.strokeStyle = "#14161f";
  ctx.fillStyle = "#14161f";
  ctx.lineWidth = INK_WIDTH;
  ctx.lineCap = "round";
  ctx.lineJoin = "round";
  for (const s of state.strokes) {
    if (s.length === 1) {
      ctx.beginPath();
      ctx.arc(s[0][0], s[0][1], INK_WIDTH / 2, 0, 2 * Math.PI);
      ctx.fill();
      continue;
    }
    ctx.beginPath();
    ctx.moveTo(s[0][0], s[0][1]);
    for (let i = 1; i < s.length; i++) ctx.lineTo(s[i][0], s[i][1]);
    ctx.stroke();
  }
}

function padPoint(ev) {
  const r = pad.getBoundingClientRect();
  return [(ev.clientX - r.left) * pad.width / r.width, (ev.clientY - r.top) * pad.height / r.height];
}

pad.addEventListener("pointerdown", (ev) => {
  if (ev.button > 0 || state.drawing !== null) return;   // one pointer, main button only
  ev.preventDefault();
  try { pad.setPointerCapture(ev.pointerId); } catch (err) { /* synthetic or gone pointer */ }
  state.drawing = ev.pointerId;
  state.strokes.push([padPoint(ev)]);
  redraw();
  schedule();
});

pad.addEventListener("pointermove", (ev) => {
  if (ev.pointerId !== state.drawing) return;
  ev.preventDefault();
  const stroke = state.strokes[state.strokes.length - 1];
  const events = ev.getCoalescedEvents ? ev.getCoalescedEvents() : [ev];
  for (const e of (events.length ? events : [ev])) stroke.push(padPoint(e));
  redraw();
  schedule();
});

function endStroke(ev) {
  if (ev.pointerId !== state.drawing) return;
  state.drawing = null;
  schedule();
}
for (const type of ["pointerup", "pointercancel", "lostpointercapture"]) pad.addEventListener(type, endStroke);

// ---- talking to the server -----------------------------------------------------------------
function setBusy() {
  document.body.dataset.busy = (state.inflight || state.pending || state.timer) ? "1" : "0";
}

// Throttled: while drawing, a request goes out at most every THROTTLE_MS, one at a time.
function schedule() {
  if (state.timer) return;
  state.timer = setTimeout(() => { state.timer = null; send(); }, THROTTLE_MS);
  setBusy();
}

function canvasBlob() {
  return new Promise((resolve) => pad.toBlob(resolve, "image/png"));
}

async function send() {
  if (state.inflight) { state.pending = true; setBusy(); return; }
  if (!state.strokes.length && !state.sample && !state.upload) { resetPrediction(); setBusy(); return; }
  state.inflight = true;
  setBusy();
  const generation = state.generation;
  try {
    let init;
    if (state.strokes.length) {
      init = { method: "POST", headers: { "Content-Type": "image/png" }, body: await canvasBlob() };
    } else if (state.upload) {   // the file itself, as a form (multipart/form-data)
      const form = new FormData();
      form.append("file", state.upload.file, state.upload.file.name);
      init = { method: "POST", body: form };
    } else {
      init = { method: "POST", headers: { "Content-Type": "application/json" },
               body: JSON.stringify({ pixels: state.sample.pixels }) };
    }
    const res = await fetch("/api/predict", init);
    const doc = await res.json();
    if (generation === state.generation) {
      if (res.ok) showPrediction(doc); else showError(doc.error || res.statusText);
    }
  } catch (err) {
    showError("the server did not answer: " + err.message);
  } finally {
    state.inflight = false;
    if (state.pending) { state.pending = false; send(); }
    setBusy();
  }
}

function status(text, isError) {
  const el = $("status");
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}

function showError(message) {
  if (/no ink/.test(message)) { resetPrediction(); return; }
  status(message, true);
}

// ---- showing an answer ---------------------------------------------------------------------
function buildBars() {
  const ol = $("bars");
  ol.replaceChildren();
  state.classes.forEach((name, k) => {
    const li = document.createElement("li");
    li.className = "bar";
    li.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
    li.querySelector(".name").textContent = name === String(k) ? name : `${k} · ${name}`;
    li.querySelector(".name").title = name;
    ol.appendChild(li);
  });
}

function resetPrediction() {
  $("pred-digit").textContent = "–";
  $("pred-label").textContent = "nothing drawn yet";
  $("pred-conf").textContent = "";
  for (const li of $("bars").children) {
    li.classList.remove("top");
    li.querySelector(".fill").style.width = "0";
    li.querySelector(".pct").textContent = "";
  }
  const seen = $("seen").getContext("2d");
  seen.fillStyle = "#000";
  seen.fillRect(0, 0, 28, 28);
  $("layers").innerHTML = '<p class="empty">Draw something to light up the layers.</p>';
  $("truth").textContent = "";
  status("Draw with the mouse, a pen or a finger.", false);
}

function showPrediction(doc) {
  const k = doc.prediction;
  $("pred-digit").textContent = String(k);
  $("pred-label").textContent = doc.label === String(k) ? `a ${k}` : doc.label;
  $("pred-conf").textContent = `${(100 * doc.probabilities[k]).toFixed(1)}% sure`;
  [...$("bars").children].forEach((li, i) => {
    const p = doc.probabilities[i] || 0;
    li.classList.toggle("top", i === k);
    li.querySelector(".fill").style.width = `${(100 * p).toFixed(2)}%`;
    li.querySelector(".pct").textContent = `${(100 * p).toFixed(1)}%`;
  });
  const seen = $("seen").getContext("2d");
  seen.drawImage(heatCanvas(doc.input, 0, 28, 28, (v) => [v, v, v]), 0, 0);
  showTruth(k);
  showLayers(doc.activations);
  const what = state.strokes.length ? "" : state.upload ? "Your picture, predicted." : state.sample ? "A test image, predicted." : "";
  status(what || "Keep drawing — the answer updates as you go.", false);
}

function showTruth(k) {
  const el = $("truth");
  el.replaceChildren();
  if (state.upload) {
    el.append(`Uploaded ${state.upload.file.name}`);
    if (state.strokes.length) el.append(" (with your strokes)");
    return;
  }
  if (!state.sample) return;
  const s = state.sample;
  const mark = document.createElement("span");
  mark.className = s.label === k ? "ok" : "bad";
  mark.textContent = s.label === k ? "✓ correct" : "✗ wrong";
  el.append(`Test image #${s.index}, true label ${s.label_name}: `, mark);
  if (state.strokes.length) el.append(" (before your strokes)");
}

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

// ---- buttons and keys ----------------------------------------------------------------------
function undo() {
  state.drawing = null;
  if (state.strokes.length) state.strokes.pop();
  else if (state.sample || state.upload) { state.sample = null; state.upload = null; state.generation++; }
  redraw();
  schedule();
}

function clearAll() {
  state.drawing = null;
  state.strokes = [];
  state.sample = null;
  state.upload = null;
  state.generation++;
  redraw();
  resetPrediction();
}

async function randomSample() {
  const res = await fetch("/api/sample");
  const doc = await res.json();
  if (!res.ok) { status(doc.error || "no test images", true); return; }
  state.drawing = null;
  state.strokes = [];
  state.sample = doc;
  state.upload = null;
  state.generation++;
  redraw();
  schedule();
}

// A picture file: shown on the pad, sent as it is (the server preprocesses it).
async function uploadPicture(ev) {
  const file = ev.target.files && ev.target.files[0];
  ev.target.value = "";   // choosing the same file again fires "change" again
  if (!file) return;
  const upload = { file, bitmap: null };
  state.drawing = null;
  state.strokes = [];
  state.sample = null;
  state.upload = upload;
  state.generation++;
  resetPrediction();
  redraw();
  schedule();   // the file is sent as it is; showing it on the pad can come later
  try { upload.bitmap = await createImageBitmap(file); } catch (err) { return; /* the server says why */ }
  if (state.upload === upload) redraw();
}

$("undo").addEventListener("click", undo);
$("clear").addEventListener("click", clearAll);
$("sample").addEventListener("click", randomSample);
$("upload").addEventListener("change", uploadPicture);
document.addEventListener("keydown", (ev) => {
  if ((ev.ctrlKey || ev.metaKey) && ev.key === "z") { ev.preventDefault(); undo(); }
  else if (ev.key === "Escape") clearAll();
});

redraw();
loadModel().then(resetPrediction).catch((err) => status("could not load the model: " + err.message, true));
loadWeights().catch(() => { $("weights-card").hidden = true; });
