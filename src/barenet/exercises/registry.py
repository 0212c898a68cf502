"""Every exercise's checking record, by name, in the catalogue's teaching order."""
from __future__ import annotations

from typing import Any

from .catalogue import NAMES


def _all() -> dict[str, Any]:
    from . import specs_mlp, specs_optim, specs_sequence, specs_training, specs_vision

    specs = {}
    for module in (specs_mlp, specs_vision, specs_training, specs_optim, specs_sequence):
        for spec in module.SPECS:
            specs[spec.name] = spec
    return {name: specs[name] for name in NAMES}


_SPECS: dict[str, Any] = {}


def spec_of(name: str) -> Any:
    """The ``Spec`` (module, loss) or ``OptimSpec`` (optimizer) of exercise ``name``."""
    if not _SPECS:
        _SPECS.update(_all())
    return _SPECS[name]
