"""The first layer's weights as small images for the page ("what each unit looks for"), and
how they moved in a learning step: dense units, conv filters, patch filters, recurrent gates."""
from __future__ import annotations

import math

import numpy as np

from ..nn.module import Module

MAX_UNITS = 64     # first-layer units / filters sent
DIGITS = 4         # decimals kept in the JSON


def first_weighted(chain: list[tuple[str, Module]] | None) -> tuple[str, Module, str] | None:
    """The first leaf layer that weighs its input, as (dotted name, layer, parameter name):
    its ``weight``, or a recurrent layer's input weights ``weight_ih_l0``; None if none."""
    for name, layer in (chain or []):
        for key in ("weight", "weight_ih_l0"):
            if getattr(getattr(layer, key, None), "data", None) is not None:
                return name, layer, key
    return None


def input_weights(layer: Module, key: str) -> np.ndarray:
    """The weights ``first_layer_images`` draws: ``key``'s data; for a bidirectional recurrent
    layer, the backward direction's input weights (``key + "_reverse"``) stacked below."""
    w = getattr(layer, key).data
    reverse = getattr(layer, key + "_reverse", None)
    return w if reverse is None else np.concatenate([w, reverse.data])


def first_layer_images(name: str, layer: Module, w: np.ndarray,
                       max_units: int = MAX_UNITS) -> dict | None:
    """Weights ``w`` shaped like the layer's input weights (the weights themselves, or how they
    changed) as small images -> {"layer", "kind", "count", "shape" (n, h, w), "values"}:

    - "dense": a Linear on S*S inputs (a square picture's pixels), one S x S image per unit;
    - "conv": one kH x kW image per filter (averaged over input channels);
    - "patch": a layer whose ``WEIGHT_TILES`` says so (``PatchEmbedding``), one p x p image per
      feature (averaged over channels): the
      pattern each 7x7 patch is matched against;
    - "recurrent": a layer that names its gates (``GATE_NAMES``: RNN, LSTM, GRU), its
      ``weight_ih_l0`` (gates * H, F), one image per gate (``gates`` names them), a row per hidden unit, a column per input feature (the F
      pixels of an image row); ``count`` is H. A bidirectional layer's ``input_weights``
      give the backward direction's gates after the forward ones, named "... (backward)".

    At most ``max_units`` units or filters; None for any other layer."""
    gates, extra = list(getattr(layer, "GATE_NAMES", ())), {}
    side = math.isqrt(w.shape[1]) if w.ndim == 2 else 0
    if gates and w.ndim == 2 and w.shape[0] % len(gates) == 0:   # the layer names its gates
        names = gates
        if getattr(layer, "bidirectional", False):
            names = names + [f"{g} (backward)" for g in names]
        imgs = w.reshape(len(names), -1, w.shape[1])[:, :max_units]
        count, kind = w.shape[0] // len(names), "recurrent"
        extra = {"gates": names}
    elif w.ndim == 2 and side * side == w.shape[1] and side > 1:   # a square picture's pixels
        imgs, kind = w[:max_units].reshape(-1, side, side), "dense"
        count = w.shape[0]
    elif w.ndim == 4:
        imgs = w[:max_units].mean(axis=1)
        kind, count = getattr(layer, "WEIGHT_TILES", None) or "conv", w.shape[0]
    else:
        return None
    shown = imgs.astype(np.float64)
    return {"layer": f"{name} {type(layer).__name__}", "kind": kind, "count": int(count),
            "shape": list(shown.shape), **extra,
            "values": np.round(shown, DIGITS).reshape(-1).tolist()}
