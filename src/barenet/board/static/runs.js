// barenet board, the run list: what the board remembers, the runs as cards (ticks, figure
// links, the serve command). Everything read from the server is shown with textContent.
"use strict";

const PALETTE = ["#4f46e5", "#e11d48", "#0d9488", "#d97706", "#0284c7", "#7c3aed", "#65a30d",
                 "#db2777", "#475569", "#b45309", "#059669", "#9333ea"];
const FIGURE_NAMES = { "curves.png": "curves", "confusion_matrix.png": "confusion",
  "per_class_accuracy.png": "per class", "misclassified.png": "mistakes",
  "first_layer_weights.png": "first layer", "gradient_flow.png": "gradient flow" };

const state = {
  listing: null, curves: {}, colors: new Map(), selected: new Set(), known: new Set(),
  refresh: 3, max: 12, timer: null, busy: false, logY: new Set(["lr", "grad", "ratio", "clip"]),
};
const $ = (id) => document.getElementById(id);
const el = (tag, cls, text) => {
  const e = document.createElement(tag);
  if (cls) e.className = cls;
  if (text !== undefined) e.textContent = text;
  return e;
};

// ---- what is remembered between visits (per folder) --------------------------------------
function storageKey() { return "barenet-board:" + (state.listing ? state.listing.dir : ""); }
function remember() {
  try {
    localStorage.setItem(storageKey(), JSON.stringify({ selected: [...state.selected],
      known: [...state.known], logY: [...state.logY] }));
  } catch (e) { /* storage off: the selection lasts until the page closes */ }
}
function recall() {
  try {
    const doc = JSON.parse(localStorage.getItem(storageKey()) || "null");
    if (doc && Array.isArray(doc.selected) && Array.isArray(doc.known)) {
      state.selected = new Set(doc.selected); state.known = new Set(doc.known);
      if (Array.isArray(doc.logY)) state.logY = new Set(doc.logY);
    }
  } catch (e) { /* unreadable: start afresh */ }
}

function colorOf(name) {
  if (!state.colors.has(name)) {
    const used = new Set(state.colors.values());
    const free = PALETTE.find((c) => !used.has(c));
    state.colors.set(name, free || PALETTE[state.colors.size % PALETTE.length]);
  }
  return state.colors.get(name);
}

async function getJSON(url) {
  const res = await fetch(url, { cache: "no-store" });
  const doc = await res.json().catch(() => ({ error: res.statusText }));
  if (!res.ok) throw new Error(doc.error || ("HTTP " + res.status));
  return doc;
}

function query(name, value) {
  try { return name + "=" + encodeURIComponent(value); } catch (e) { return null; }
}

// ---- the run list ------------------------------------------------------------------------
function applyListing(doc) {
  const first = state.listing === null;
  state.listing = doc;
  state.refresh = Math.max(0.5, Number(doc.refresh_seconds) || 3);
  state.max = doc.max_selected || 12;
  if (first) { recall(); showScales(); }
  const names = doc.runs.map((r) => r.name);
  for (const r of doc.runs) {
    if (state.known.has(r.name)) continue;
    state.known.add(r.name);   // a new run is ticked while there is room
    if (r.status !== "unreadable" && !r.symlink && state.selected.size < state.max) {
      state.selected.add(r.name);
    }
  }
  for (const n of [...state.selected]) if (!names.includes(n)) state.selected.delete(n);
  names.forEach(colorOf);
  remember();
  $("dir-chip").replaceChildren(el("span", null, "folder "), el("b", null, doc.dir));
  $("run-count").textContent = doc.runs.length ? "(" + doc.runs.length + ")" : "";
  $("others").textContent = doc.others ? doc.others + " folder" + (doc.others === 1 ? "" : "s") +
    " without a run" : "";
  $("no-runs").hidden = doc.runs.length > 0;
  renderRuns();
}

function epochsText(r, rows) {
  const done = rows !== undefined ? rows : r.epochs_completed;
  if (done === null && r.epochs === null) return "no epochs";
  return (done === null ? "?" : done) + "/" + (r.epochs === null ? "?" : r.epochs) + " epochs";
}

function renderRuns() {
  const list = $("runs");
  const items = new Map([...list.children].map((li) => [li.dataset.run, li]));
  const order = [];
  for (const r of state.listing.runs) {
    const li = items.get(r.name) || el("li", "run");
    li.dataset.run = r.name;
    li.dataset.status = r.status;
    const c = state.curves[r.name];
    if (c) li.dataset.rows = String(c.rows);
    li.classList.toggle("on", state.selected.has(r.name));
    li.replaceChildren(runHead(r), runMeta(r, c), runProgress(r, c), runExtras(r, c));
    order.push(li);
  }
  list.replaceChildren(...order);
}

function runHead(r) {
  const head = el("label", "run-head");
  const box = el("input");
  box.type = "checkbox";
  box.checked = state.selected.has(r.name);
  box.disabled = !box.checked && state.selected.size >= state.max;
  box.addEventListener("change", () => toggle(r.name, box.checked));
  const sw = el("span", "swatch");
  sw.style.background = colorOf(r.name);
  head.append(box, sw, el("span", "run-name", r.name), el("span", "badge " + r.status, r.status));
  head.title = r.name;
  return head;
}

function runMeta(r, c) {
  const bits = [r.model, r.dataset].filter(Boolean);
  const meta = el("div", "run-meta");
  meta.append(el("span", "epochs", epochsText(r, c ? c.rows : undefined)));
  if (bits.length) meta.append(el("span", null, bits.join(" · ")));
  if (r.test_accuracy !== null) meta.append(el("span", "test", "test " + Charts.format(r.test_accuracy, true)));
  return meta;
}

function runProgress(r, c) {
  const bar = el("div", "progress");
  const done = c ? c.rows : r.epochs_completed;
  const fill = el("span");
  fill.style.width = (r.epochs ? Math.min(100, (100 * (done || 0)) / r.epochs) : 0) + "%";
  bar.append(fill);
  bar.hidden = !r.epochs;
  return bar;
}

function runExtras(r, c) {
  const box = el("div", "run-extras");
  const error = (c && c.error) || r.error;
  if (error) box.append(el("p", "run-error", error));
  if (r.symlink) box.append(el("p", "run-error", "a symbolic link: its files are not read"));
  if (r.figures.length) {
    const figs = el("div", "figures");
    for (const f of r.figures) {
      const a = el("a", "figure", FIGURE_NAMES[f] || f);
      const q = query("run", r.name);
      if (q === null) continue;
      a.href = "/api/figure?" + q + "&" + query("name", f);
      a.target = "_blank"; a.rel = "noopener";
      figs.append(a);
    }
    box.append(figs);
  }
  if (r.status !== "unreadable") {
    const cmd = el("div", "serve");
    const code = el("code", null, r.serve);
    code.title = r.serve;
    const copy = el("button", "copy", "copy");
    copy.type = "button"; copy.title = "Copy the command that serves this run";
    copy.addEventListener("click", () => {
      navigator.clipboard.writeText(r.serve).then(() => { copy.textContent = "copied"; },
        () => { copy.textContent = "select it"; });
      setTimeout(() => { copy.textContent = "copy"; }, 1500);
    });
    cmd.append(code, copy);
    box.append(cmd);
  }
  return box;
}

function toggle(name, on) {
  if (on && state.selected.size < state.max) state.selected.add(name); else state.selected.delete(name);
  remember();
  renderRuns();
  refreshCurves().then(renderCharts, showError);
}
