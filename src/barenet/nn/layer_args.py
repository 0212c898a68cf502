"""A layer's constructor arguments as data: each one's kind (how an untrusted value is checked)
and its default. A built-in layer declares them beside its maths, as ``ARGS``::

    ARGS = {"in_features": Arg("size"), "out_features": Arg("size"), "bias": Arg("bool", True)}

``check(kind, value)`` gives the value in canonical JSON form (pairs as lists) or raises
ValueError saying what the value must be. A user's layer needs no ``ARGS``: its arguments are
read from its constructor's signature (``layer_record.py``) and checked as JSON scalars.
"""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np

MAX_SIZE = 1 << 24           # any width, channel or feature count
MAX_KERNEL = 64              # kernel, stride and padding of convolutions and pooling
MAX_DIM = 8                  # |dim| of Flatten and Softmax; dimensions of a LayerNorm
MAX_STACK = 64               # num_layers of a recurrent layer
MAX_TEXT = 200               # characters of a string argument of a user's layer
MAX_ITEMS = 64               # items of a list argument of a user's layer
REQUIRED = object()
#: The allowed values of the arguments that name a choice.
CHOICES = {"nonlinearity": ("tanh", "relu"), "approximate": ("none", "tanh"),
           "activation": ("relu", "gelu")}


@dataclass(frozen=True)
class Arg:
    """One constructor argument: its ``kind`` (how it is checked) and its default."""

    kind: str
    default: Any = REQUIRED


def _int(v: Any) -> bool:
    return isinstance(v, (int, np.integer)) and not isinstance(v, (bool, np.bool_))


def _number(v: Any) -> bool:
    return _int(v) or (isinstance(v, (float, np.floating)) and math.isfinite(v))


def _json_scalar(v: Any) -> Any:
    """A user layer's argument: None, a bool, a finite number, a short string, or a short
    list of those (tuples become lists)."""
    if v is None or isinstance(v, (bool, np.bool_)):
        return None if v is None else bool(v)
    if _int(v):
        return int(v)
    if _number(v):
        return float(v)
    if isinstance(v, str) and len(v) <= MAX_TEXT:
        return v
    if isinstance(v, (list, tuple)) and len(v) <= MAX_ITEMS:
        return [_json_scalar(x) for x in v]
    raise ValueError(f"must be null, true/false, a finite number, a string of at most "
                     f"{MAX_TEXT} characters or a list of at most {MAX_ITEMS} of them")


def check(kind: str, v: Any) -> Any:
    """``v`` in canonical JSON form if it is a valid value of ``kind``, else ValueError."""
    if kind == "json":
        return _json_scalar(v)
    if kind in ("kernel", "pad"):
        low = 1 if kind == "kernel" else 0
        pair = list(v) if isinstance(v, (list, tuple)) and len(v) == 2 else [v, v]
        if all(_int(x) and low <= x <= MAX_KERNEL for x in pair):
            return [int(x) for x in pair]
        raise ValueError(f"must be an int in [{low}, {MAX_KERNEL}] or a pair of them")
    if kind == "sizes":
        sizes = list(v) if isinstance(v, (list, tuple)) else [v]
        if 1 <= len(sizes) <= MAX_DIM and all(_int(x) and 1 <= x <= MAX_SIZE for x in sizes):
            return [int(x) for x in sizes]
        raise ValueError(f"must be an int in [1, {MAX_SIZE}] or a list of 1 to {MAX_DIM} of them")
    if kind in CHOICES:
        if isinstance(v, str) and v in CHOICES[kind]:
            return v
        raise ValueError("must be one of " + ", ".join(map(repr, CHOICES[kind])))
    if kind == "size" and _int(v) and 1 <= v <= MAX_SIZE:
        return int(v)
    if kind == "stack" and _int(v) and 1 <= v <= MAX_STACK:
        return int(v)
    if kind == "index" and _int(v) and -MAX_SIZE <= v <= MAX_SIZE:
        return int(v)
    if kind == "dim" and _int(v) and -MAX_DIM <= v <= MAX_DIM:
        return int(v)
    if kind == "bool" and isinstance(v, (bool, np.bool_)):
        return bool(v)
    if kind == "float" and _number(v) and abs(v) <= 1e6:
        return float(v)
    if kind == "eps" and _number(v) and 0 < v <= 1:
        return float(v)
    if kind in ("prob", "momentum") and _number(v) and 0 <= v <= 1:
        return float(v)
    if kind == "momentum" and v is None:
        return None
    raise ValueError({"size": f"must be an int in [1, {MAX_SIZE}]", "bool": "must be true or false",
                      "stack": f"must be an int in [1, {MAX_STACK}]",
                      "index": f"must be an int in [-{MAX_SIZE}, {MAX_SIZE}]",
                      "dim": f"must be an int in [-{MAX_DIM}, {MAX_DIM}]",
                      "float": "must be a finite number", "eps": "must be a number in (0, 1]",
                      "prob": "must be a number in [0, 1]",
                      "momentum": "must be a number in [0, 1] or null"}.get(
                          kind, f"is of an unknown kind {kind!r}"))


def quoted(value: Any) -> str:
    """A value in a message: its repr, cut to 40 characters."""
    text = repr(value)
    return text if len(text) <= 40 else text[:37] + "..."


def checked(name: str, arg: Arg, value: Any) -> Any:
    """``check(arg.kind, value)`` for constructor argument ``name`` (None where None is its
    default); ValueError naming the argument and quoting the value."""
    if value is None and arg.default is None:
        return None
    try:
        return check(arg.kind, value)
    except ValueError as exc:
        raise ValueError(f"{name} {exc}, got {quoted(value)}") from None


__all__ = ["Arg", "CHOICES", "MAX_DIM", "MAX_KERNEL", "MAX_SIZE", "MAX_STACK", "REQUIRED",
           "check", "checked", "quoted"]
