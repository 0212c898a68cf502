"""Measuring a layer that does not describe itself (a user's layer): built from its
configuration and run forward and backward on batches of random samples. The output shape is
read from the output; the memory a sample costs is what ``tracemalloc`` sees NumPy allocate,
the difference between two batch sizes, per sample (arrays the layer holds after forward are
its cache). Results are kept per (class, configuration, input shape).
"""
from __future__ import annotations

import json
import tracemalloc
from dataclasses import dataclass
from typing import Any

import numpy as np

from .layer_costs import LayerMemory, ShapeMismatch

PROBE_BATCHES = (16, 48)   # large enough that NumPy's small-array cache does not hide them


@dataclass(frozen=True)
class Probed:
    out: tuple[int, ...]
    memory: LayerMemory


_PROBES: dict[tuple[type, str, tuple[int, ...]], Probed] = {}
_SHAPES: dict[tuple[type, str, tuple[int, ...]], tuple[int, ...]] = {}


def _arrays_bytes(layer: Any, skip: set[int]) -> tuple[int, set[int]]:
    """Bytes of the ndarrays a layer and its sub-layers hold in attributes (not parameters or
    buffers), and their ids."""
    total, ids = 0, set()
    for m in layer.modules():
        for value in vars(m).values():
            items = value if isinstance(value, (list, tuple)) else (value,)
            for a in items:
                while isinstance(a, np.ndarray) and isinstance(a.base, np.ndarray):
                    a = a.base                       # a view: count the array it views
                if isinstance(a, np.ndarray) and id(a) not in skip and id(a) not in ids:
                    ids.add(id(a))
                    total += a.nbytes
    return total, ids


def _build_probe(cls: type, config: dict[str, Any]) -> Any:
    layer = cls.from_config(config, np.random.default_rng(0))
    layer.train()
    return layer


def _forward(layer: Any, x: np.ndarray, shape: tuple[int, ...]) -> np.ndarray:
    """The layer's output on ``x``; ShapeMismatch when the forward refuses it."""
    try:
        y = layer.forward(x)
    except (ValueError, TypeError, IndexError) as exc:
        raise ShapeMismatch(f"an input its forward accepts (N, {', '.join(map(str, shape))}) "
                            f"failed: {str(exc)[:120]}") from None
    if not isinstance(y, np.ndarray) or y.ndim < 1 or y.shape[0] != x.shape[0]:
        raise ShapeMismatch(f"an input its forward maps to (N, ...) arrays; it gave "
                            f"{getattr(y, 'shape', type(y).__name__)}")
    return y


def measure_shape(cls: type, config: dict[str, Any], shape: tuple[int, ...]) -> tuple[int, ...]:
    key = (cls, json.dumps(config, sort_keys=True), shape)
    if key not in _SHAPES:
        x = np.random.default_rng(0).standard_normal((PROBE_BATCHES[0], *shape))
        y = _forward(_build_probe(cls, config), x.astype(np.float32), shape)
        _SHAPES[key] = tuple(int(v) for v in y.shape[1:])
    return _SHAPES[key]


def measure(cls: type, config: dict[str, Any], shape: tuple[int, ...]) -> Probed:
    key = (cls, json.dumps(config, sort_keys=True), shape)
    if key in _PROBES:
        return _PROBES[key]
    layer = _build_probe(cls, config)
    held = {id(p.data) for p in layer.parameters()} | {id(b) for b in layer.buffers()}
    gen = np.random.default_rng(0)
    found = []
    for n in PROBE_BATCHES:
        x = gen.standard_normal((n, *shape)).astype(np.float32)
        tracemalloc.start()
        try:
            y = _forward(layer, x, shape)
            cached, ids = _arrays_bytes(layer, held | {id(x)})
            keeps_input = any(a is x for m in layer.modules() for v in vars(m).values()
                              for a in (v if isinstance(v, (list, tuple)) else (v,)))
            # The output is the next layer's to keep (counted there, if it keeps it), unless
            # this layer holds it itself (then it is in ``cached``) or it views the input.
            base = y
            while isinstance(base.base, np.ndarray):
                base = base.base
            fresh = 0 if base is x or id(base) in ids else y.nbytes
            layer.zero_grad()
            layer.backward(np.ones_like(y))
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
        found.append((y.shape[1:], cached, peak - fresh, keeps_input))
    (out, c2, p2, keeps), (_, c4, p4, _) = found
    per = PROBE_BATCHES[1] - PROBE_BATCHES[0]
    cache = max(0, (c4 - c2) // per)
    # moment: what backward holds beside the caches (the upstream gradient, dL/dx, temporaries)
    memory = LayerMemory(cache=cache, moment=max(0, (p4 - p2) // per - cache), keeps_input=keeps)
    _PROBES[key] = result = Probed(tuple(int(v) for v in out), memory)
    return result


__all__ = ["PROBE_BATCHES", "Probed", "measure", "measure_shape"]
