"""What a training step of a described model costs in memory, per sample, added up from each
layer's own record (``step_memory``, beside its maths; a layer of your own is measured by a
probe): the caches forward keeps for backward, the work arrays kept between steps, and the
largest set of arrays alive at once inside one layer's forward or backward.
``train/memory.py`` turns this into a whole training's estimate; ``summary.py`` shows it.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

from .architecture_shapes import shapes
from .layer_record import FLOAT, LayerMemory
from .registry import layer_class


def costs_per_layer(architecture: dict[str, Any], input_shape: Sequence[int]
                ) -> list[tuple[str, dict[str, Any], tuple[int, ...], tuple[int, ...],
                                LayerMemory]]:
    """(position, layer description, input shape, output shape, what a step costs) of each
    layer, per sample, each layer asked for its own (``step_memory``, beside its maths; a
    layer of your own is measured)."""
    return [(path, d, shape, out,
             layer_class(d["type"]).step_memory(d["args"], shape, out, first=i == 0))
            for i, (path, d, shape, out) in enumerate(shapes(architecture, tuple(input_shape)))]


def kept_bytes(cost: LayerMemory, shape: tuple[int, ...], first: bool) -> int:
    """Bytes per sample a layer keeps from forward to backward: its cache, and its input when
    it holds it (a first layer's input is the batch, not counted here)."""
    return cost.cache + (FLOAT * math.prod(shape) if cost.keeps_input and not first else 0)


def step_bytes_per_sample(architecture: dict[str, Any], input_shape: Sequence[int]) -> int:
    """Bytes one more sample in the batch costs a training step (forward, loss, backward)
    of a validated ``architecture`` taking ``input_shape`` per sample; the input batch itself
    is not counted."""
    kept = work = peak = 0
    shape = tuple(input_shape)
    for i, (_, _, shape, out, cost) in enumerate(costs_per_layer(architecture, input_shape)):
        kept += kept_bytes(cost, shape, first=i == 0)
        work += cost.work
        peak = max(peak, cost.moment + cost.cache)  # the new cache exists beside the old one
        shape = out
    logits = FLOAT * math.prod(shape)
    return kept + work + peak + 4 * logits   # logits, softmax, its gradient, argmax


def step_fixed_bytes(architecture: dict[str, Any], input_shape: Sequence[int]) -> int:
    """Bytes of a training step that do not grow with the batch (e.g. the block of dL/dcols
    that every convolution but a first layer's makes at a time)."""
    return sum(cost.fixed for *_, cost in costs_per_layer(architecture, input_shape))


def eval_bytes_per_sample(architecture: dict[str, Any], input_shape: Sequence[int]) -> int:
    """Bytes one more sample costs a forward pass in eval mode (conv work arrays are fresh
    each batch, nothing is kept for backward)."""
    peak = 0
    for _, _, shape, out, cost in costs_per_layer(architecture, input_shape):
        moment = cost.eval_moment
        peak = max(peak, FLOAT * (math.prod(shape) + math.prod(out)) if moment is None
                   else moment)
    return peak


__all__ = ["eval_bytes_per_sample", "kept_bytes", "costs_per_layer", "step_bytes_per_sample",
           "step_fixed_bytes"]
