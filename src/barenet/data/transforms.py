"""Batch transforms from stored uint8 pixels to the float32 inputs a model takes."""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..errors import ConfigError

MIN_STD = 1e-6   # below this, a std is a mistake (and 1 / std nears float32's limits)


class Normalize:
    """uint8 pixels -> float32 ``(x / 255 - mean) / std``, flattened or as one-channel images.

    Input: uint8 (B, H, W), (B, 1, H, W) or (B, H*W) with a square image.
    Output: float32 (B, H*W) if ``flatten`` else (B, 1, H, W).
    Computed as one scale and one shift in float32: ``x * (1 / (255 std)) - mean / std``.
    """

    def __init__(self, mean: float, std: float, flatten: bool = True) -> None:
        self.mean, self.std, self.flatten = _validate(mean, std, flatten)
        self._scale = np.float32(1.0 / (255.0 * self.std))
        self._shift = np.float32(self.mean / self.std)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        x = np.asarray(x)
        if x.dtype != np.uint8:
            raise TypeError(f"Normalize: expected uint8 pixels 0..255, got {x.dtype}")
        if x.ndim == 3:
            h, w = x.shape[1:]
        elif x.ndim == 4 and x.shape[1] == 1:
            h, w = x.shape[2:]
        elif x.ndim == 2:
            h = w = math.isqrt(x.shape[1])
            if h * w != x.shape[1]:
                if not self.flatten:
                    raise ValueError(f"Normalize: cannot unflatten {x.shape[1]} pixels into "
                                     f"a square image")
                h, w = 1, x.shape[1]
        else:
            raise ValueError(f"Normalize: expected a batch (B, H, W), (B, 1, H, W) or (B, H*W), "
                             f"got shape {x.shape}")
        shape = (x.shape[0], h * w) if self.flatten else (x.shape[0], 1, h, w)
        out = np.empty(shape, dtype=np.float32)
        np.multiply(x.reshape(shape), self._scale, out=out)
        np.subtract(out, self._shift, out=out)
        return out

    def to_dict(self) -> dict[str, Any]:
        """JSON-able description, for a run's config.json."""
        return {"name": "normalize", "mean": self.mean, "std": self.std, "flatten": self.flatten}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "Normalize":
        """Rebuild from ``to_dict()``; raises ConfigError on a missing, unknown or bad field."""
        if not isinstance(d, dict):
            raise ConfigError(f"preprocessing: expected a dict, got {type(d).__name__}")
        if d.get("name", "normalize") != "normalize":
            raise ConfigError(f"preprocessing: unknown transform {d.get('name')!r}, "
                              f"expected 'normalize'")
        missing = [k for k in ("mean", "std", "flatten") if k not in d]
        if missing:
            raise ConfigError(f"preprocessing: missing {', '.join(missing)}, "
                              f"expected mean, std and flatten")
        unknown = sorted(set(d) - {"name", "mean", "std", "flatten"})
        if unknown:
            raise ConfigError(f"preprocessing: unknown keys {', '.join(map(str, unknown))}")
        return cls(d["mean"], d["std"], d["flatten"])

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Normalize) and self.to_dict() == other.to_dict()

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std}, flatten={self.flatten})"


def _validate(mean: Any, std: Any, flatten: Any) -> tuple[float, float, bool]:
    for label, v in (("mean", mean), ("std", std)):
        if isinstance(v, bool) or not isinstance(v, (int, float, np.integer, np.floating)) \
                or not math.isfinite(float(v)):
            raise ConfigError(f"Normalize: {label} must be a finite number, got {v!r}")
    if float(std) <= 0:
        raise ConfigError(f"Normalize: std must be positive, got {std!r}")
    if float(std) < MIN_STD:
        raise ConfigError(f"Normalize: std must be at least {MIN_STD:g}, got {std!r}")
    # every stored pixel, 0..255 scaled to [0, 1], must map to a finite float32
    limit = float(np.finfo(np.float32).max)
    scale, low, high = 1.0 / (255.0 * float(std)), -float(mean) / float(std), \
        (1.0 - float(mean)) / float(std)
    if not all(math.isfinite(v) and abs(v) < limit for v in (scale, low, high)):
        raise ConfigError(f"Normalize: mean {mean!r} and std {std!r} map pixels in [0, 1] "
                          f"outside float32's range")
    if not isinstance(flatten, (bool, np.bool_)):
        raise ConfigError(f"Normalize: flatten must be true or false, got {flatten!r}")
    return float(mean), float(std), bool(flatten)
