"""The figures of a training run, as PNG files (matplotlib's Agg renderer, no window, no pyplot).

They are drawn with the helpers of ``barenet.figures`` (``new_figure``, ``save_figure``, ...),
as are the features' own figures (``barenet.tune.figures``, ``barenet.compare.figures``).
Matplotlib is imported inside the functions, so ``import barenet`` needs only NumPy. Each
function writes one PNG atomically and returns its path.
"""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .figures import new_figure, plain_numbers, save_figure, whole_number_ticks  # noqa: F401
from .plots_first_layer import first_layer_filters, plot_first_layer  # noqa: F401
from .plots_gradient_flow import GRADIENT_FLOW, has_gradient_flow, plot_gradient_flow

#: The files ``plot_run`` writes into a run directory (and ``GRADIENT_FLOW`` with diagnostics).
RUN_PLOTS = {
    "curves": "curves.png",
    "confusion": "confusion_matrix.png",
    "misclassified": "misclassified.png",
    "weights": "first_layer_weights.png",
    "per_class": "per_class_accuracy.png",
}


def best_epoch_of(history: Sequence[dict]) -> int | None:
    """The epoch whose weights training keeps: the latest with the highest validation accuracy,
    else (no validation) the last one; None for an empty history."""
    acc = _column(history, "val_acc")
    epochs = _column(history, "epoch")
    if not len(history):
        return None
    if np.isnan(acc).all():
        return int(epochs[-1]) if np.isfinite(epochs[-1]) else len(history)
    i = len(acc) - 1 - int(np.nanargmax(acc[::-1]))
    return int(epochs[i]) if np.isfinite(epochs[i]) else i + 1


def _column(history: Sequence[dict], key: str) -> np.ndarray:
    vals = [h.get(key) for h in history]
    return np.array([np.nan if v is None else float(v) for v in vals], dtype=np.float64)


def plot_history(history: Sequence[dict], path: str | os.PathLike,
                 test_accuracy: float | None = None, title: str = "",
                 best_epoch: int | None = None) -> Path:
    """Loss (left) and accuracy (right) per epoch, train and validation; test accuracy as a line;
    the best epoch (whose weights were kept; default ``best_epoch_of(history)``) marked.

    ``history``: per-epoch dicts with epoch, train_loss, train_acc, val_loss, val_acc (val may be
    missing or None).
    """
    fig = new_figure(10, 4)
    ax_loss, ax_acc = fig.subplots(1, 2)
    epochs = _column(history, "epoch") if history else np.array([])
    if history and np.isnan(epochs).all():
        epochs = np.arange(1, len(history) + 1, dtype=np.float64)
    for ax, key, label in ((ax_loss, "loss", "loss"), (ax_acc, "acc", "accuracy")):
        for split, style in (("train", "o-"), ("val", "s--")):
            y = _column(history, f"{split}_{key}") if history else np.array([])
            if y.size and not np.isnan(y).all():
                name = "validation" if split == "val" else "train"
                ax.plot(epochs, y, style, label=name, markersize=4)
        ax.set_xlabel("epoch")
        whole_number_ticks(ax.xaxis)
        ax.set_ylabel(label)
        ax.grid(True, alpha=0.3)
    if test_accuracy is not None:
        ax_acc.axhline(test_accuracy, color="black", linestyle=":",
                       label=f"test {test_accuracy:.4f}")
    best = best_epoch if best_epoch else best_epoch_of(history)
    if best:
        for ax in (ax_loss, ax_acc):
            ax.axvline(best, color="tab:green", linestyle="--", linewidth=1, alpha=0.8,
                       zorder=1, label=f"best epoch {best} (weights kept)")
        row = [h for h in history if h.get("epoch") == best and h.get("val_acc") is not None]
        if row:
            ax_acc.plot([best], [row[0]["val_acc"]], "*", color="tab:green", markersize=13)
    for ax in (ax_loss, ax_acc):
        if ax.get_legend_handles_labels()[0]:
            ax.legend()
    ax_loss.set_title("loss")
    ax_acc.set_title("accuracy")
    if title:
        fig.suptitle(title)
    return save_figure(fig, path)


def plot_confusion(cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike,
                   title: str = "confusion matrix (test set)") -> Path:
    """A (K, K) confusion matrix (rows true, columns predicted), counts written in. Colour shows
    the mistakes only, on a log scale (one mistake is visible beside hundreds); the diagonal
    (correct) is grey, so its large counts do not wash the mistakes out to white."""
    from matplotlib import colormaps
    from matplotlib.colors import ListedColormap, LogNorm

    cm = np.asarray(cm)
    k = cm.shape[0]
    diagonal = np.eye(k, dtype=bool)
    mistakes = np.ma.masked_array(cm, mask=diagonal | (cm <= 0))
    top = float(mistakes.max()) if mistakes.count() else 1.0
    fig = new_figure(1.4 + 0.65 * k, 0.6 + 0.6 * k)
    ax = fig.subplots()
    norm = LogNorm(vmin=0.5, vmax=max(top, 1.0))   # from 0.5: a single mistake is coloured
    im = ax.imshow(mistakes, cmap=colormaps["Reds"].with_extremes(bad="white"), norm=norm)
    ax.imshow(np.ma.masked_array(np.ones(cm.shape), mask=~diagonal),
              cmap=ListedColormap(["#dcdcdc"]), vmin=0, vmax=1)
    ticks = [t for t in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000, 2000, 5000) if t < top]
    bar = fig.colorbar(im, ax=ax, shrink=0.8, ticks=ticks + [top], format="{x:.0f}")
    bar.minorticks_off()
    bar.set_label("mistakes (log scale; diagonal: correct, grey)")
    for i in range(k):
        for j in range(k):
            strong = not diagonal[i, j] and cm[i, j] > 0 and norm(cm[i, j]) > 0.6
            ax.text(j, i, str(int(cm[i, j])), ha="center", va="center", fontsize=8,
                    color="white" if strong else "black",
                    fontweight="bold" if diagonal[i, j] else "normal")
    ax.set_xticks(range(k), [str(c) for c in classes], rotation=45, ha="right")
    ax.set_yticks(range(k), [str(c) for c in classes])
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title)
    return save_figure(fig, path)


def plot_misclassified(images: np.ndarray, y_true: np.ndarray, probabilities: np.ndarray,
                       classes: Sequence[str], path: str | os.PathLike, n: int = 25) -> Path:
    """Grid of the ``n`` most confidently wrong predictions.

    images uint8 (N, 28, 28); y_true (N,); probabilities (N, K). Each tile says true, predicted
    and the confidence of the wrong prediction.
    """
    probabilities = np.asarray(probabilities)
    y_true = np.asarray(y_true)
    pred = probabilities.argmax(axis=1)
    wrong = np.flatnonzero(pred != y_true)
    conf = probabilities[wrong, pred[wrong]]
    worst = wrong[np.argsort(-conf, kind="stable")][:n]
    cols = max(1, min(5, len(worst)))
    rows = max(1, math.ceil(len(worst) / cols))
    fig = new_figure(2.0 * cols, 2.2 * rows)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    if len(worst) == 0:
        axes[0].text(0.5, 0.5, "no misclassified images", ha="center", va="center")
    for ax, i in zip(axes, worst):
        ax.imshow(images[i], cmap="gray", vmin=0, vmax=255)
        ax.set_title(f"true {classes[y_true[i]]}\npred {classes[pred[i]]} "
                     f"({probabilities[i, pred[i]]:.0%})", fontsize=8)
    fig.suptitle(f"most confident mistakes ({len(wrong)} wrong of {len(y_true)})")
    return save_figure(fig, path)


def plot_per_class(cm: np.ndarray, classes: Sequence[str], path: str | os.PathLike) -> Path:
    """Bars of per-class accuracy (recall: diagonal / row sum) from a (K, K) confusion matrix."""
    cm = np.asarray(cm, dtype=np.float64)
    support = cm.sum(axis=1)
    acc = np.divide(np.diag(cm), support, out=np.zeros(len(cm)), where=support > 0)
    fig = new_figure(1.0 + 0.6 * len(cm), 4)
    ax = fig.subplots()
    bars = ax.bar(range(len(cm)), acc, color="tab:blue")
    ax.bar_label(bars, [f"{a:.1%}" for a in acc], fontsize=7)
    ax.set_xticks(range(len(cm)), [str(c) for c in classes], rotation=45, ha="right")
    low, high = _zoom(acc[support > 0])
    ax.set_ylim(low, high)
    ax.yaxis.set_major_formatter(lambda v, _: f"{v:.1%}" if low > 0 else f"{v:.0%}")
    if low > 0:
        ax.set_ylabel(f"accuracy (axis zoomed: starts at {low:.1%}, not 0)", color="firebrick")
    else:
        ax.set_ylabel("accuracy")
    total = np.trace(cm) / max(cm.sum(), 1)
    ax.axhline(total, color="black", linestyle=":", label=f"overall {total:.2%}")
    ax.legend(loc="lower right")
    ax.set_title("per-class accuracy (test set)")
    return save_figure(fig, path)


def _zoom(values: np.ndarray) -> tuple[float, float]:
    """y limits for bars of fractions: 0 to just over 1, or zoomed onto values that lie close
    together above 50% (so 97.8% and 99.2% do not look the same), on a 0.5% grid."""
    if not len(values):
        return 0.0, 1.08
    lo, hi = float(values.min()), float(values.max())
    span = max(hi - lo, 0.01)
    bottom = math.floor((lo - 0.6 * span) * 200) / 200
    if bottom < 0.5:
        return 0.0, 1.08
    return bottom, min(hi + 0.3 * span, 1.0 + 0.1 * span)


def plot_prediction(original: np.ndarray, digit: np.ndarray, probabilities: np.ndarray,
                    classes: Sequence[str], path: str | os.PathLike, title: str = "") -> Path:
    """A picture beside its 28x28 preprocessed view and the class probabilities as bars.

    original float (H, W) in [0, 1] or uint8; digit uint8 (28, 28); probabilities (K,).
    """
    fig = new_figure(11, 3.6)
    ax_in, ax_28, ax_p = fig.subplots(1, 3, width_ratios=[1.2, 1, 1.6])
    vmax = 255 if np.asarray(original).dtype == np.uint8 else 1.0
    ax_in.imshow(original, cmap="gray", vmin=0, vmax=vmax)
    ax_in.set_title("input")
    ax_28.imshow(digit, cmap="gray", vmin=0, vmax=255, interpolation="nearest")
    ax_28.set_title("as the network sees it (28x28)")
    for ax in (ax_in, ax_28):
        ax.set_xticks([])
        ax.set_yticks([])
    p = np.asarray(probabilities, dtype=np.float64)
    best = int(p.argmax())
    colors = ["tab:orange" if i == best else "tab:blue" for i in range(len(p))]
    ax_p.barh(range(len(p)), p, color=colors)
    ax_p.set_yticks(range(len(p)), [str(c) for c in classes])
    ax_p.invert_yaxis()
    ax_p.set_xlim(0, 1)
    ax_p.set_title(f"prediction: {classes[best]} ({p[best]:.1%})")
    if title:
        fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def plot_run(run_dir: str | os.PathLike, history: Sequence[dict] | None,
             eval_result: dict | None, run: Any = None, dataset: Any = None) -> list[Path]:
    """Draw every figure of a run into ``run_dir`` and return the paths written.

    history: per-epoch dicts (None -> read ``metrics.csv`` in run_dir if there). eval_result:
    ``evaluate_run``'s dict (confusion_matrix, probabilities, accuracy) or None to skip the
    test-set figures. run: a loaded ``Run`` (its model gives the first-layer weights, its
    classes the labels). dataset: the test Dataset whose images/labels match eval_result
    (loaded from run.dataset when None and needed).
    """
    run_dir = Path(run_dir)
    written: list[Path] = []
    if history is None:
        history = read_metrics_csv(run_dir / "metrics.csv") or list(getattr(run, "history", []))
    classes = list(getattr(run, "classes", None) or range(10))
    test_acc = None if eval_result is None else eval_result.get("accuracy")
    best = (getattr(run, "config", None) or {}).get("best_epoch")
    best = best if isinstance(best, int) and not isinstance(best, bool) and best > 0 else None
    if history:
        written.append(plot_history(history, run_dir / RUN_PLOTS["curves"],
                                    test_accuracy=test_acc, best_epoch=best))
    if history and has_gradient_flow(history):
        written.append(plot_gradient_flow(history, run_dir / GRADIENT_FLOW,
                                          model=getattr(run, "model", None)))
    if eval_result is not None and eval_result.get("confusion_matrix") is not None:
        cm = np.asarray(eval_result["confusion_matrix"])
        classes = classes if len(classes) == len(cm) else list(range(len(cm)))
        written.append(plot_confusion(cm, classes, run_dir / RUN_PLOTS["confusion"]))
        written.append(plot_per_class(cm, classes, run_dir / RUN_PLOTS["per_class"]))
        probs = eval_result.get("probabilities")
        if probs is not None:
            if dataset is None and run is not None:
                from .data.datasets import load_dataset

                data_dir = (getattr(run, "config", None) or {}).get("data_dir")
                dataset = load_dataset(getattr(run, "dataset_spec", run.dataset), "test",
                                       data_dir=data_dir)
            n = len(probs)
            if dataset is not None and len(dataset.labels) >= n:  # evaluated on the first n
                written.append(plot_misclassified(dataset.images[:n], dataset.labels[:n], probs,
                                                  classes, run_dir / RUN_PLOTS["misclassified"]))
    if run is not None and getattr(run, "model", None) is not None:
        out = plot_first_layer(run.model, run_dir / RUN_PLOTS["weights"])
        if out is not None:
            written.append(out)
    return written


def read_metrics_csv(path: str | os.PathLike) -> list[dict]:
    """Per-epoch rows of a run's metrics.csv as dicts of floats; [] when there is no such
    regular file or it cannot be read (it is read as untrusted: bounded, never a FIFO)."""
    import csv
    import io

    from .errors import CheckpointError
    from .train.fileio import MAX_JSON_BYTES, read_bounded

    try:
        text = read_bounded(path, MAX_JSON_BYTES, "a metrics CSV file").decode("utf-8", "replace")
    except CheckpointError:
        return []
    return [{k: _num(v) for k, v in row.items() if k is not None}
            for row in csv.DictReader(io.StringIO(text, newline=""))]


def _num(v: str | None) -> float | None:
    try:
        return float(v) if v not in (None, "") else None
    except ValueError:
        return None
