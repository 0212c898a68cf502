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
