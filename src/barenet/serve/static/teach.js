// barenet serve: "Teach it" — SGD steps on the picture on the pad, in this page's own copy of the
// network (POST /api/learn; the server hands out the session token). Shows the probabilities
// before and after, the accuracy on a fixed test subset after each step, each layer's gradient
// norm and how the first layer's weights moved. Loaded after app.js.
"use strict";

const teach = {
  token: null,     // this page's session
  label: null,     // the digit the user says it is
  accuracy: [],    // [step, accuracy] since the copy was made or reset
  busy: false,
};

function teachState(s) { $("teach-card").dataset.state = s; }

function teachStatus(text, isError) {
  const el = $("teach-status");
  el.textContent = text;
  el.classList.toggle("error", !!isError);
}

function canTeach() { $("teach").disabled = teach.busy || teach.label === null || !state.current; }

function buildLabels() {
  const box = $("teach-labels");
  box.replaceChildren();
  state.classes.forEach((name, k) => {
    const b = document.createElement("button");
    b.type = "button";
    b.className = "pick";
    b.textContent = String(k);
    b.title = name;
    b.addEventListener("click", () => {
      teach.label = k;
      [...box.children].forEach((c, i) => c.classList.toggle("on", i === k));
      canTeach();
    });
    box.appendChild(b);
  });
}

async function post(path, body) {
  const res = await fetch(path, {
    method: "POST", headers: { "Content-Type": "application/json" }, body: JSON.stringify(body) });
  return [res, await res.json()];
}

async function teachIt() {
  if (teach.busy || teach.label === null || !state.current) return;
  teach.busy = true;
  canTeach();
  teachState("busy");
  const steps = Number($("teach-steps").value);
  teachStatus(`Teaching: ${steps} step${steps > 1 ? "s" : ""}, then measuring accuracy…`, false);
  const body = { pixels: state.current.input, label: teach.label, steps, lr: Number($("teach-lr").value),
                 token: teach.token };
  try {
    let [res, doc] = await post("/api/learn", body);
    if (res.status === 404 && teach.token) {   // the session expired: start a new copy
      teach.token = null;
      teach.accuracy = [];
      [res, doc] = await post("/api/learn", { ...body, token: null });
    }
    if (!res.ok) { teachStatus(doc.error || res.statusText, true); teachState("error"); return; }
    showLesson(doc);
    teachState("done");
  } catch (err) {
    teachStatus("the server did not answer: " + err.message, true);
    teachState("error");
  } finally {
    teach.busy = false;
    canTeach();
  }
}

function showLesson(doc) {
  const fresh = teach.token !== doc.token;
  teach.token = doc.token;
  if (fresh || !teach.accuracy.length) {
    teach.accuracy = doc.accuracy_before === null ? [] : [[doc.history[0].step - 1, doc.accuracy_before]];
  }
  for (const h of doc.history) if (h.accuracy !== null) teach.accuracy.push([h.step, h.accuracy]);
  $("teach-result").hidden = false;
  compareBars(doc.before.probabilities, doc.after.probabilities, doc.label);
  accuracyChart(doc);
  gradientNorms(doc.layers);
  movedWeights(doc.first_layer);
  const k = doc.label, b = doc.before.probabilities[k], a = doc.after.probabilities[k];
  teachStatus(`${doc.steps} step${doc.steps > 1 ? "s" : ""} on “${doc.label_name}”: p(${k}) ` +
    `${(100 * b).toFixed(1)}% → ${(100 * a).toFixed(1)}%, loss ${doc.before.loss.toPrecision(3)} → ` +
    `${doc.after.loss.toPrecision(3)}. Your copy has taken ${doc.total_steps} ` +
    `step${doc.total_steps === 1 ? "" : "s"}.`, false);
}

function compareBars(before, after, label) {
  const ol = $("teach-bars");
  ol.replaceChildren();
  state.classes.forEach((name, k) => {
    const li = document.createElement("li");
    li.className = "bar" + (k === label ? " top" : "");
    li.innerHTML = '<span class="name"></span><span class="track two"><span class="fill was"></span>' +
      '<span class="fill now"></span></span><span class="pct"></span>';
    li.querySelector(".name").textContent = name === String(k) ? name : `${k} · ${name}`;
    li.querySelector(".was").style.width = `${(100 * before[k]).toFixed(2)}%`;
    li.querySelector(".now").style.width = `${(100 * after[k]).toFixed(2)}%`;
    li.querySelector(".pct").textContent = `${(100 * after[k]).toFixed(1)}%`;
    li.title = `before ${(100 * before[k]).toFixed(2)}%, after ${(100 * after[k]).toFixed(2)}%`;
    ol.appendChild(li);
  });
}

function accuracyChart(doc) {
  const c = $("teach-acc"), g = c.getContext("2d");
  g.clearRect(0, 0, c.width, c.height);
  if (!teach.accuracy.length) {
    $("teach-acc-text").textContent = doc.accuracy_note || "No accuracy measured.";
    return;
  }
  $("teach-subset").textContent = doc.subset.toLocaleString("en");
  const pts = teach.accuracy, pad = 24;
  const x0 = pts[0][0], x1 = Math.max(pts[pts.length - 1][0], x0 + 1);
  const lo = Math.min(...pts.map((p) => p[1]), 0.9), hi = 1;
  const X = (s) => pad + (c.width - pad - 8) * (s - x0) / (x1 - x0);
  const Y = (a) => 8 + (c.height - 28) * (hi - a) / (hi - lo || 1);
  g.strokeStyle = "#e3e6ee"; g.fillStyle = "#6b7185"; g.font = "10px system-ui";
  for (const a of [lo, (lo + hi) / 2, hi]) {
    g.beginPath(); g.moveTo(pad, Y(a)); g.lineTo(c.width - 8, Y(a)); g.stroke();
    g.fillText(`${Math.round(100 * a)}`, 2, Y(a) + 3);
  }
  g.fillText(`step ${x0}`, pad, c.height - 4);
  g.fillText(`${x1}`, c.width - 20, c.height - 4);
  g.strokeStyle = "#4f46e5"; g.lineWidth = 2;
  g.beginPath();
  pts.forEach(([s, a], i) => (i ? g.lineTo(X(s), Y(a)) : g.moveTo(X(s), Y(a))));
  g.stroke();
  const first = pts[0][1], last = pts[pts.length - 1][1];
  $("teach-acc-text").textContent = `${(100 * first).toFixed(1)}% → ${(100 * last).toFixed(1)}% ` +
    "since your copy was made: fitting one picture can cost accuracy elsewhere.";
}

function gradientNorms(layers) {
  const box = $("teach-norms");
  box.replaceChildren();
  const first = layers.map((l) => l.gradient_norms[0]);
  const m = Math.max(...first, 1e-12);
  layers.forEach((l, i) => {
    const row = document.createElement("div");
    row.className = "norm";
    row.innerHTML = '<span class="name"></span><span class="track"><span class="fill"></span></span><span class="pct"></span>';
    row.querySelector(".name").textContent = `layer ${l.name}`;
    row.querySelector(".fill").style.width = `${(100 * first[i] / m).toFixed(1)}%`;
    row.querySelector(".pct").textContent = first[i].toPrecision(3);
    row.title = "‖dL/dW‖ per step: " + l.gradient_norms.map((v) => v.toPrecision(3)).join(", ");
    box.appendChild(row);
  });
}

function movedWeights(moved) {
  const box = $("teach-moved");
  box.replaceChildren();
  if (!moved) { $("teach-moved-text").textContent = "The first layer has no weights that can be drawn."; return; }
  const [n, h, w] = moved.shape;
  for (let i = 0; i < n; i++) {
    const c = heatCanvas(moved.values, i * h * w, h, w, symmetric(1));
    c.title = moved.kind === "recurrent" ? moved.gates[i]
      : `${{ conv: "filter", patch: "feature" }[moved.kind] || "unit"} ${i}`;
    box.appendChild(c);
  }
  const what = {
    dense: "For a dense first layer each unit's change is its backpropagated gradient times your picture, so every tile is ± your drawing.",
    conv: "Each filter's change (averaged over input channels).",
    patch: "Each patch feature's change (averaged over channels): the 7x7 pattern it is matched against moved this much.",
    recurrent: "One tile per gate: a row per hidden unit, a column per pixel of the image row read at each step.",
  }[moved.kind] || "";
  $("teach-moved-text").textContent = `Layer ${moved.layer}, this call's change, scaled to its largest ` +
    `(${moved.max_abs.toPrecision(2)}); ‖ΔW‖ = ${moved.change_norm.toPrecision(3)}, ` +
    `${moved.total_change_norm.toPrecision(3)} since the copy was made, against ‖W‖ = ` +
    `${moved.weight_norm.toPrecision(3)}. ${what}`;
}

async function resetCopy() {
  if (!teach.token || teach.busy) { teachStatus("Your copy has the trained weights.", false); return; }
  try {
    const [res, doc] = await post("/api/learn/reset", { token: teach.token });
    teach.accuracy = [];
    if (res.status === 404) teach.token = null;
    else if (!res.ok) { teachStatus(doc.error || res.statusText, true); return; }
    $("teach-result").hidden = true;
    teachStatus("Your copy has the trained weights again.", false);
    teachState("idle");
  } catch (err) {
    teachStatus("the server did not answer: " + err.message, true);
  }
}

$("teach-steps").addEventListener("input", () => { $("teach-steps-out").textContent = $("teach-steps").value; });
$("teach").addEventListener("click", teachIt);
$("teach-reset").addEventListener("click", resetCopy);
hooks.prediction.push(() => { if (!$("teach-labels").children.length) buildLabels(); canTeach(); });
hooks.reset.push(() => { if (!$("teach-labels").children.length && state.classes.length) buildLabels(); canTeach(); });
