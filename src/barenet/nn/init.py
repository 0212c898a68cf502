"""Weight initialisation: Xavier/Glorot and Kaiming/He, normal and uniform.

Every function fills nothing in place; it returns a new array drawn from ``rng`` (an
``np.random.Generator`` or an int seed), so a model is reproducible from its seed.
Fans follow PyTorch: for a weight of shape (out, in, *kernel), fan_in = in * prod(kernel) and
fan_out = out * prod(kernel).
"""
from __future__ import annotations

import math
from typing import Union

import numpy as np

RNGLike = Union[np.random.Generator, int, None]


def as_generator(rng: RNGLike) -> np.random.Generator:
    """An ``np.random.Generator`` from a Generator, an int seed, or None (fresh entropy)."""
    if isinstance(rng, np.random.Generator):
        return rng
    return np.random.default_rng(rng)


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
