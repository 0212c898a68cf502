"""The figures of ``barenet explain`` and ``barenet attack``, drawn with ``barenet.figures``
(pyplot-free, written atomically). Matplotlib is imported inside ``new_figure``."""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..figures import new_figure, save_figure

#: Diverging colour map for gradients: red raises the class's log-probability, blue lowers it
DIVERGING = "RdBu_r"


def _heatmap(fig: Any, ax: Any, values: np.ndarray, outline: np.ndarray, title: str) -> None:
    """``values`` (28, 28) on a diverging scale centred at 0 with symmetric limits, the digit's
    outline (pixels at 0.5) drawn over it, and a colour bar."""
    lim = float(np.abs(values).max()) or 1.0
    im = ax.imshow(values, cmap=DIVERGING, vmin=-lim, vmax=lim, interpolation="nearest")
    if outline.max() > 0.5 > outline.min():
        ax.contour(outline, levels=[0.5], colors="black", linewidths=0.6, alpha=0.6)
    fig.colorbar(im, ax=ax, shrink=0.8, format="{x:.2g}")
    ax.set_title(title, fontsize=9)


def plot_explanation(pixels: np.ndarray, gradient: np.ndarray, record: dict[str, Any],
                     classes: Sequence[str], path: str | os.PathLike, title: str = "") -> Path:
    """One picture explained: the 28x28 input (pixels in [0, 1]), the input gradient
    d log p(target) / d pixel (28, 28) as a diverging heatmap, and gradient x input.
    ``record``: the picture's dict from ``explain`` (prediction, probabilities, target)."""
    p = np.asarray(pixels, dtype=np.float64)
    g = np.asarray(gradient, dtype=np.float64)
    pred, target = int(record["prediction"]), int(record["target"])
    probs = record["probabilities"]
    fig = new_figure(11, 3.8)
    ax_in, ax_g, ax_gx = fig.subplots(1, 3)
    ax_in.imshow(p, cmap="gray", vmin=0, vmax=1, interpolation="nearest")
    ax_in.set_title(f"input: predicted {classes[pred]} ({probs[pred]:.1%})", fontsize=9)
    name = classes[target]
    _heatmap(fig, ax_g, g, p, f"gradient d log p({name}) / d pixel\n"
                              f"red raises p({name}), blue lowers it")
    _heatmap(fig, ax_gx, g * p, p, "gradient x input\n(the gradient where there is ink)")
    for ax in (ax_in, ax_g, ax_gx):
        ax.set_xticks([])
        ax.set_yticks([])
    if title:
        fig.suptitle(title, fontsize=10)
    return save_figure(fig, path)


def plot_robustness(results: Sequence[dict[str, Any]], names: Sequence[str],
                    path: str | os.PathLike, title: str = "") -> Path:
    """Accuracy against eps, one labelled line per run; ``results``: ``attack_run`` dicts."""
    fig = new_figure(6.5, 4.2)
    ax = fig.subplots()
    for res, name in zip(results, names):
        ax.plot(res["eps"], res["accuracy"], "o-", label=name, markersize=4)
    ax.set_xlabel("eps (largest change of any pixel; pixels span 0 to 1)")
    ax.set_ylabel("accuracy")
    ax.set_ylim(0, 1.02)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.0%}")
    ax.grid(True, alpha=0.3)
    ax.legend()
    ax.set_title(title or "accuracy under the fast gradient sign method", fontsize=10)
    return save_figure(fig, path)


def plot_adversarial(results: Sequence[dict[str, Any]], names: Sequence[str],
                     classes: Sequence[Sequence[str]], path: str | os.PathLike) -> Path:
    """A block per run: rows are its first test images, columns the eps values; each tile is
    the adversarial picture and the prediction on it (red when wrong). ``results``:
    ``attack_run`` dicts with ``examples``; ``classes``: each run's class names."""
    rows = max(res["examples"].shape[1] for res in results)
    cols = max(len(res["eps"]) for res in results)
    fig = new_figure(0.4 + 1.25 * cols * len(results), 0.6 + 1.45 * rows)
    subs = np.atleast_1d(fig.subfigures(1, len(results)))
    for sub, res, name, names_k in zip(subs, results, names, classes):
        axes = np.atleast_2d(sub.subplots(rows, cols))
        for ax in axes.ravel():
            ax.set_xticks([])
            ax.set_yticks([])
            for spine in ax.spines.values():
                spine.set_visible(False)
        labels = res["example_labels"]
        for k, e in enumerate(res["eps"]):
            axes[0, k].set_title(f"eps {e:g}", fontsize=8)
            for i in range(res["examples"].shape[1]):
                ax = axes[i, k]
                prob = res["example_probabilities"][k, i]
                pred = int(np.argmax(prob))
                ax.imshow(res["examples"][k, i], cmap="gray", vmin=0, vmax=1,
                          interpolation="nearest")
                wrong = pred != int(labels[i])
                ax.set_xlabel(f"{names_k[pred]} ({prob[pred]:.0%})", fontsize=7, labelpad=2,
                              color="firebrick" if wrong else "black",
                              fontweight="bold" if wrong else "normal")
        for i in range(res["examples"].shape[1]):
            axes[i, 0].set_ylabel(f"true {names_k[int(labels[i])]}", fontsize=7)
        sub.suptitle(f"{name}: predictions on the attacked pictures (red: fooled)", fontsize=9)
    return save_figure(fig, path)


__all__ = ["DIVERGING", "plot_adversarial", "plot_explanation", "plot_robustness"]
