"""first_layer_weights.png: what each unit of the first layer looks for, drawn as images."""
from __future__ import annotations

import math
import os
from pathlib import Path
from typing import Any

import numpy as np

from .figures import new_figure, save_figure


def first_layer_filters(model: Any) -> tuple[str, np.ndarray] | None:
    """The first weighted layer of ``model`` as tiles: ("linear"|"conv"|"patch", (n, h, w)).

    Linear (h, 784) gives h tiles of 28x28; Conv2d (C_out, C_in, kH, kW) gives C_out kernels
    and PatchEmbedding (E, C, p, p) E patch filters (both averaged over input channels). None
    when the first layer with parameters is none of these (an LSTM, say) or its shape doesn't
    fit.
    """
    for _, mod in model.named_modules():
        if not mod._parameters:
            continue
        kind = {"Linear": "linear", "Conv2d": "conv", "PatchEmbedding": "patch"}.get(
            type(mod).__name__)
        w = getattr(getattr(mod, "weight", None), "data", None)
        if kind is None or w is None:
            return None
        w = np.asarray(w, dtype=np.float64)
        if w.ndim == 4:
            return kind, w.mean(axis=1)
        side = int(round(math.sqrt(w.shape[1])))
        if w.ndim == 2 and side * side == w.shape[1]:
            return "linear", w.reshape(w.shape[0], side, side)
        return None
    return None


def plot_first_layer(model: Any, path: str | os.PathLike, max_tiles: int = 64) -> Path | None:
    """The first layer's weights as images ("what each unit looks for"); None if not drawable."""
    found = first_layer_filters(model)
    if found is None:
        return None
    kind, tiles = found
    total = len(tiles)
    tiles = tiles[:max_tiles]
    cols = math.ceil(math.sqrt(len(tiles)))
    rows = math.ceil(len(tiles) / cols)
    fig = new_figure(1.1 * cols + 0.4, 1.1 * rows + 0.6)
    axes = np.atleast_1d(fig.subplots(rows, cols)).ravel()
    for ax in axes:
        ax.axis("off")
    for ax, t in zip(axes, tiles):
        lim = float(np.abs(t).max()) or 1.0
        ax.imshow(t, cmap="seismic", vmin=-lim, vmax=lim, interpolation="nearest")
    side = f"{tiles.shape[1]}x{tiles.shape[2]}"
    what = {"linear": f"hidden units (input weights as {side})", "conv": "convolution kernels",
            "patch": f"patch filters ({side})"}[kind]
    shown = f"{total}" if total == len(tiles) else f"first {len(tiles)} of {total}"
    fig.suptitle(f"first layer: {shown} {what}; red +, blue -", fontsize=10)
    return save_figure(fig, path)
