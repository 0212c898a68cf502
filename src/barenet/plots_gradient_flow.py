"""The gradient-flow figure of a run trained with ``--diagnostics`` (``gradient_flow.png``).

Three panels, one line per layer, the epoch along x: the gradient norm of each layer's weight
(log scale), its update-to-weight ratio (log scale, with the 1e-3 rule of thumb as a guide) and
each ReLU's fraction of dead units. A run that clipped its gradients (``--clip-grad-norm``) has
a fourth: the total gradient norm before clipping against the threshold, and the fraction of
steps clipped as bars. The numbers are the ``metrics.csv`` columns that
``barenet.train.diagnostics`` defines; biases have their columns there but no line here.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from .figures import new_figure, save_figure, whole_number_ticks

#: The file ``plot_run`` writes when the history has diagnostics columns.
GRADIENT_FLOW = "gradient_flow.png"
#: The update-to-weight ratio usually called healthy (the guide line).
HEALTHY_RATIO = 1e-3
PANELS = (("grad_norm", "gradient norm ||g|| (log)"),
          ("update_ratio", "update / weight ||Δw|| / ||w|| (log)"),
          ("dead_relu", "dead ReLU units (fraction)"))


def has_gradient_flow(history: Sequence[dict]) -> bool:
    """True when some epoch of ``history`` has a diagnostics value."""
    return any(k.startswith("grad_norm/") and v is not None for h in history for k, v in h.items())


def _layer_of(param: str) -> str:
    """'0.weight' -> '0'; 'features.3.bias' -> 'features.3'; 'weight' -> ''."""
    return param.rpartition(".")[0]


def gradient_flow_series(history: Sequence[dict]
                         ) -> dict[str, list[tuple[str, np.ndarray, np.ndarray]]]:
    """The lines of the figure: ``{kind: [(name, epochs (E,), values (E,)), ...]}`` for kind
    in grad_norm, update_ratio (one line per parameterised layer: its ``weight``, else its
    first parameter) and dead_relu (one per ReLU); a missing value is NaN."""
    columns = list(dict.fromkeys(k for h in history for k in h))
    epochs = _epochs(history)
    chosen: dict[str, str] = {}   # layer -> the parameter drawn for it
    for col in columns:
        kind, _, name = col.partition("/")
        layer, leaf = _layer_of(name), name.rpartition(".")[2]
        if kind == "grad_norm" and (layer not in chosen or (
                leaf == "weight" and chosen[layer].rpartition(".")[2] != "weight")):
            chosen[layer] = name
    out: dict[str, list[tuple[str, np.ndarray, np.ndarray]]] = {k: [] for k, _ in PANELS}

    def values(col: str) -> np.ndarray:
        return np.array([np.nan if h.get(col) is None else float(h[col]) for h in history])

    for param in chosen.values():
        for kind in ("grad_norm", "update_ratio"):
            out[kind].append((param, epochs, values(f"{kind}/{param}")))
    for col in columns:
        kind, _, name = col.partition("/")
        if kind == "dead_relu":
            out["dead_relu"].append((name, epochs, values(col)))
    return out


def clip_series(history: Sequence[dict]) -> dict[str, np.ndarray] | None:
    """The clipping panel's numbers, each (E,) with NaN where missing: ``epoch``,
    ``total_norm`` (mean before clipping), ``max_norm`` (the threshold) and
    ``fraction_clipped``; None when no epoch clipped."""
    if not any(h.get("clip/max_norm") is not None for h in history):
        return None
    out = {"epoch": _epochs(history)}
    for name in ("total_norm", "max_norm", "fraction_clipped"):
        out[name] = np.array([np.nan if h.get(f"clip/{name}") is None
                              else float(h[f"clip/{name}"]) for h in history])
    return out


def _epochs(history: Sequence[dict]) -> np.ndarray:
    """The epoch of each row (E,), 1..E where the rows carry none."""
    epochs = np.array([np.nan if h.get("epoch") is None else float(h["epoch"]) for h in history])
    if history and np.isnan(epochs).all():
        epochs = np.arange(1, len(history) + 1, dtype=np.float64)
    return epochs


def _draw_clipping(ax: Any, clip: dict[str, np.ndarray]) -> None:
    """Total norm before clipping (log) and the threshold; the fraction clipped as bars on a
    second axis (0 to 1)."""
    x = clip["epoch"]
    bars = ax.twinx()
    fraction = clip["fraction_clipped"]
    bars.bar(x, fraction, width=0.6, color="C1", alpha=0.25, label="steps clipped (right axis)")
    for xi, fi in zip(x, fraction):
        if np.isfinite(xi) and np.isfinite(fi):
            bars.text(xi, fi + 0.01, f"{fi:.0%}", ha="center", va="bottom", fontsize=8,
                      color="C1")
    bars.set_ylim(0, 1.12)
    bars.set_ylabel("fraction of steps clipped")
    ax.set_zorder(bars.get_zorder() + 1)   # the lines over the bars
    ax.patch.set_visible(False)
    ax.plot(x, clip["total_norm"], "o-", color="C0", markersize=4,
            label="||g|| before clipping (mean)")
    ax.hlines(clip["max_norm"], x - 0.5, x + 0.5, color="black", linestyle="--",
              linewidth=1.2, label="clip threshold")   # one segment per epoch: it may change
    ax.set_xlabel("epoch")
    if np.isfinite(x).any():   # every epoch, also those before clipping was switched on
        ax.set_xlim(np.nanmin(x) - 0.6, np.nanmax(x) + 0.6)
    whole_number_ticks(ax.xaxis)
    ax.set_ylabel("total gradient norm ||g|| (log)")
    ax.set_title("gradient clipping: norm before it, and how often")
    ax.grid(True, which="both", alpha=0.3)
    values = np.concatenate([clip["total_norm"], clip["max_norm"]])
    if (values[np.isfinite(values)] > 0).any():
        _readable_log_axis(ax)
    handles = [h for a in (ax, bars) for h in a.get_legend_handles_labels()[0]]
    ax.legend(handles, [h.get_label() for h in handles], fontsize=8, loc="upper center",
              bbox_to_anchor=(0.5, -0.16), ncol=2, frameon=False)


def _kinds(model: Any) -> dict[str, str]:
    """{module name: its type's name} of a model's layers, and for a ReLU the name of the
    parameterised layer before it (``"9": "ReLU after 8 Linear"``), for the legends."""
    if model is None or not hasattr(model, "named_modules"):
        return {}
    out, last = {}, None
    for name, m in model.named_modules():
        kind = type(m).__name__
        out[name] = kind if last is None or kind != "ReLU" else f"{kind} after {last}"
        if getattr(m, "_parameters", None):
            last = f"{name} {kind}"
    return out


def _readable_log_axis(ax: Any) -> None:
    """A log y axis with ticks labelled as plain numbers. Powers of ten alone leave one label
    or none on a narrow range: under a decade the ticks are evenly spaced round numbers, under
    two decades the 2s and 5s between the powers are labelled too."""
    from matplotlib.ticker import FuncFormatter, MaxNLocator, NullFormatter, NullLocator

    ax.set_yscale("log")
    low, high = ax.get_ylim()
    plain = FuncFormatter(lambda v, _: f"{v:.3g}")
    if high / low < 10:
        ax.yaxis.set_major_locator(MaxNLocator(nbins=6))
        ax.yaxis.set_minor_locator(NullLocator())
    elif high / low < 100:
        leading = FuncFormatter(lambda v, _: f"{v:.3g}" if f"{v:.0e}"[0] in "25" else "")
        ax.yaxis.set_minor_formatter(leading)
        ax.tick_params(axis="y", which="minor", labelsize=8)
    else:
        ax.yaxis.set_minor_formatter(NullFormatter())
    ax.yaxis.set_major_formatter(plain)


def plot_gradient_flow(history: Sequence[dict], path: str | os.PathLike, model: Any = None,
                       title: str = "") -> Path:
    """Draw ``gradient_flow_series(history)`` into ``path`` (one line per layer per panel).
    ``model``, when given, names the layers' types in the legends."""
    series = gradient_flow_series(history)
    clip = clip_series(history)
    kinds = _kinds(model)
    fig = new_figure(15 if clip is None else 20, 5.2 + 0.2 * (len(series["grad_norm"]) // 2))
    axes = fig.subplots(1, 3 if clip is None else 4)
    if clip is not None:
        _draw_clipping(axes[3], clip)
        axes = axes[:3]
    colors = {name: f"C{i % 10}" for i, (name, _, _) in enumerate(series["grad_norm"])}
    for ax, (kind, ylabel) in zip(axes, PANELS):
        for name, x, y in series[kind]:
            if kind == "dead_relu":
                label = f"{name} {kinds.get(name, 'ReLU')}"
            else:
                layer = kinds.get(_layer_of(name))
                label = name if layer is None else f"{name} ({layer})"
            style = dict(color=colors[name]) if name in colors else {}
            ax.plot(x, y, "o-", markersize=4, label=label, **style)
        ax.set_xlabel("epoch")
        whole_number_ticks(ax.xaxis)
        ax.set_ylabel(ylabel)
        ax.grid(True, which="both", alpha=0.3)
    ax_grad, ax_ratio, ax_dead = axes
    ax_grad.set_title("gradient norm per layer (mean over the epoch's steps)" if clip is None
                      else "gradient norm per layer after clipping (epoch's mean)")
    ax_ratio.set_title("update-to-weight ratio per layer")
    ax_dead.set_title("ReLU units that never fired in the epoch")
    ax_ratio.axhline(HEALTHY_RATIO, color="black", linestyle=":", linewidth=1.2,
                     label=f"{HEALTHY_RATIO:g} (rule of thumb)")
    for ax, kind in ((ax_grad, "grad_norm"), (ax_ratio, "update_ratio")):
        if any((y[np.isfinite(y)] > 0).any() for _, _, y in series[kind]):
            _readable_log_axis(ax)
    ax_dead.set_ylim(-0.02, 1.02)
    if not series["dead_relu"]:
        ax_dead.text(0.5, 0.5, "no ReLU in this model", ha="center", va="center",
                     transform=ax_dead.transAxes, color="gray")
    for ax in axes:   # below each panel: inside, a legend hides the lines of deep models
        if ax.get_legend_handles_labels()[0]:
            ax.legend(fontsize=8, loc="upper center", bbox_to_anchor=(0.5, -0.16), ncol=2,
                      frameon=False)
    fig.suptitle(title or "gradient flow (weights; biases are in metrics.csv)")
    return save_figure(fig, path)


__all__ = ["GRADIENT_FLOW", "HEALTHY_RATIO", "clip_series", "gradient_flow_series",
           "has_gradient_flow", "plot_gradient_flow"]
