"""Checks of a preset's spec values, shared by the model files; each raises ConfigError naming
the setting (``what``, e.g. "lstm: hidden") and the value it got."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..errors import ConfigError


def integer(value: Any, what: str, low: int, high: int) -> int:
    """An int in [low, high] (not a bool)."""
    if isinstance(value, bool) or not isinstance(value, (int, np.integer)) \
            or not low <= int(value) <= high:
        raise ConfigError(f"{what} must be an integer in [{low}, {high}], got {value!r}")
    return int(value)


def probability(value: Any, what: str) -> float:
    """A drop probability in [0, 1)."""
    if isinstance(value, bool) or not isinstance(value, (int, float, np.integer, np.floating)) \
            or not 0.0 <= float(value) < 1.0:
        raise ConfigError(f"{what} must be a number in [0, 1), got {value!r}")
    return float(value)


def flag(value: Any, what: str) -> bool:
    """true or false."""
    if not isinstance(value, bool):
        raise ConfigError(f"{what} must be true or false, got {value!r}")
    return value


def choice(value: Any, what: str, options: tuple[str, ...]) -> str:
    """One of ``options``."""
    if value not in options:
        raise ConfigError(f"{what} must be one of {', '.join(map(repr, options))}, got "
                          f"{value!r}")
    return value


#: Spec keys that describe the data a preset is fitted to rather than a setting of its own,
#: with their values when absent (MNIST: 10 classes of 28x28 images). A run trained on another
#: dataset stores them in its spec (``train/config.py`` adds them from the dataset's facts).
DATA_KEYS: dict[str, int] = {"num_classes": 10, "image_size": 28}
#: Bounds of the data keys (as ``data/facts.py``'s MAX_CLASSES and MAX_SIDE).
DATA_LIMITS: dict[str, tuple[int, int]] = {"num_classes": (2, 1000), "image_size": (1, 512)}


def num_classes(spec: dict) -> int:
    """The number of classes (outputs) of a spec: ``spec["num_classes"]``, default 10."""
    low, high = DATA_LIMITS["num_classes"]
    return integer(spec.get("num_classes", DATA_KEYS["num_classes"]), "num_classes", low, high)


def image_size(spec: dict) -> int:
    """The side S of the square (S, S) images a spec takes: ``spec["image_size"]``, default 28."""
    low, high = DATA_LIMITS["image_size"]
    return integer(spec.get("image_size", DATA_KEYS["image_size"]), "image_size", low, high)
