"""lr_find.png: the range test's loss against the learning rate, the suggestion marked."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..figures import new_figure, plain_numbers, save_figure
from .lr_find import LRFindResult

#: How each rule's candidate is drawn: (line style, colour).
_STYLES = {"min/10": ("--", "tab:red"), "steepest": (":", "tab:green")}


def plot_lr_find(result: LRFindResult, path: str | os.PathLike) -> Path:
    """Write the figure to ``path`` (PNG, atomically): the loss of every batch (faint), its
    smoothed curve, the lowest smoothed loss, and a vertical line at each rule's candidate,
    the suggestion (the one of ``result.rule``) drawn solid and named in the legend."""
    fig = new_figure(7.0, 4.2)
    ax = fig.subplots()
    lrs, smoothed = result.lrs, result.smoothed
    ax.plot(lrs, result.losses, color="tab:blue", alpha=0.25, lw=0.8, label="loss per batch")
    ax.plot(lrs, smoothed, color="tab:blue", lw=1.8, label="smoothed loss")
    if len(lrs):
        low = int(np.argmin(smoothed))
        ax.plot(lrs[low], smoothed[low], "ko", ms=5,
                label=f"lowest smoothed loss, lr {lrs[low]:.2g}")
        ax.set_ylim(0, 1.1 * float(np.max(smoothed)))
    for rule, lr in result.candidates.items():
        if lr is None:
            continue
        style, colour = _STYLES.get(rule, ("-.", "tab:gray"))
        chosen = rule == result.rule
        ax.axvline(lr, color=colour, ls="-" if chosen else style, lw=2 if chosen else 1.2,
                   label=f"{'suggestion' if chosen else 'other rule'} ({rule}): lr {lr:.2g}")
    ax.set_xscale("log")
    ax.set(xlabel="learning rate (log scale)", ylabel="training loss",
           title="learning-rate range test" + ("" if result.suggestion is not None
                                               else " (no suggestion: the loss never fell)"))
    plain_numbers(ax)
    ax.grid(True, alpha=0.3)
    ax.legend(fontsize=8, loc="upper left")
    return save_figure(fig, path)


__all__ = ["plot_lr_find"]
