"""Weight initialisation: Xavier/Glorot and Kaiming/He, normal and uniform.

Every function fills nothing in place; it returns a new array drawn from ``rng`` (an
``np.random.Generator`` or an int seed), so a model is reproducible from its seed.
Fans follow PyTorch: for a weight of shape (out, in, *kernel), fan_in = in * prod(kernel) and
fan_out = out * prod(kernel).
"""
from __future__ import annotations

import math
from typing import Any, Union

import numpy as np

RNGLike = Union[np.random.Generator, int, None]


def as_generator(rng: RNGLike | np.random.SeedSequence,
                 what: str = "as_generator") -> np.random.Generator:
    """An ``np.random.Generator`` from a Generator (returned as is), an int seed, a SeedSequence
    or None (fresh entropy): the one way barenet turns a seed into a generator. Anything else
    raises TypeError naming ``what`` (the caller, e.g. "DataLoader")."""
    if isinstance(rng, np.random.Generator):
        return rng
    if rng is None or isinstance(rng, np.random.SeedSequence) or (
            isinstance(rng, (int, np.integer)) and not isinstance(rng, bool)):
        return np.random.default_rng(rng)
    raise TypeError(f"{what}: rng must be a numpy Generator, an int seed or None, "
                    f"got {type(rng).__name__}")


def find_generators(objects: dict[str, Any]) -> dict[str, np.random.Generator]:
    """Every ``np.random.Generator`` held in an attribute of the given objects (and, for
    Modules, of their submodules), once each, by a stable dotted name such as ``model.3.rng``.
    Used to save and restore random state (resume) and to replay draws (gradient checks)."""
    found: dict[str, np.random.Generator] = {}
    for prefix, obj in objects.items():
        if obj is None:
            continue
        parts = obj.named_modules() if hasattr(obj, "named_modules") else [("", obj)]
        for name, part in parts:
            for attr, value in sorted(vars(part).items()):
                if isinstance(value, np.random.Generator):
                    key = ".".join(p for p in (prefix, name, attr) if p)
                    if all(value is not g for g in found.values()):
                        found[key] = value
    return found


def calculate_gain(nonlinearity: str, param: float | None = None) -> float:
    """The recommended std gain for an activation (PyTorch's table): relu sqrt(2), tanh 5/3, ..."""
    name = nonlinearity.lower()
    if name in ("linear", "identity", "sigmoid", "conv1d", "conv2d"):
        return 1.0
    if name == "tanh":
        return 5.0 / 3.0
    if name == "relu":
        return math.sqrt(2.0)
    if name == "leaky_relu":
        slope = 0.01 if param is None else float(param)
        return math.sqrt(2.0 / (1.0 + slope**2))
    if name == "selu":
        return 3.0 / 4.0
    raise ValueError(f"calculate_gain: unknown nonlinearity {nonlinearity!r}; expected one of "
                     "linear, identity, sigmoid, tanh, relu, leaky_relu, selu")


def fans(shape: tuple[int, ...]) -> tuple[int, int]:
    """(fan_in, fan_out) of a weight shaped (out, in, *kernel)."""
    if len(shape) < 2:
        raise ValueError(f"fans: a weight needs at least 2 dimensions, got shape {shape}")
    receptive = int(np.prod(shape[2:])) if len(shape) > 2 else 1
    return shape[1] * receptive, shape[0] * receptive


def uniform(shape: tuple[int, ...], bound: float, rng: RNGLike = None,
            dtype: np.dtype = np.float32) -> np.ndarray:
    """U(-bound, bound) samples of ``shape``."""
    return as_generator(rng).uniform(-bound, bound, size=shape).astype(dtype)


def normal(shape: tuple[int, ...], std: float, rng: RNGLike = None,
           dtype: np.dtype = np.float32) -> np.ndarray:
    """N(0, std^2) samples of ``shape``."""
    return (as_generator(rng).standard_normal(size=shape) * std).astype(dtype)


def xavier_uniform(shape: tuple[int, ...], gain: float = 1.0, rng: RNGLike = None,
                   dtype: np.dtype = np.float32) -> np.ndarray:
    """Glorot uniform: U(-a, a) with a = gain * sqrt(6 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    return uniform(shape, gain * math.sqrt(6.0 / (fan_in + fan_out)), rng, dtype)


def xavier_normal(shape: tuple[int, ...], gain: float = 1.0, rng: RNGLike = None,
                  dtype: np.dtype = np.float32) -> np.ndarray:
    """Glorot normal: N(0, std^2) with std = gain * sqrt(2 / (fan_in + fan_out))."""
    fan_in, fan_out = fans(shape)
    return normal(shape, gain * math.sqrt(2.0 / (fan_in + fan_out)), rng, dtype)


def _kaiming_std(shape: tuple[int, ...], a: float, mode: str, nonlinearity: str) -> float:
    fan_in, fan_out = fans(shape)
    if mode not in ("fan_in", "fan_out"):
        raise ValueError(f"kaiming: mode must be 'fan_in' or 'fan_out', got {mode!r}")
    fan = fan_in if mode == "fan_in" else fan_out
    return calculate_gain(nonlinearity, a) / math.sqrt(fan)


def kaiming_uniform(shape: tuple[int, ...], a: float = 0.0, mode: str = "fan_in",
                    nonlinearity: str = "leaky_relu", rng: RNGLike = None,
                    dtype: np.dtype = np.float32) -> np.ndarray:
    """He uniform: U(-b, b) with b = gain * sqrt(3 / fan). With a=sqrt(5) this is PyTorch's
    default for Linear and Conv2d weights (b = 1 / sqrt(fan_in))."""
    std = _kaiming_std(shape, a, mode, nonlinearity)
    return uniform(shape, math.sqrt(3.0) * std, rng, dtype)


def kaiming_normal(shape: tuple[int, ...], a: float = 0.0, mode: str = "fan_in",
                   nonlinearity: str = "leaky_relu", rng: RNGLike = None,
                   dtype: np.dtype = np.float32) -> np.ndarray:
    """He normal: N(0, std^2) with std = gain / sqrt(fan)."""
    return normal(shape, _kaiming_std(shape, a, mode, nonlinearity), rng, dtype)
