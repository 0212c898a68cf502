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
  current: null,   // the last answer of /api/predict for the picture on the pad (null: none)
};

// Other parts of the page (why.js, teach.js) follow the picture through these hooks.
const hooks = { prediction: [], reset: [] };

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
    li.dataset.k = String(k);
    li.title = "Click: why would it be this class?";
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
  hideAttention();
  $("truth").textContent = "";
  status("Draw with the mouse, a pen or a finger.", false);
  state.current = null;
  for (const fn of hooks.reset) fn();
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
  showAttention(doc.attention, doc.input);
  const what = state.strokes.length ? "" : state.upload ? "Your picture, predicted." : state.sample ? "A test image, predicted." : "";
  status(what || "Keep drawing — the answer updates as you go.", false);
  state.current = doc;
  for (const fn of hooks.prediction) fn(doc);
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
