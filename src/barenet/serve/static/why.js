// barenet serve: "Why" — the input gradient d log p(class) / d pixel of the picture on the pad,
// from POST /api/explain, drawn on a diverging colour map. Once asked, it follows the picture;
// clicking a class in the prediction list explains that class instead. Loaded after app.js.
"use strict";

const why = {
  on: false,       // asked at least once since the pad was last cleared
  target: null,    // class explained (null: the predicted one)
  inflight: false,
  again: false,    // the picture or the class changed while a request was out
};

function whyState(s) { $("why-card").dataset.state = s; }

function markTarget(k) {
  [...$("bars").children].forEach((li, i) => li.classList.toggle("why", i === k));
}

function paintMap(id, values, m) {
  const g = $(id).getContext("2d");
  g.drawImage(heatCanvas(values, 0, 28, 28, symmetric(m)), 0, 0);
}

function showWhy(doc, input) {
  const grad = doc.input_gradient.flat();
  const gx = grad.map((v, i) => v * input[i] / 255);
  paintMap("why-heat", grad, maxAbs(grad));
  paintMap("why-gx", gx, maxAbs(gx));
  const name = (k) => (state.classes[k] === String(k) ? String(k) : `${k} (${state.classes[k]})`);
  const p = (100 * doc.probabilities[doc.target]).toFixed(1);
  const which = doc.target === doc.prediction ? "the predicted class" : "the class you clicked";
  $("why-text").textContent = `Gradient of log p(${name(doc.target)}), ${which} (p = ${p}%). ` +
    "Red pixels would raise it if they were brighter, blue ones lower it; gradient × input " +
    "keeps only the pixels you inked.";
  markTarget(doc.target);
}

async function askWhy() {
  if (!state.current) { $("why-text").textContent = "Draw something first."; return; }
  if (why.inflight) { why.again = true; return; }
  why.inflight = true;
  why.again = false;
  whyState("busy");
  const input = state.current.input;
  const body = { pixels: input, smooth: $("why-smooth").checked ? 25 : 0 };
  if (why.target !== null) body.target = why.target;
  try {
    const res = await fetch("/api/explain", {
      method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
    const doc = await res.json();
    if (!why.on) return;                         // cleared meanwhile
    if (res.ok) { showWhy(doc, input); whyState("ready"); }
    else { $("why-text").textContent = doc.error || res.statusText; whyState("error"); }
  } catch (err) {
    $("why-text").textContent = "the server did not answer: " + err.message;
    whyState("error");
  } finally {
    why.inflight = false;
    if (why.again && why.on) askWhy();
  }
}

function clearWhy() {
  why.on = false;
  why.target = null;
  why.again = false;
  for (const id of ["why-heat", "why-gx"]) {
    const g = $(id).getContext("2d");
    g.fillStyle = "#f7f7f7";
    g.fillRect(0, 0, 28, 28);
  }
  markTarget(-1);
  whyState("idle");
}

$("why").addEventListener("click", () => { why.on = true; why.target = null; askWhy(); });
$("why-smooth").addEventListener("change", () => { if (why.on) askWhy(); });
$("bars").addEventListener("click", (ev) => {
  const li = ev.target.closest("li");
  if (!li || !state.current) return;
  why.on = true;
  why.target = Number(li.dataset.k);
  askWhy();
});
hooks.prediction.push((doc) => {
  if (!why.on) return;
  if (why.target === null) markTarget(doc.prediction);
  if (!state.pending && !state.timer) askWhy();   // only once the picture has settled
});
hooks.reset.push(clearWhy);
clearWhy();
