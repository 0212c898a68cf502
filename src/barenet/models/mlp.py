"""Fully connected models on flattened 28x28 images: the classic MLP and a deeper one.

Each entry of ``MLP_MODELS`` is a preset: ``architecture(spec) -> dict`` gives the JSON
architecture (see ``nn/architecture.py``) its spec stands for, ``build(spec, rng)`` builds it;
then the ``defaults`` of its spec, its ``input`` kind ("flat": (N, 784)) and a one-line
``description``.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..errors import ConfigError
from ..nn.architecture import build, layer, sequential
from .checks import image_size, num_classes, probability

IN_FEATURES = 28 * 28     # MNIST's; a spec's own is image_size(spec) ** 2
NUM_CLASSES = 10          # MNIST's; a spec's own is num_classes(spec)
MAX_WIDTH = 65536


def _width(value: Any, what: str) -> int:
    """A layer width from a spec value: a positive int up to ``MAX_WIDTH``."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not 1 <= int(value) <= MAX_WIDTH:
        raise ConfigError(f"{what} must be an integer in [1, {MAX_WIDTH}], got {value!r}")
    return int(value)


def _widths(value: Any, what: str) -> list[int]:
    """A list of layer widths from an int or a list of ints."""
    items = value if isinstance(value, (list, tuple)) else [value]
    if not items:
        raise ConfigError(f"{what} needs at least one layer width, got {value!r}")
    return [_width(v, what) for v in items]


def mlp_architecture(spec: dict) -> dict[str, Any]:
    """The classic network: Linear(784, hidden) -> ReLU -> Linear(hidden, 10).

    Input (N, 784) float32, output logits (N, 10). ``spec["hidden"]``: an int (one hidden
    layer, 200 by default) or a list of widths (one Linear + ReLU per width). For another
    dataset, (N, S*S) in and (N, K) out with ``image_size`` S and ``num_classes`` K.
    """
    widths = _widths(spec["hidden"], "mlp: hidden")
    layers: list[dict[str, Any]] = []
    fan_in = image_size(spec) ** 2
    for w in widths:
        layers += [_linear(fan_in, w), layer("ReLU")]
        fan_in = w
    return sequential(*layers, _linear(fan_in, num_classes(spec)))


def mlp_deep_architecture(spec: dict) -> dict[str, Any]:
    """Linear -> BatchNorm1d -> ReLU -> Dropout per hidden width, then Linear(last, 10).

    Input (N, 784) float32, output logits (N, 10). ``spec["hidden"]`` lists the widths
    (default [512, 256]); ``spec["dropout"]`` is the drop probability (default 0.2).
    ``image_size``/``num_classes`` as in ``mlp_architecture``.
    """
    widths = _widths(spec["hidden"], "mlp-deep: hidden")
    p = probability(spec["dropout"], "mlp-deep: dropout")
    layers: list[dict[str, Any]] = []
    fan_in = image_size(spec) ** 2
    for w in widths:
        layers += [_linear(fan_in, w), layer("BatchNorm1d", num_features=w), layer("ReLU"),
                   layer("Dropout", p=p)]
        fan_in = w
    return sequential(*layers, _linear(fan_in, num_classes(spec)))


def _linear(fan_in: int, fan_out: int) -> dict[str, Any]:
    return layer("Linear", in_features=fan_in, out_features=fan_out)


def build_mlp(spec: dict, rng: np.random.Generator) -> nn.Module:
    """``mlp_architecture(spec)`` built with weights drawn from ``rng``."""
    return build(mlp_architecture(spec), rng)


def build_mlp_deep(spec: dict, rng: np.random.Generator) -> nn.Module:
    """``mlp_deep_architecture(spec)`` built with weights drawn from ``rng``; each Dropout
    draws its masks from its own generator, spawned from ``rng``."""
    return build(mlp_deep_architecture(spec), rng)


MLP_MODELS: dict[str, dict[str, Any]] = {
    "mlp": {
        "architecture": mlp_architecture,
        "build": build_mlp,
        "defaults": {"hidden": 200},
        "input": "flat",
        "description": "the classic network: Linear(784, 200) -> ReLU -> Linear(200, 10)",
    },
    "mlp-deep": {
        "architecture": mlp_deep_architecture,
        "build": build_mlp_deep,
        "defaults": {"hidden": [512, 256], "dropout": 0.2},
        "input": "flat",
        "description": "784-512-256-10 with BatchNorm1d, ReLU and Dropout(0.2) after each "
                       "hidden layer",
    },
}
