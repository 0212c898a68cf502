"""Small nets around one layer for the tests generated from the registry: the layer, a
ScaleShift before it when its input is numbers, and a Flatten and a Linear to 10 classes after
it (what a run directory and an ONNX file of MNIST expect: one score per class)."""
from __future__ import annotations

import math
import tracemalloc

import numpy as np
from every_layer_cases import Reshape, ScaleShift, example, make, takes_ids

from barenet import nn

CLASSES = 10


def net(cls: type, seed: int = 0, before: bool = True) -> nn.Sequential:
    """(ScaleShift,) layer, Flatten, Linear(to 10), weights from ``seed``; the ScaleShift
    when ``before`` and the layer takes numbers."""
    config, shape = example(cls)
    out = cls.infer_shape(config, shape)
    layers = [] if takes_ids(cls) or not before else [ScaleShift(shape[0], rng=seed + 1)]
    layers += [make(cls, seed), nn.Flatten(), nn.Linear(math.prod(out), CLASSES, rng=seed + 2)]
    return nn.Sequential(*layers)


def mnist_net(cls: type, seed: int = 0) -> tuple[nn.Sequential, tuple[int, ...]]:
    """A net that a run directory of MNIST takes, and its per-sample input: (784,) numbers
    through a Linear and a Reshape to the layer's example input, the layer, Flatten and a
    Linear to 10; for a layer that takes ids, 784 ids straight into it."""
    config, shape = example(cls)
    if takes_ids(cls):
        out = cls.infer_shape(config, (784,))
        return nn.Sequential(make(cls, seed), nn.Flatten(),
                             nn.Linear(math.prod(out), CLASSES, rng=seed + 2)), (784,)
    out = cls.infer_shape(config, shape)
    return nn.Sequential(nn.Linear(784, math.prod(shape), rng=seed + 1), Reshape(list(shape)),
                         make(cls, seed), nn.Flatten(),
                         nn.Linear(math.prod(out), CLASSES, rng=seed + 2)), (784,)


MEMORY_VALUES = 1024     # per-sample input values the memory test aims for: the layer dominates


def memory_shape(cls: type) -> tuple[int, ...]:
    """The layer's example input grown along its first axis that can grow (steps, rows,
    height: the one its configuration does not fix) to about ``MEMORY_VALUES`` values, so
    that what the layer costs dominates a training step; the example as it is when no axis
    can grow (a Linear's features)."""
    config, shape = example(cls)
    k = math.ceil(MEMORY_VALUES / math.prod(shape))
    for axis in range(len(shape) if k > 1 else 0):
        grown = shape[:axis] + (shape[axis] * k,) + shape[axis + 1:]
        try:
            out = cls.infer_shape(config, grown)
            layer = make(cls)
            x = (np.zeros((2, *grown), np.int64) if takes_ids(cls)
                 else np.ones((2, *grown), np.float32))
            y = layer(x)
            layer.backward(np.ones_like(y))
        except (ValueError, TypeError, IndexError):     # ShapeMismatch is a ValueError
            continue
        if tuple(y.shape[1:]) == tuple(out):
            return grown
    return shape


def memory_net(cls: type, seed: int = 0) -> tuple[nn.Sequential, tuple[int, ...]]:
    """The net the memory test measures, and its per-sample input (``memory_shape``): a
    ScaleShift (a layer with parameters, so that backward reaches the layer under test and
    makes its dL/dx; a layer that takes ids is first itself), the layer, and the cheapest
    tail a run needs: Flatten (a view) and a Linear to 10 classes."""
    config, _ = example(cls)
    shape = memory_shape(cls)
    out = cls.infer_shape(config, shape)
    layers = [] if takes_ids(cls) else [ScaleShift(shape[0], rng=seed + 1)]
    layers += [make(cls, seed), nn.Flatten(), nn.Linear(math.prod(out), CLASSES, rng=seed + 2)]
    return nn.Sequential(*layers), shape


def memory_inputs(cls: type, shape: tuple[int, ...], batch: int, seed: int = 1) -> np.ndarray:
    """A batch of ``shape`` inputs: ids for an Embedding, numbers otherwise."""
    gen = np.random.default_rng(seed)
    if takes_ids(cls):
        return gen.integers(0, example(cls)[0]["num_embeddings"], (batch, *shape))
    return gen.standard_normal((batch, *shape)).astype(np.float32)


def step_peak_bytes(model: nn.Module, x: np.ndarray, steps: int = 3) -> int:
    """What NumPy holds at the peak of ``steps`` training steps (forward, cross-entropy,
    backward) beyond the model and the input batch, as ``tests/train/test_memory.py``
    measures it: two steps first, so the layers' reused work arrays exist. The input batch
    exists before tracing starts, so it is not counted."""
    criterion = nn.CrossEntropyLoss()
    y = np.zeros(len(x), np.int64)
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        for _ in range(steps):
            model.train()
            criterion(model(x), y)
            model.zero_grad()
            model.backward_params_only(criterion.backward())
        return tracemalloc.get_traced_memory()[1] - start
    finally:
        tracemalloc.stop()
