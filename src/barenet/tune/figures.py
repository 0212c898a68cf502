"""The figures of ``barenet tune``: accuracy against the swept or searched parameter, and an
Optuna search's history."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import numpy as np

from ..figures import new_figure, plain_numbers, save_figure, whole_number_ticks


def plot_results(results: dict, out_dir: str | os.PathLike) -> list[Path]:
    """accuracy_vs_<param>.png for a sweep; history.png and accuracy_vs_lr.png for a search."""
    out = Path(out_dir)
    rows = [t for t in results["trials"] if t.get("value") is not None]
    written = []
    params = [results["param"]] if results["mode"] == "sweep" else \
        [p for p in ("lr",) if p in results.get("params", [])]
    for param in params:
        fig = new_figure(6.5, 4.2)
        ax = fig.subplots()
        if results["mode"] == "sweep":
            _draw_sweep(ax, results["trials"], param)
        else:
            groups = sorted({str(t["params"].get("optimizer", "")) for t in rows})
            for g in groups:
                sel = [t for t in rows if str(t["params"].get("optimizer", "")) == g]
                ax.plot([t["params"][param] for t in sel], [t["value"] for t in sel], "o",
                        alpha=0.8, label=f"{g} (validation)" if g else "validation")
            ax.set_xscale("log")
        ax.set(xlabel=param, ylabel="accuracy", title=f"accuracy vs {param}")
        plain_numbers(ax)
        ax.grid(True, alpha=0.3)
        ax.legend()
        written.append(save_figure(fig, out / f"accuracy_vs_{param}.png"))
    if results["mode"] == "optuna" and rows:
        fig = new_figure(6.5, 4.2)
        ax = fig.subplots()
        nums = [t["number"] for t in rows]
        vals = [t["value"] for t in rows]
        ax.plot(nums, vals, "o", label="trial")
        ax.plot(nums, np.maximum.accumulate(vals), "-", label="best so far")
        ax.set(xlabel="trial", ylabel="validation accuracy", title="optimisation history")
        whole_number_ticks(ax.xaxis)
        plain_numbers(ax)
        ax.grid(True, alpha=0.3)
        ax.legend()
        written.append(save_figure(fig, out / "history.png"))
    return written


def _draw_sweep(ax: Any, trials: list[dict], param: str) -> None:
    """Validation and test accuracy along the grid; diverged values as red crosses at 0."""
    xs = [t["params"][param] for t in trials]
    numeric = all(isinstance(x, (int, float)) and not isinstance(x, bool) for x in xs)
    order = sorted(range(len(xs)), key=lambda i: xs[i]) if numeric else range(len(xs))
    ok = [i for i in order if trials[i].get("value") is not None]
    for key, label in (("value", "validation"), ("test_accuracy", "test")):
        ax.plot([xs[i] for i in ok], [trials[i].get(key) or np.nan for i in ok], "o-",
                label=label, alpha=0.8)
    bad = [i for i in order if trials[i].get("value") is None]
    if bad:
        ax.plot([xs[i] for i in bad], [0.0] * len(bad), "x", color="red", markersize=9,
                label="diverged")
    positive = numeric and xs and min(xs) > 0
    if positive and (param in ("lr", "weight_decay") or max(xs) / min(xs) >= 10):
        ax.set_xscale("log")
