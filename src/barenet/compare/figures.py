"""The figure of ``barenet compare``: both libraries' training curves on shared axes."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

from ..figures import new_figure, plain_numbers, save_figure, whole_number_ticks


def plot_comparison(result: dict, path: str | os.PathLike) -> Path:
    """comparison.png: per-batch training loss (moving average), |barenet - PyTorch| per batch,
    per-epoch training loss and accuracies; ``result`` is ``run_comparison``'s dict."""
    fig = new_figure(18, 4)
    ax_b, ax_d, ax_l, ax_a = fig.subplots(1, 4)
    styles = {"barenet": ("tab:blue", "-"), "pytorch": ("tab:orange", "--")}
    for lib, (color, ls) in styles.items():
        r = result[lib]
        losses = np.asarray(r["batch_losses"], dtype=np.float64)
        if losses.size:
            k = max(1, losses.size // 200)
            smooth = np.convolve(losses, np.ones(k) / k, mode="valid")
            ax_b.plot(np.arange(smooth.size) + k, smooth, color=color, ls=ls, label=lib)
        ep = [e["epoch"] for e in r["epochs"]]
        ax_l.plot(ep, [e["train_loss"] for e in r["epochs"]], "o", color=color, ls=ls, label=lib)
        ax_a.plot(ep, [e["train_acc"] for e in r["epochs"]], "o", color=color, ls=ls,
                  label=f"{lib} train")
        ax_a.plot(ep, [e["test_acc"] for e in r["epochs"]], "s", color=color, ls=":",
                  label=f"{lib} test")
    diff = np.abs(np.subtract(result["barenet"]["batch_losses"],
                              result["pytorch"]["batch_losses"], dtype=np.float64))
    if diff.size:
        ax_d.semilogy(np.arange(1, diff.size + 1), np.maximum(diff, 1e-9), ".", markersize=2)
    ax_d.set(title="|barenet - PyTorch| batch loss", xlabel="batch",
             ylabel="difference (0 drawn at 1e-9)")
    ax_b.set(title="training loss per batch (moving average)", xlabel="batch", ylabel="loss")
    ax_l.set(title="training loss per epoch", xlabel="epoch", ylabel="loss")
    ax_a.set(title="accuracy", xlabel="epoch", ylabel="accuracy")
    for ax in (ax_b, ax_l, ax_a):
        ax.legend(fontsize=8)
    for ax in (ax_l, ax_a):
        whole_number_ticks(ax.xaxis)
        plain_numbers(ax)             # equal losses read as equal, not as 1e-8+2.164479e-1
    for ax in (ax_b, ax_d, ax_l, ax_a):
        ax.grid(True, alpha=0.3)
    cfg = result["config"]
    tb, tt = result["barenet"]["train_seconds"], result["pytorch"]["train_seconds"]
    fig.suptitle(f"{cfg['model']} on {cfg['dataset']} ({cfg['train_examples']} training images): "
                 f"barenet {tb:.1f}s, PyTorch {tt:.1f}s of training", fontsize=10)
    return save_figure(fig, path)
