"""Prediction for the server: input validation, one locked forward pass, and a compact summary of
every hidden layer's activations and of the first layer's weights, sized for a web page.

Layers cache their input in ``forward`` (for ``backward``), so a model must not run in two
threads at once: ``Predictor`` serialises every forward pass with a lock.
"""
from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from ..errors import ImageError
from ..nn.functional import softmax
from ..nn.module import Module
from ..nn.sequential import Sequential

MAX_VALUES = 4096  # numbers sent per layer (after downsampling)
MAX_MAPS = 16      # feature maps sent per conv layer
MAX_UNITS = 64     # first-layer units / filters sent by ``weights()``
DIGITS = 4         # decimals kept in the JSON
MAX_PIXELS = 4_000_000  # largest uploaded picture decoded (a 2000x2000 drawing)


def layer_chain(model: Module) -> list[tuple[str, Module]] | None:
    """The leaf layers of a (possibly nested) ``Sequential`` in execution order, with dotted names;
    None if ``model`` is not a Sequential (then no per-layer activations are shown)."""
    if not isinstance(model, Sequential):
        return None
    chain: list[tuple[str, Module]] = []

    def walk(seq: Sequential, prefix: str) -> None:
        for name, child in seq._modules.items():
            full = f"{prefix}{name}"
            if isinstance(child, Sequential):
                walk(child, full + ".")
            else:
                chain.append((full, child))

    walk(model, "")
    return chain


PASSTHROUGH = {"Flatten", "Unflatten", "Dropout", "Dropout2d", "Identity"}


def _weighted(layer: Module) -> bool:
    """A layer that starts a block: it has parameters and is not a normalisation."""
    return bool(layer.parameters()) and "Norm" not in type(layer).__name__


def _passthrough(layer: Module, before: np.ndarray, after: np.ndarray) -> bool:
    """A layer that only moves numbers around at inference: dropout, identity, a reshape."""
    return type(layer).__name__ in PASSTHROUGH or (
        not layer.parameters() and before.size == after.size and before.shape != after.shape)


def shown_layers(chain: list[tuple[str, Module]], x: np.ndarray,
                 outs: list[np.ndarray]) -> list[tuple[int, str]]:
    """Which outputs to show, as (index, label): one per block, a block being a weighted layer
    (Linear, Conv2d) with what follows it up to the next weighted layer (norm, activation,
    pooling). A block's output is its last layer's, ignoring dropout and reshapes (so conv
    maps keep their shape); the block producing the logits is not shown. The label names
    the block's layers, e.g. ``Conv2d → MaxPool2d → ReLU``."""
    def skip(i: int) -> bool:
        return _passthrough(chain[i][1], outs[i - 1] if i else x, outs[i])

    picked: list[tuple[int, str]] = []
    start = 0
    for j, (_, layer) in enumerate(chain):
        if j == 0 or not _weighted(layer):
            continue
        k = j - 1
        while k > start and skip(k):
            k -= 1
        names = [type(chain[i][1]).__name__ for i in range(start, k + 1) if not skip(i)]
        if names and not skip(k):
            picked.append((k, " → ".join(names)))
        start = j
    return picked


def summarize(values: np.ndarray, max_values: int = MAX_VALUES, max_maps: int = MAX_MAPS) -> dict:
    """One sample's layer output as JSON-ready data: feature maps (C, H, W) keep at most
    ``max_maps`` channels and are average-pooled until they fit ``max_values``; anything else is
    flattened and cut to ``max_values``. ``shape`` is the shape of ``values`` as sent,
    ``full_shape`` the layer's real output shape (without the batch)."""
    a = np.nan_to_num(np.asarray(values, dtype=np.float64))
    full = list(a.shape)
    if a.ndim == 3:
        c, h, w = a.shape
        a = a[: min(c, max_maps)]
        f = 1
        while a.shape[0] * math.ceil(h / f) * math.ceil(w / f) > max_values:
            f += 1
        if f > 1:
            ph, pw = -h % f, -w % f
            padded = np.pad(a, ((0, 0), (0, ph), (0, pw)), mode="edge")
            n = padded.shape[0]
            a = padded.reshape(n, padded.shape[1] // f, f, padded.shape[2] // f, f).mean(axis=(2, 4))
        kind = "maps"
    else:
        a = a.reshape(-1)[:max_values]
        kind = "dense"
    return {"kind": kind, "shape": list(a.shape), "full_shape": full,
            "min": round(float(a.min()), DIGITS) if a.size else 0.0,
            "max": round(float(a.max()), DIGITS) if a.size else 0.0,
            "values": np.round(a, DIGITS).reshape(-1).tolist()}


def parse_pixels(pixels: Any) -> np.ndarray:
    """Validate JSON pixels: 784 numbers (flat or 28 rows of 28) in 0..255, MNIST-style (ink
    light on a dark background, already centred). Non-integers are rounded. -> uint8 (28, 28).
    Raises ImageError with a one-line reason."""
    if not isinstance(pixels, list):
        raise ImageError(f"'pixels' must be a list of 784 numbers, got {type(pixels).__name__}")
    flat = pixels
    if len(pixels) == 28 and all(isinstance(r, list) for r in pixels):
        flat = [v for row in pixels for v in row]
    if len(flat) != 784:
        raise ImageError(f"'pixels' must hold 784 numbers (28x28), got {len(flat)}")
    bad = [v for v in flat if type(v) not in (int, float)]
    if bad:
        raise ImageError(f"'pixels' must be numbers, got {type(bad[0]).__name__}: {str(bad[0])[:20]!r}")
    arr = np.asarray(flat, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ImageError("'pixels' must be finite numbers, got NaN or infinity")
    if arr.min() < 0 or arr.max() > 255:
        raise ImageError(f"'pixels' must lie in 0..255, got {arr.min():g}..{arr.max():g}")
    img = np.rint(arr).astype(np.uint8).reshape(28, 28)
    if not img.any():
        raise ImageError("'pixels': the picture is empty (no ink)")
    return img


def png_to_mnist(data: bytes) -> np.ndarray:
    """Decode a picture's bytes and preprocess it exactly as ``barenet predict`` does:
    gray, inverted if light, cropped, fitted to 20x20, centred in 28x28. -> uint8 (28, 28).
    Pictures over ``MAX_PIXELS`` pixels are refused (a small PNG can hide a huge image); the
    others are reduced to ``images.WORK_SIDE`` pixels a side while decoded."""
    from ..data.images import from_bytes, to_mnist

    return to_mnist(from_bytes(data, name="upload", max_pixels=MAX_PIXELS))


class Predictor:
    """Thread-safe inference on a loaded run (``.model``, ``.normalize``, ``.classes``)."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.model: Module = run.model
        self.classes: list[str] = list(run.classes)
        self.lock = threading.Lock()
        self.chain = layer_chain(self.model)
        self.model.eval()
        probe = np.zeros((1, 28, 28), dtype=np.uint8)
        probe[0, 10:18, 12:16] = 255
        with self.lock:
            self._outs = self._forward(probe)[2]

    def _forward(self, images: np.ndarray) -> tuple[np.ndarray, np.ndarray, list[np.ndarray]]:
        """uint8 (B, 28, 28) -> (model input, logits (B, 10), each leaf layer's output);
        the caller holds the lock."""
        x = inp = self.run.normalize(images)
        if self.chain is None:
            return inp, self.model(x), []
        outs = []
        for _, layer in self.chain:
            x = layer(x)
            outs.append(x)
        return inp, x, outs

    def predict(self, image: np.ndarray) -> dict:
        """uint8 (28, 28) MNIST-style picture -> the JSON answer of ``POST /api/predict``:
        ``prediction`` (class index), ``label`` (its name), ``probabilities`` (softmax, one per
        class), ``input`` (the 784 pixels 0..255 the network saw, row-major) and
        ``activations`` ({"<layer> <Type>": ``summarize`` output + ``label``}, one per block,
        see ``shown_layers``)."""
        with self.lock:
            inp, logits, outs = self._forward(image[None])
            outs = [o.copy() for o in outs]
        probs = softmax(logits.astype(np.float64), axis=-1)[0]
        k = int(np.argmax(probs))
        activations = {}
        if self.chain is not None:
            for i, label in shown_layers(self.chain, inp, outs):
                name, layer = self.chain[i]
                entry = summarize(outs[i][0])
                entry["label"] = label
                activations[f"{name} {type(layer).__name__}"] = entry
        return {"prediction": k, "label": self.classes[k],
                "probabilities": [round(float(p), 6) for p in probs],
                "input": image.reshape(-1).astype(int).tolist(),
                "activations": activations}

    def describe(self) -> list[dict]:
        """Each leaf layer: name, type, repr, parameter count, output shape (without the batch)."""
        if self.chain is None:
            return [{"name": "model", "type": type(self.model).__name__, "repr": repr(self.model),
                     "parameters": self.model.num_parameters(), "output_shape": [10]}]
        return [{"name": name, "type": type(layer).__name__, "repr": repr(layer),
                 "parameters": layer.num_parameters(), "output_shape": list(out.shape[1:])}
                for (name, layer), out in zip(self.chain, self._outs)]

    def weights(self, max_units: int = MAX_UNITS) -> dict | None:
        """The first weighted layer's weights as small images: see ``first_layer_images``."""
        first = first_weighted(self.chain)
        return None if first is None else first_layer_images(first[0], first[1],
                                                             first[1].weight.data, max_units)


def first_weighted(chain: list[tuple[str, Module]] | None) -> tuple[str, Module] | None:
    """The first leaf layer with a ``weight`` parameter, as (dotted name, layer), or None."""
    for name, layer in (chain or []):
        if getattr(getattr(layer, "weight", None), "data", None) is not None:
            return name, layer
    return None


def first_layer_images(name: str, layer: Module, w: np.ndarray,
                       max_units: int = MAX_UNITS) -> dict | None:
    """Weights ``w`` shaped like ``layer.weight`` (the weights themselves, or how they changed)
    as small images: a Linear on 784 inputs gives one 28x28 image per unit, a conv gives one
    kH x kW image per filter (averaged over input channels). At most ``max_units``; None if
    the layer is neither. -> {"layer", "kind", "count", "shape", "values"}."""
    if w.ndim == 2 and w.shape[1] == 784:
        imgs, kind = w.reshape(-1, 28, 28), "dense"
    elif w.ndim == 4:
        imgs, kind = w.mean(axis=1), "conv"
    else:
        return None
    shown = imgs[:max_units].astype(np.float64)
    return {"layer": f"{name} {type(layer).__name__}", "kind": kind,
            "count": int(imgs.shape[0]), "shape": list(shown.shape),
            "values": np.round(shown, DIGITS).reshape(-1).tolist()}
