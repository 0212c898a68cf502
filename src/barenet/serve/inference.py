"""Prediction for the server: input validation, one locked forward pass, and a compact summary of
every hidden layer's activations, of where a vision transformer's class token attends, and of
the first layer's weights, sized for a web page.

Layers cache their input in ``forward`` (for ``backward``), so a model must not run in two
threads at once: ``Predictor`` serialises every forward pass with a lock.
"""
from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from ..errors import ImageError
from ..nn.architecture import describe as describe_model
from ..nn.attention import MultiheadAttention
from ..nn.functional import softmax
from ..nn.module import Module
from ..nn.patch import PatchEmbedding
from ..nn.sequential import Sequential
from ..nn.summary import summarize as model_summary
from .weights_view import DIGITS, MAX_UNITS, first_layer_images, first_weighted, input_weights

MAX_VALUES = 4096  # numbers sent per layer (after downsampling)
MAX_MAPS = 16      # feature maps sent per conv layer
MAX_STEPS = 64     # rows of a sequence sent (longer ones are averaged over neighbouring steps)
MAX_HEADS = 8      # attention heads sent one by one per layer
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


def _weighted(layer: Module) -> bool:
    """A layer that starts a block: it has parameters and is not a normalisation (its
    ``ROLE``, declared beside its maths)."""
    return bool(layer.parameters()) and layer.ROLE != "norm"


def _passthrough(layer: Module, before: np.ndarray, after: np.ndarray) -> bool:
    """A layer that only moves numbers around at inference: dropout, identity, a reshape."""
    return layer.ROLE == "passthrough" or (
        not layer.parameters() and before.size == after.size and before.shape != after.shape)


def shown_layers(chain: list[tuple[str, Module]], x: np.ndarray,
                 outs: list[np.ndarray]) -> list[tuple[int, str]]:
    """Which outputs to show, as (index, label): one per block, a block being a weighted layer
    (Linear, Conv2d) with what follows it up to the next weighted layer (norm, activation,
    pooling). A block's output is its last layer's, ignoring dropout and reshapes (so conv
    maps keep their shape) and selections (``ROLE == "selection"``, e.g. ``SelectStep``: a
    sequence model's block shows every step, not the one step it keeps); the block producing the logits is not shown. The label names the block's
    layers, e.g. ``Conv2d → MaxPool2d → ReLU``."""
    def skip(i: int) -> bool:
        return chain[i][1].ROLE == "selection" or \
            _passthrough(chain[i][1], outs[i - 1] if i else x, outs[i])

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


def _block_mean(a: np.ndarray, fh: int, fw: int) -> np.ndarray:
    """Average ``a`` (..., H, W) over fh x fw blocks (edges repeated to fill the last block)."""
    if fh == fw == 1:
        return a
    h, w = a.shape[-2:]
    pad = [(0, 0)] * (a.ndim - 2) + [(0, -h % fh), (0, -w % fw)]
    b = np.pad(a, pad, mode="edge")
    blocks = b.reshape(*b.shape[:-2], b.shape[-2] // fh, fh, b.shape[-1] // fw, fw)
    return blocks.mean(axis=(-3, -1))


def summarize(values: np.ndarray, max_values: int = MAX_VALUES, max_maps: int = MAX_MAPS,
              max_steps: int = MAX_STEPS) -> dict:
    """One sample's layer output as JSON-ready data, by its number of dimensions:

    - (C, H, W) feature maps, kind "maps": at most ``max_maps`` channels, average-pooled until
      they fit ``max_values``;
    - (T, F) a sequence (time steps or tokens, each F features), kind "sequence": a T x F heat
      map; more than ``max_steps`` steps are averaged in groups of ``step`` neighbours, and the
      first features are kept that fit ``max_values``;
    - anything else, kind "dense": flattened and cut to ``max_values``.

    ``shape`` is the shape of ``values`` as sent, ``full_shape`` the layer's real output shape
    (without the batch)."""
    a = np.nan_to_num(np.asarray(values, dtype=np.float64))
    full = list(a.shape)
    extra: dict[str, Any] = {}
    if a.ndim == 3:
        c, h, w = a.shape
        a = a[: min(c, max_maps)]
        f = 1
        while a.shape[0] * math.ceil(h / f) * math.ceil(w / f) > max_values:
            f += 1
        a = _block_mean(a, f, f)
        kind = "maps"
    elif a.ndim == 2 and a.size:
        step = math.ceil(a.shape[0] / max_steps)
        a = _block_mean(a, step, 1)
        a = a[:, : max(1, max_values // a.shape[0])]
        kind, extra = "sequence", {"step": step}
    else:
        a = a.reshape(-1)[:max_values]
        kind = "dense"
    return {"kind": kind, "shape": list(a.shape), "full_shape": full, **extra,
            "min": round(float(a.min()), DIGITS) if a.size else 0.0,
            "max": round(float(a.max()), DIGITS) if a.size else 0.0,
            "values": np.round(a, DIGITS).reshape(-1).tolist()}


def patch_grid(chain: list[tuple[str, Module]] | None) -> tuple[int, int] | None:
    """(g, p) of the model's first ``PatchEmbedding``: the picture is cut into g x g patches of
    p x p pixels, token 0 being the class token; None without one."""
    for _, layer in (chain or []):
        if isinstance(layer, PatchEmbedding):
            return layer.image_size // layer.patch_size, layer.patch_size
    return None


def attention_layers(
        chain: list[tuple[str, Module]] | None) -> list[tuple[str, MultiheadAttention]]:
    """Each self-attention of the chain, as (label, attention): a ``MultiheadAttention`` leaf,
    or a layer holding one as ``self_attn`` (``TransformerEncoderLayer``)."""
    found = []
    for name, layer in (chain or []):
        mha = layer if isinstance(layer, MultiheadAttention) else getattr(layer, "self_attn", None)
        if isinstance(mha, MultiheadAttention):
            found.append((f"{name} {type(layer).__name__}", mha))
    return found


def class_attention(label: str, per_head: np.ndarray, grid: int, patch: int,
                    max_heads: int = MAX_HEADS) -> dict | None:
    """Where the class token looks, from one layer's weights ``per_head`` (heads, T, T) for one
    picture: row 0 (the class token's query) averaged over heads, the part over the g x g
    patches as a grid. -> {"layer", "grid", "patch", "cls" (the weight on itself), "weights"
    (g rows of g), "heads" (the same grid per head, at most ``max_heads``)}; the weights and
    "cls" sum to 1. None if the tokens are not a class token and g * g patches."""
    if per_head.ndim != 3 or per_head.shape[-1] != 1 + grid * grid:
        return None
    row = np.nan_to_num(per_head[:, 0].astype(np.float64))       # (heads, 1 + g*g)
    mean = row.mean(axis=0)

    def cells(r: np.ndarray) -> list:
        return np.round(r[1:].reshape(grid, grid), 6).tolist()

    return {"layer": label, "grid": grid, "patch": patch, "cls": round(float(mean[0]), 6),
            "weights": cells(mean), "heads": [cells(h) for h in row[:max_heads]],
            "num_heads": int(row.shape[0])}


def parse_pixels(pixels: Any, size: int = 28) -> np.ndarray:
    """Validate JSON pixels: size*size numbers (flat or ``size`` rows; 784 or 28 rows of 28 for
    MNIST) in 0..255, MNIST-style (ink light on a dark background, already centred).
    Non-integers are rounded. -> uint8 (size, size). Raises ImageError with a one-line reason."""
    n = size * size
    if not isinstance(pixels, list):
        raise ImageError(f"'pixels' must be a list of {n} numbers, got {type(pixels).__name__}")
    flat = pixels
    if len(pixels) == size and all(isinstance(r, list) for r in pixels):
        flat = [v for row in pixels for v in row]
    if len(flat) != n:
        raise ImageError(f"'pixels' must hold {n} numbers ({size}x{size}), got {len(flat)}")
    bad = [v for v in flat if type(v) not in (int, float)]
    if bad:
        raise ImageError(f"'pixels' must be numbers, got {type(bad[0]).__name__}: {str(bad[0])[:20]!r}")
    arr = np.asarray(flat, dtype=np.float64)
    if not np.all(np.isfinite(arr)):
        raise ImageError("'pixels' must be finite numbers, got NaN or infinity")
    if arr.min() < 0 or arr.max() > 255:
        raise ImageError(f"'pixels' must lie in 0..255, got {arr.min():g}..{arr.max():g}")
    img = np.rint(arr).astype(np.uint8).reshape(size, size)
    if not img.any():
        raise ImageError("'pixels': the picture is empty (no ink)")
    return img


def png_to_mnist(data: bytes, style: str = "digit", size: int = 28) -> np.ndarray:
    """Decode a picture's bytes and preprocess it exactly as ``barenet predict`` does:
    gray, inverted if light, cropped, then drawn in the dataset's ``style`` at ``size``
    (a digit: fitted to 20x20, centred in 28x28). -> uint8 (size, size).
    Pictures over ``MAX_PIXELS`` pixels are refused (a small PNG can hide a huge image); the
    others are reduced to ``images.WORK_SIDE`` pixels a side while decoded."""
    from ..data.images import from_bytes, to_style

    return to_style(from_bytes(data, name="upload", max_pixels=MAX_PIXELS), style, size)


def picture_facts(run: Any) -> tuple[str, int]:
    """(picture style, image side) of a run: its dataset's facts, ("digit", 28) when it has
    none (a stand-in run)."""
    spec = getattr(run, "dataset_spec", None)
    if spec is None:
        return "digit", int(getattr(run, "image_size", 28))
    return spec.picture_style, int(getattr(run, "image_size", spec.image_size[0]))


class Predictor:
    """Thread-safe inference on a loaded run (``.model``, ``.normalize``, ``.classes``)."""

    def __init__(self, run: Any) -> None:
        self.run = run
        self.model: Module = run.model
        self.classes: list[str] = list(run.classes)
        self.lock = threading.Lock()
        self.chain = layer_chain(self.model)
        self.grid = patch_grid(self.chain)
        self.attention = attention_layers(self.chain) if self.grid else []
        self.model.eval()
        self.style, self.size = picture_facts(run)

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
        class), ``input`` (the 784 pixels 0..255 the network saw, row-major),
        ``activations`` ({"<layer> <Type>": ``summarize`` output + ``label`` (+ ``rows``,
        "tokens" or "steps", for a sequence)}, one per block, see ``shown_layers``) and
        ``attention`` (a vision transformer's: one ``class_attention`` per self-attention
        layer, in order; [] for other models)."""
        with self.lock:
            inp, logits, outs = self._forward(image[None])
            outs = [o.copy() for o in outs]
            heads = [(label, mha.attn_weights_per_head) for label, mha in self.attention]
            heads = [(label, w[0].copy()) for label, w in heads if w is not None]
        probs = softmax(logits.astype(np.float64), axis=-1)[0]
        k = int(np.argmax(probs))
        activations = {}
        if self.chain is not None:
            for i, label in shown_layers(self.chain, inp, outs):
                name, layer = self.chain[i]
                entry = summarize(outs[i][0])
                entry["label"] = label
                if entry["kind"] == "sequence":
                    entry["rows"] = "tokens" if self.grid else "steps"
                activations[f"{name} {type(layer).__name__}"] = entry
        attention = [a for a in (class_attention(label, w, *self.grid) for label, w in heads)
                     if a is not None] if self.grid else []
        return {"prediction": k, "label": self.classes[k],
                "probabilities": [round(float(p), 6) for p in probs],
                "input": image.reshape(-1).astype(int).tolist(),
                "activations": activations, "attention": attention}

    def describe(self) -> list[dict]:
        """Each leaf layer: name, type, repr, parameter count, output shape (without the
        batch), bytes kept per sample for backward: the model's summary (``nn/summary.py``),
        read from the layers' records."""
        blank = np.zeros((1, self.size, self.size), dtype=np.uint8)
        shape = tuple(self.run.normalize(blank).shape[1:])      # what the model takes
        rows = model_summary(describe_model(self.model), shape).rows
        layers = dict(self.chain or [("", self.model)])
        return [{"name": r.name or "model", "type": r.type, "repr": repr(layers[r.name]),
                 "parameters": r.parameters, "output_shape": list(r.output_shape),
                 "kept_bytes": r.kept_bytes} for r in rows]

    def weights(self, max_units: int = MAX_UNITS) -> dict | None:
        """The first weighted layer's weights as small images: see ``first_layer_images``."""
        first = first_weighted(self.chain)
        return None if first is None else first_layer_images(
            first[0], first[1], input_weights(first[1], first[2]), max_units)
