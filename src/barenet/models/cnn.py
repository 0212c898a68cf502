"""Convolutional models on (N, 1, 28, 28) images: LeNet-5, the default CNN and a larger one.

Each entry of ``CNN_MODELS`` is a preset: ``architecture(spec) -> dict`` gives the JSON
architecture (see ``nn/architecture.py``) its spec stands for, ``build(spec, rng) ->
nn.Sequential`` builds it; then the ``defaults`` of its JSON-able spec, its ``input`` kind
("image") and a one-line ``description``. Both get the full spec (defaults filled in) and raise
ConfigError on a bad value.

Every block ends ``MaxPool2d(2) -> ReLU``. That is the same function as the usual
``ReLU -> MaxPool2d(2)`` (ReLU is monotone, so it commutes with a maximum, and the gradients
agree too), but the ReLU then runs on a quarter of the numbers.
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..errors import ConfigError
from ..nn.architecture import build, layer, sequential
from .checks import image_size, num_classes, probability

IMAGE_SIZE = 28     # MNIST's; a spec's own is image_size(spec)
NUM_CLASSES = 10    # MNIST's; a spec's own is num_classes(spec)
MAX_WIDTH = 4096


def _ints(value: Any, what: str, allow_empty: bool = False) -> list[int]:
    """A list of positive widths from an int or a list of ints."""
    items = list(value) if isinstance(value, (list, tuple)) else [value]
    ok = all(not isinstance(v, bool) and isinstance(v, (int, np.integer))
             and 1 <= int(v) <= MAX_WIDTH for v in items)
    if not ok or (not items and not allow_empty):
        raise ConfigError(f"{what} must be an integer in [1, {MAX_WIDTH}] or a list of them, "
                          f"got {value!r}")
    return [int(v) for v in items]


def _dropout(p: float) -> list[dict[str, Any]]:
    """A Dropout (none when p == 0)."""
    return [layer("Dropout", p=p)] if p > 0 else []


def _linear(fan_in: int, fan_out: int, bias: bool = True) -> dict[str, Any]:
    return layer("Linear", in_features=fan_in, out_features=fan_out, bias=bias)


def _conv(c_in: int, c_out: int, k: int, padding: int = 0, bias: bool = True) -> dict[str, Any]:
    return layer("Conv2d", in_channels=c_in, out_channels=c_out, kernel_size=k, padding=padding,
                 bias=bias)


def _pool_relu() -> list[dict[str, Any]]:
    return [layer("MaxPool2d", kernel_size=2), layer("ReLU")]


def _head(features: int, hidden: list[int], p: float, batchnorm: bool = False,
          classes: int = NUM_CLASSES) -> list[dict[str, Any]]:
    """Flatten -> [Dropout] -> (Linear -> [BatchNorm1d] -> ReLU -> [Dropout]) per width ->
    Linear(last, classes)."""
    layers: list[dict[str, Any]] = [layer("Flatten"), *_dropout(p)]
    for width in hidden:
        layers.append(_linear(features, width, bias=not batchnorm))
        if batchnorm:
            layers.append(layer("BatchNorm1d", num_features=width))
        layers += [layer("ReLU"), *_dropout(p)]
        features = width
    layers.append(_linear(features, classes))
    return layers


def _check_size(size: int, name: str, spec: dict) -> None:
    if size < 1:
        side = image_size(spec)
        raise ConfigError(f"{name}: {len(spec['channels'])} blocks shrink a {side}x{side} image "
                          f"to nothing; use fewer channels entries, got {spec['channels']!r}")


def lenet5_architecture(spec: dict) -> dict[str, Any]:
    """LeNet-5 for 28x28 digits, with ReLU and max pooling.

    Conv(1, 6, 5, padding=2) -> MaxPool 2 -> ReLU -> Conv(6, 16, 5) -> MaxPool 2 -> ReLU ->
    Flatten (16*5*5) -> Linear 120 -> ReLU -> Linear 84 -> ReLU -> Linear 10.
    Input (N, 1, 28, 28) float32, output logits (N, 10); for (N, 1, S, S) images the
    features are 16*s*s with s = (S//2 - 4)//2, and ``num_classes`` K gives (N, K).
    """
    c1, c2 = _pair_of_channels(spec["channels"], "lenet5: channels")
    hidden = _ints(spec["hidden"], "lenet5: hidden", allow_empty=True)
    size = (image_size(spec) // 2 - 4) // 2      # 28 -> 28 -> 14 -> 10 -> 5
    if size < 1:
        raise ConfigError(f"lenet5: needs images of at least 10x10, got {image_size(spec)}")
    layers = [_conv(1, c1, 5, padding=2), *_pool_relu(), _conv(c1, c2, 5), *_pool_relu()]
    return sequential(*layers, *_head(c2 * size * size, hidden, 0.0,
                                      classes=num_classes(spec)))


def _pair_of_channels(value: Any, what: str) -> tuple[int, int]:
    widths = _ints(value, what)
    if len(widths) != 2:
        raise ConfigError(f"{what} must list 2 widths, got {value!r}")
    return widths[0], widths[1]


def cnn_architecture(spec: dict) -> dict[str, Any]:
    """The default CNN: per width c in ``channels``, Conv(prev, c, 3) -> MaxPool 2 -> ReLU;
    then Flatten -> Dropout -> Linear(hidden) -> ReLU -> Dropout -> Linear 10.

    Defaults: channels [32, 64] (28 -> 26 -> 13 -> 11 -> 5, so 64*5*5 = 1600 features),
    hidden 128, dropout 0.25. Input (N, 1, 28, 28) float32, output logits (N, 10).
    """
    channels = _ints(spec["channels"], "cnn: channels")
    hidden = _ints(spec["hidden"], "cnn: hidden", allow_empty=True)
    p = probability(spec["dropout"], "cnn: dropout")
    layers: list[dict[str, Any]] = []
    prev, size = 1, image_size(spec)
    for c in channels:
        size = (size - 2) // 2
        _check_size(size, "cnn", spec)
        layers += [_conv(prev, c, 3), *_pool_relu()]
        prev = c
    return sequential(*layers, *_head(prev * size * size, hidden, p, classes=num_classes(spec)))


def cnn_large_architecture(spec: dict) -> dict[str, Any]:
    """Two 3x3 convs (padding 1) with BatchNorm2d per block, per width c in ``channels``:
    Conv -> BN -> ReLU -> Conv -> BN -> MaxPool 2 -> ReLU; then Flatten -> Dropout ->
    Linear(hidden) -> BatchNorm1d -> ReLU -> Dropout -> Linear 10. Convs before a BatchNorm
    have no bias (the norm's shift replaces it).

    Defaults: channels [32, 64] (28 -> 14 -> 7, so 64*7*7 = 3136 features), hidden 256,
    dropout 0.3. Input (N, 1, 28, 28) float32, output logits (N, 10).
    """
    channels = _ints(spec["channels"], "cnn-large: channels")
    hidden = _ints(spec["hidden"], "cnn-large: hidden", allow_empty=True)
    p = probability(spec["dropout"], "cnn-large: dropout")
    layers: list[dict[str, Any]] = []
    prev, size = 1, image_size(spec)
    for c in channels:
        size //= 2
        _check_size(size, "cnn-large", spec)
        layers += [_conv(prev, c, 3, padding=1, bias=False), _bn2d(c), layer("ReLU"),
                   _conv(c, c, 3, padding=1, bias=False), _bn2d(c), *_pool_relu()]
        prev = c
    return sequential(*layers, *_head(prev * size * size, hidden, p, batchnorm=True,
                                      classes=num_classes(spec)))


def _bn2d(c: int) -> dict[str, Any]:
    return layer("BatchNorm2d", num_features=c)


def build_lenet5(spec: dict, rng: np.random.Generator) -> nn.Sequential:
    """``lenet5_architecture(spec)`` built with weights drawn from ``rng``."""
    return build(lenet5_architecture(spec), rng)


def build_cnn(spec: dict, rng: np.random.Generator) -> nn.Sequential:
    """``cnn_architecture(spec)`` built with weights drawn from ``rng``; each Dropout draws its
    masks from its own generator, spawned from ``rng``."""
    return build(cnn_architecture(spec), rng)


def build_cnn_large(spec: dict, rng: np.random.Generator) -> nn.Sequential:
    """``cnn_large_architecture(spec)`` built with weights drawn from ``rng`` (Dropout as in
    ``build_cnn``)."""
    return build(cnn_large_architecture(spec), rng)


CNN_MODELS: dict[str, dict[str, Any]] = {
    "lenet5": {
        "architecture": lenet5_architecture,
        "build": build_lenet5,
        "defaults": {"channels": [6, 16], "hidden": [120, 84]},
        "input": "image",
        "description": "LeNet-5 with ReLU and max pooling: conv 5x5 (6, 16), dense 120-84-10",
    },
    "cnn": {
        "architecture": cnn_architecture,
        "build": build_cnn,
        "defaults": {"channels": [32, 64], "hidden": 128, "dropout": 0.25},
        "input": "image",
        "description": "the default CNN: conv 3x3 (32, 64) with max pooling, dense 128, "
                       "dropout 0.25",
    },
    "cnn-large": {
        "architecture": cnn_large_architecture,
        "build": build_cnn_large,
        "defaults": {"channels": [32, 64], "hidden": 256, "dropout": 0.3},
        "input": "image",
        "description": "two 3x3 convs with BatchNorm per block (32, 64), dense 256 with "
                       "BatchNorm, dropout 0.3; for augmentation and Fashion-MNIST",
    },
}
