// Line charts on <canvas>: axes with round ticks (linear or log), gaps where a value is null,
// a hover guide with the values at the nearest epoch; or bars, one per series at each epoch,
// side by side, labelled with their value where they are wide enough. No library; used by
// board.js.
"use strict";

const Charts = (() => {
  const PAD = { left: 58, right: 24, top: 10, bottom: 30 };
  const SVG = "http://www.w3.org/2000/svg";
  const GRID = "#eceef4", AXIS = "#9aa0b4", TEXT = "#6b7185";
  const FONT = "12px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";

  function niceStep(range, count) {
    const raw = range / Math.max(count, 1);
    const mag = Math.pow(10, Math.floor(Math.log10(raw)));
    const f = raw / mag;
    return (f <= 1 ? 1 : f <= 2 ? 2 : f <= 2.5 ? 2.5 : f <= 5 ? 5 : 10) * mag;
  }

  function linearTicks(lo, hi, count) {
    const step = niceStep(hi - lo, count);
    const out = [];
    for (let v = Math.ceil(lo / step - 1e-9) * step; v <= hi + step * 1e-9; v += step) {
      out.push(Math.abs(v) < step * 1e-9 ? 0 : v);
    }
    return out;
  }

  function logTicks(lo, hi) {
    const out = [];
    const a = Math.floor(Math.log10(lo)), b = Math.ceil(Math.log10(hi));
    const mults = b - a <= 2 ? [1, 2, 5] : [1];
    const every = Math.max(1, Math.ceil((b - a) / 6));
    for (let e = a; e <= b; e += every) {
      for (const m of mults) {
        const v = m * Math.pow(10, e);
        if (v >= lo * 0.999 && v <= hi * 1.001) out.push(v);
      }
    }
    return out;
  }

  // A tick's label: as many decimals as the step between ticks needs.
  function tickLabel(v, step, percent, log) {
    if (log) {
      const e = Math.floor(Math.log10(v) + 1e-9), m = v / Math.pow(10, e);
      if (e >= -2 && e <= 3) return String(Number(v.toPrecision(2)));
      return (Math.abs(m - 1) < 1e-6 ? "1" : String(Number(m.toPrecision(2)))) + "e" + e;
    }
    const scale = percent ? 100 : 1, s = step * scale;
    let digits = Math.max(0, -Math.floor(Math.log10(s) + 1e-9));
    while (digits < 6 && Math.abs(Math.round(s * 10 ** digits) - s * 10 ** digits) > 1e-6) digits++;
    return (v * scale).toFixed(digits) + (percent ? "%" : "");
  }

  // A short line in `color` with `dash`, as an inline SVG (legends, the hover read-out).
  function lineKey(color, dash, width) {
    const svg = document.createElementNS(SVG, "svg");
    svg.setAttribute("width", "26"); svg.setAttribute("height", "10");
    svg.setAttribute("class", "line-key");
    const line = document.createElementNS(SVG, "line");
    for (const [k, v] of [["x1", 1], ["y1", 5], ["x2", 25], ["y2", 5], ["stroke", color],
      ["stroke-width", width || 2.5], ["stroke-linecap", "round"]]) line.setAttribute(k, v);
    if (dash && dash.length) line.setAttribute("stroke-dasharray", dash.join(" "));
    svg.append(line);
    return svg;
  }

  function format(v, percent) {
    if (v === null || v === undefined || !isFinite(v)) return "–";
    if (percent) return (v * 100).toFixed(Math.abs(v) >= 0.9995 ? 1 : 2) + "%";
    const a = Math.abs(v);
    if (a === 0) return "0";
    if (a >= 1e4 || a < 1e-3) return v.toExponential(1).replace("e+", "e");
    return String(Number(v.toPrecision(3)));
  }

  // The y range of the values (finite, > 0 on a log axis), padded.
  function yRange(series, log, percent) {
    let lo = Infinity, hi = -Infinity;
    for (const s of series) {
      for (const [, y] of s.points) {
        if (y === null || !isFinite(y) || (log && y <= 0)) continue;
        lo = Math.min(lo, y); hi = Math.max(hi, y);
      }
    }
    if (lo === Infinity) return null;
    if (log) {
      if (hi / lo < 10) { const mid = Math.sqrt(hi * lo); lo = mid / 3.2; hi = mid * 3.2; }
      return [lo / 1.15, hi * 1.15];
    }
    if (hi - lo < 1e-12) { const d = Math.abs(hi) * 0.1 || 0.1; lo -= d; hi += d; }
    const pad = (hi - lo) * 0.06;
    lo -= pad; hi += pad;
    if (percent) { hi = Math.min(hi, 1); lo = Math.max(lo, 0); }
    else if (lo < 0 && series.every((s) => s.points.every(([, y]) => y === null || y >= 0))) lo = 0;
    return [lo, hi];
  }

  // Each epoch's values as bars side by side (a group per epoch, a bar per series, in order),
  // from the bottom of the axis; each labelled with its value where the bar is wide enough
  // (percentages all without their sign when "100%" would not fit).
  function drawBars(ctx, series, X, Y, base, percent) {
    const n = series.length, group = Math.min(0.86 * (X(2) - X(1)), 30 * n + 10);
    const bw = group / n;
    ctx.font = "10.5px system-ui, -apple-system, 'Segoe UI', Roboto, sans-serif";
    ctx.textAlign = "center"; ctx.textBaseline = "bottom";
    const sign = ctx.measureText("100%").width <= bw + 1 ? "%" : "";   // "80%", or all "80"
    series.forEach((s, i) => {
      for (const [x, y] of s.points) {
        if (y === null || !isFinite(y)) continue;
        const left = X(x) - group / 2 + i * bw, top = Math.min(Y(y), base - 1);
        ctx.globalAlpha = 0.78; ctx.fillStyle = s.color;
        ctx.fillRect(left + 1, top, bw - 2, base - top);
        ctx.globalAlpha = 1;
        const text = percent ? Math.round(y * 100) + sign : format(y, false);
        if (ctx.measureText(text).width > bw + 1) continue;   // no room: the hover tells
        ctx.fillStyle = TEXT;
        ctx.fillText(text, left + bw / 2, top - 2);
      }
    });
    ctx.font = FONT;
  }

  // Draw `spec` on `canvas`: {series: [{label, color, dash, width, points: [[x, y|null]]}],
  // log, percent, range: [lo, hi] (a fixed y range), bars (bars, not lines),
  // marks: [{y, label}], dots: [{x, y, color, label}], empty: text}.
  function draw(canvas, spec, hoverX) {
    const ratio = window.devicePixelRatio || 1;
    const width = canvas.clientWidth, height = canvas.clientHeight;
    if (canvas.width !== Math.round(width * ratio)) canvas.width = Math.round(width * ratio);
    if (canvas.height !== Math.round(height * ratio)) canvas.height = Math.round(height * ratio);
    const ctx = canvas.getContext("2d");
    ctx.setTransform(ratio, 0, 0, ratio, 0, 0);
    ctx.clearRect(0, 0, width, height);
    ctx.font = FONT;
    const series = spec.series.filter((s) => s.points.some(([, y]) => y !== null));
    const log = !!spec.log;
    let yr = yRange(series.concat((spec.dots || []).map((d) => ({ points: [[d.x, d.y]] }))),
                    log, spec.percent);
    if (yr && spec.range) yr = spec.range;
    canvas.dataset.series = String(series.length);
    canvas.dataset.points = String(series.reduce((n, s) => n + s.points.length, 0));
    if (!yr) {
      ctx.fillStyle = TEXT; ctx.textAlign = "center";
      ctx.fillText(spec.empty || "no data yet", width / 2, height / 2);
      canvas._chart = null;
      return;
    }
    let xMax = 1;
    for (const s of series) for (const [x] of s.points) xMax = Math.max(xMax, x);
    const half = spec.bars ? 0.5 : 0;   // room for the first and last epoch's bars
    const x0 = 1 - half, x1 = Math.max(xMax, 2) + half;
    const W = width - PAD.left - PAD.right, H = height - PAD.top - PAD.bottom;
    const X = (x) => PAD.left + ((x - x0) / (x1 - x0)) * W;
    const ylo = log ? Math.log10(yr[0]) : yr[0], yhi = log ? Math.log10(yr[1]) : yr[1];
    const Y = (y) => PAD.top + H - (((log ? Math.log10(y) : y) - ylo) / (yhi - ylo)) * H;

    // grid and axes
    ctx.lineWidth = 1; ctx.strokeStyle = GRID; ctx.fillStyle = TEXT;
    ctx.textAlign = "right"; ctx.textBaseline = "middle";
    const yt = log ? logTicks(yr[0], yr[1]) : linearTicks(yr[0], yr[1], Math.max(2, H / 42));
    const ystep = yt.length > 1 ? yt[1] - yt[0] : Math.abs(yt[0] || 1);
    for (const v of yt) {
      const y = Math.round(Y(v)) + 0.5;
      ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(PAD.left + W, y); ctx.stroke();
      ctx.fillText(tickLabel(v, ystep, spec.percent, log), PAD.left - 7, y);
    }
    ctx.textAlign = "center"; ctx.textBaseline = "top";
    const step = Math.max(1, Math.round(niceStep(x1 - x0, Math.max(2, W / 70))));
    for (let e = 1; e <= x1 - half; e += (e === 1 && step > 1 ? step - 1 : step)) {
      const x = Math.round(X(e)) + 0.5;
      ctx.beginPath(); ctx.moveTo(x, PAD.top); ctx.lineTo(x, PAD.top + H); ctx.stroke();
      ctx.fillText(String(e), x, PAD.top + H + 7);
    }
    ctx.strokeStyle = AXIS;
    ctx.beginPath(); ctx.moveTo(PAD.left + 0.5, PAD.top); ctx.lineTo(PAD.left + 0.5, PAD.top + H);
    ctx.lineTo(PAD.left + W, PAD.top + H); ctx.stroke();
    ctx.textAlign = "right"; ctx.textBaseline = "bottom";
    ctx.fillText("epoch", PAD.left + W, PAD.top + H + 29);

    // guide lines (e.g. the healthy update ratio)
    for (const m of spec.marks || []) {
      if (m.y < yr[0] || m.y > yr[1]) continue;
      const y = Math.round(Y(m.y)) + 0.5;
      ctx.save(); ctx.strokeStyle = "#0f9d6e"; ctx.setLineDash([2, 4]); ctx.lineWidth = 1.5;
      ctx.beginPath(); ctx.moveTo(PAD.left, y); ctx.lineTo(PAD.left + W, y); ctx.stroke();
      ctx.restore();
    }

    // the lines: a null or (log axis) non-positive value breaks a line
    ctx.save();
    ctx.beginPath(); ctx.rect(PAD.left, PAD.top - 8, W + PAD.right, H + 16); ctx.clip();
    ctx.lineJoin = "round"; ctx.lineCap = "round";
    if (spec.bars) drawBars(ctx, series, X, Y, PAD.top + H, spec.percent);
    for (const s of spec.bars ? [] : series) {
      ctx.strokeStyle = s.color; ctx.fillStyle = s.color; ctx.lineWidth = s.width || 2;
      ctx.setLineDash(s.dash || []);
      ctx.beginPath();
      let open = false, alone = [];
      s.points.forEach(([x, y], i) => {
        const ok = y !== null && isFinite(y) && (!log || y > 0);
        if (!ok) { open = false; return; }
        const prev = s.points[i - 1], next = s.points[i + 1];
        const isolated = (!prev || prev[1] === null) && (!next || next[1] === null);
        if (isolated) alone.push([x, y]);
        if (open) ctx.lineTo(X(x), Y(y)); else ctx.moveTo(X(x), Y(y));
        open = true;
      });
      ctx.stroke();
      ctx.setLineDash([]);
      for (const [x, y] of alone) {
        ctx.beginPath(); ctx.arc(X(x), Y(y), 3, 0, 2 * Math.PI); ctx.fill();
      }
    }
    for (const d of spec.dots || []) {   // e.g. the test accuracy after the last epoch
      ctx.fillStyle = d.color; ctx.strokeStyle = "#fff"; ctx.lineWidth = 1.5;
      const cx = X(d.x), cy = Y(d.y);
      ctx.beginPath(); ctx.moveTo(cx, cy - 6); ctx.lineTo(cx + 6, cy); ctx.lineTo(cx, cy + 6);
      ctx.lineTo(cx - 6, cy); ctx.closePath(); ctx.fill(); ctx.stroke();
    }
    ctx.restore();
    for (const m of spec.marks || []) {   // their labels, over the lines
      if (m.y < yr[0] || m.y > yr[1]) continue;
      const y = Math.round(Y(m.y)) + 0.5;
      ctx.textAlign = "left"; ctx.textBaseline = "bottom";
      ctx.fillStyle = "rgba(255, 255, 255, 0.88)";
      ctx.fillRect(PAD.left + 3, y - 18, ctx.measureText(m.label).width + 6, 15);
      ctx.fillStyle = "#0f9d6e";
      ctx.fillText(m.label, PAD.left + 6, y - 4);
    }
    canvas._chart = { spec, series, X, x0, x1, W };
    if (hoverX !== undefined) hover(canvas, hoverX);
  }

  // The guide at the epoch nearest to canvas x, and the values there in `tip` (an element).
  function hover(canvas, px) {
    const c = canvas._chart, tip = canvas._tip;
    if (!c || !tip) return;
    const epoch = Math.min(Math.floor(c.x1), Math.max(Math.ceil(c.x0),
      Math.round(c.x0 + ((px - PAD.left) / c.W) * (c.x1 - c.x0))));
    const rows = [];
    for (const s of c.series) {
      const p = s.points.find(([x]) => x === epoch);
      if (p && p[1] !== null) rows.push([s.color, s.label, format(p[1], c.spec.percent), s.dash]);
    }
    for (const d of c.spec.dots || []) {
      if (d.x === epoch) rows.push([d.color, d.label, format(d.y, c.spec.percent), null]);
    }
    const ctx = canvas.getContext("2d");
    const x = Math.round(c.X(epoch)) + 0.5;
    ctx.save(); ctx.strokeStyle = "rgba(29, 33, 48, 0.35)"; ctx.lineWidth = 1;
    ctx.beginPath(); ctx.moveTo(x, PAD.top); ctx.lineTo(x, canvas.clientHeight - PAD.bottom);
    ctx.stroke(); ctx.restore();
    tip.replaceChildren();
    const head = document.createElement("div");
    head.className = "tip-head"; head.textContent = "epoch " + epoch;
    tip.append(head);
    for (const [color, label, value, dash] of rows) {
      const row = document.createElement("div");
      const key = lineKey(color, dash === null ? [1, 0] : dash, dash === null ? 6 : 2.5);
      const name = document.createElement("span"); name.textContent = label;
      const val = document.createElement("b"); val.textContent = value;
      row.append(key, name, val);
      tip.append(row);
    }
    tip.hidden = rows.length === 0;
    const left = x + 14 + 220 > canvas.clientWidth ? x - 14 - tip.offsetWidth : x + 14;
    tip.style.left = Math.max(0, left) + "px";
  }

  // Redraw with the hover guide while the pointer is over the canvas.
  function attach(canvas, tip) {
    canvas._tip = tip;
    canvas.addEventListener("mousemove", (ev) => {
      const box = canvas.getBoundingClientRect();
      canvas._hoverX = ev.clientX - box.left;
      if (canvas._chart) draw(canvas, canvas._chart.spec, canvas._hoverX);
    });
    canvas.addEventListener("mouseleave", () => {
      canvas._hoverX = undefined; tip.hidden = true;
      if (canvas._chart) draw(canvas, canvas._chart.spec);
    });
  }

  return { draw, attach, format, lineKey };
})();
