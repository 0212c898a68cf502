"""The layers the tests in ``test_every_layer_*.py`` check, read from the registry: every
built-in layer and two layers of a user's own, registered here as a user would register them.

Nothing here lists layers by hand: a new built-in layer with an ``EXAMPLE`` is checked by
every test generated from ``cases()``.
"""
from __future__ import annotations

import math

import numpy as np
import pytest

from barenet import nn
from barenet.nn import init
from barenet.nn.registry import is_builtin, register_layer, registered


@register_layer
class ScaleShift(nn.Module):
    """A user's layer with parameters: ``y[n, c, ...] = weight[c] * x[n, c, ...] + bias[c]``
    over axis 1 of any input (N, C, ...)."""

    EXAMPLE = ({"num_features": 3}, (3, 4, 4))

    def __init__(self, num_features: int, rng: init.RNGLike = None) -> None:
        super().__init__()
        self.num_features = int(num_features)
        gen = init.as_generator(rng)
        self.weight = nn.Parameter(1 + 0.5 * gen.standard_normal(self.num_features)
                                   .astype(np.float32))
        self.bias = nn.Parameter(0.5 * gen.standard_normal(self.num_features).astype(np.float32))
        self._x: np.ndarray | None = None

    def _along(self, v: np.ndarray, ndim: int) -> np.ndarray:
        return v.reshape((1, -1) + (1,) * (ndim - 2))

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._x = x
        return x * self._along(self.weight.data, x.ndim) + self._along(self.bias.data, x.ndim)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._x)
        x = self._x
        axes = (0,) + tuple(range(2, x.ndim))
        self.weight.accumulate_grad((grad_out * x).sum(axis=axes))
        self.bias.accumulate_grad(grad_out.sum(axis=axes))
        return grad_out * self._along(self.weight.data, x.ndim)


@register_layer
class SampleCentre(nn.Module):
    """A user's layer that reduces over every non-batch axis: ``y = x - mean(x[n])``, written
    the obvious way (``x.mean(axis=(1, 2, 3))`` for images): accurate in float32 only if its
    input is laid out so that NumPy sums each sample pairwise."""

    EXAMPLE = ({}, (3, 4, 4))

    def __init__(self) -> None:
        super().__init__()
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        axes = tuple(range(1, x.ndim))
        self._shape = x.shape
        return x - x.mean(axis=axes, keepdims=True)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._shape)
        axes = tuple(range(1, grad_out.ndim))
        return grad_out - grad_out.mean(axis=axes, keepdims=True)


@register_layer
class Reshape(nn.Module):
    """A user's layer with a list argument: (N, *any) -> (N, *shape), and back in backward."""

    EXAMPLE = ({"shape": [4, 3]}, (12,))

    def __init__(self, shape: list) -> None:
        super().__init__()
        self.shape = [int(v) for v in shape]
        self._in: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._in = x.shape
        return x.reshape(x.shape[0], *self.shape)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._in)
        return grad_out.reshape(self._in)


USER_LAYERS = (ScaleShift, SampleCentre, Reshape)


def cases() -> list:
    """One ``pytest.param(name, cls, id=name)`` per built-in layer and per layer of ours."""
    ours = set(USER_LAYERS)
    return [pytest.param(name, cls, id=name) for name, cls in registered().items()
            if is_builtin(cls) or cls in ours]


def example(cls: type) -> tuple[dict, tuple[int, ...]]:
    """The layer's checked example configuration and per-sample input shape."""
    assert cls.EXAMPLE is not None, f"{cls.__name__} has no EXAMPLE for the generated tests"
    config, shape = cls.EXAMPLE
    return cls.check_config(config), tuple(shape)


def takes_ids(cls: type) -> bool:
    """Whether the layer's input is integer ids, not numbers (an Embedding)."""
    return cls is nn.Embedding


def make(cls: type, seed: int = 0, dtype=np.float32) -> nn.Module:
    """The example layer, weights from ``seed``, in ``dtype``."""
    config, _ = example(cls)
    layer = cls.from_config(config, np.random.default_rng(seed))
    return layer.astype(dtype) if dtype != np.float32 else layer


def inputs(cls: type, batch: int, seed: int = 1, dtype=np.float32) -> np.ndarray:
    """A batch of the layer's example input: ids for an Embedding, numbers otherwise."""
    config, shape = example(cls)
    gen = np.random.default_rng(seed)
    if takes_ids(cls):
        return gen.integers(0, config["num_embeddings"], (batch, *shape))
    return gen.standard_normal((batch, *shape)).astype(dtype)


def conv_to(shape: tuple[int, ...], seed: int = 2) -> tuple[nn.Conv2d, tuple[int, ...]]:
    """A Conv2d whose output reshapes to (N, *shape) without a copy, and its per-sample input:
    (C, H, W) as it is; a shorter shape with unit axes added at the end (a reshape that drops
    unit axes keeps the conv's memory layout)."""
    assert 1 <= len(shape) <= 3, shape
    c, h, w = tuple(shape) + (1,) * (3 - len(shape))
    conv = nn.Conv2d(2, c, 3, padding=1, rng=seed)
    return conv, (2, h, w)


def per_sample_values(shape: tuple[int, ...]) -> int:
    return math.prod(shape)
