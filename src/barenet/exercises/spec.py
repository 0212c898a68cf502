"""The small record each exercise adds to the generic engine: configurations, inputs, the
reference, and the catalogue of known mistakes (each one a function computing what that
mistake would produce, so the checker can recognise it in a learner's numbers).
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

Inputs = tuple[np.ndarray, ...]


@dataclass(frozen=True)
class Config:
    """One way of building and feeding the class.

    ``kwargs``: the constructor's arguments (the learner's class and the reference take the
    same ones). ``inputs(rng)``: the forward arguments, ``(x,)`` for a module, ``(input,
    target)`` for a loss, all float64 but integer labels. ``train``: the mode. ``numeric``:
    whether to compare with centred differences. ``seed``: for random layers, a seed given to
    the layer's ``rng`` attribute before every forward call (the same draws in both).
    """

    kwargs: dict[str, Any]
    inputs: Callable[[np.random.Generator], Inputs]
    train: bool = True
    numeric: bool = True
    seed: int | None = None
    note: str = ""

    @property
    def label(self) -> str:
        args = ", ".join(f"{k}={_show(v)}" for k, v in self.kwargs.items()
                         if k not in ("dtype", "rng"))
        mode = "" if self.train else ", eval mode"
        return f"{args}{mode}{', ' + self.note if self.note else ''}"


def _show(v: Any) -> str:
    return v.__name__ if isinstance(v, type) else repr(v)


@dataclass
class Context:
    """What a mistake sees, for one configuration, after the reference ran forward and backward.

    ``inputs`` (copies), ``g`` the upstream gradient (None for a loss), ``y`` the reference's
    output, ``grads`` the reference's value of every checked quantity, ``params`` the
    parameters by state_dict name, ``buffers_before`` the buffers before forward, ``ref`` the
    reference object itself (its caches included), ``kwargs``, ``train`` and ``seed`` of the
    config.
    """

    kwargs: dict[str, Any]
    inputs: Inputs
    g: np.ndarray | None
    y: Any
    grads: dict[str, np.ndarray]
    params: dict[str, np.ndarray]
    buffers_before: dict[str, np.ndarray]
    ref: Any
    train: bool
    seed: int | None = None


@dataclass(frozen=True)
class Mistake:
    """A known mistake: its ``name`` (said to the learner), one sentence with a hint, and
    ``produce(ctx)`` giving the values of the quantities it changes (``{"dL/dx": array}``);
    a quantity it cannot produce in a configuration is left out."""

    name: str
    explain: str
    produce: Callable[[Context], dict[str, Any]]


@dataclass(frozen=True)
class Spec:
    """A module or loss exercise: ``kind`` "module" or "loss", the ``reference(**kwargs)``
    factory, its configurations, its mistakes and the stub's text."""

    name: str
    kind: str
    reference: Callable[..., Any]
    configs: tuple[Config, ...]
    mistakes: tuple[Mistake, ...]
    stub: str
