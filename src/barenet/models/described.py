"""A model described as data, for ``barenet train --architecture FILE.json``: the spec carries
the architecture itself (the JSON ``save_run`` writes, ``barenet models NAME --json`` prints)
and the input it takes per sample::

    {"name": "architecture", "architecture": {"type": "Sequential", "layers": [...]},
     "input_shape": [1, 28, 28]}

It is not a preset: ``barenet models`` does not list it and ``--model`` does not take it; the
spec is stored in the run's config.json like any other, so ``--resume`` and ``--from`` work.
"""
from __future__ import annotations

from typing import Any

from ..errors import ConfigError

NAME = "architecture"
MAX_RANK = 4                 # dimensions of a per-sample input shape
MAX_SIDE = 1 << 16


def _input_shape(spec: dict) -> tuple[int, ...]:
    shape = spec.get("input_shape")
    if not (isinstance(shape, (list, tuple)) and 1 <= len(shape) <= MAX_RANK and all(
            isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= MAX_SIDE
            for v in shape)):
        raise ConfigError(f"{NAME}: input_shape must be a list of 1 to {MAX_RANK} positive "
                          f"ints, got {str(shape)[:40]}")
    return tuple(shape)


def architecture(spec: dict) -> dict[str, Any]:
    """The architecture a described spec carries (validated by ``models.architecture_of``)."""
    if not isinstance(spec.get("architecture"), dict):
        raise ConfigError(f"{NAME}: the spec has no 'architecture' object (train one with "
                          f"barenet train --architecture FILE.json)")
    return spec["architecture"]


def input_kind(spec: dict) -> str:
    """"flat" for a per-sample input of one dimension, else "image"."""
    return "flat" if len(_input_shape(spec)) == 1 else "image"


def input_shape(spec: dict) -> tuple[int, ...]:
    """The per-sample input the spec declares."""
    return _input_shape(spec)


DESCRIBED_MODELS = {
    NAME: {"architecture": architecture, "input": "image",
           "defaults": {"architecture": None, "input_shape": None},
           "description": "a model described as data (barenet train --architecture FILE.json)"},
}

__all__ = ["DESCRIBED_MODELS", "NAME", "architecture", "input_kind", "input_shape"]
