"""Named architectures, built from a small JSON-able spec like ``{"name": "mlp", "hidden": 200}``.

The spec is what a run's config.json stores, so a checkpoint can rebuild its model:
``build_model(spec, rng)``. ``default_spec(name)`` gives every setting of a model;
``model_input(spec)`` says whether it takes flat vectors (N, 784) or images (N, 1, 28, 28).
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from ..nn.module import Module
from .mlp import MLP_MODELS

try:
    from .cnn import CNN_MODELS
except ModuleNotFoundError as exc:  # pragma: no cover - only while cnn.py is absent
    if exc.name != f"{__name__}.cnn":
        raise
    CNN_MODELS = {}

INPUT_KINDS = ("flat", "image")


@dataclass(frozen=True)
class ModelEntry:
    """One registered architecture.

    ``build(spec, rng) -> Module`` gets the full spec (defaults filled in); ``defaults`` are
    the spec's settings other than ``name``; ``input`` is "flat" or "image"; ``train`` holds
    training hyper-parameters that suit the model (optional, used as the CLI's defaults).
    """

    name: str
    build: Callable[[dict, np.random.Generator], Module]
    defaults: dict[str, Any]
    input: str
    description: str
    train: dict[str, Any] = field(default_factory=dict)


def _entry(name: str, raw: Any) -> ModelEntry:
    """A ``ModelEntry`` from a registry table value (a dict or an object with those fields)."""
    if isinstance(raw, ModelEntry):
        return raw
    get = raw.get if isinstance(raw, dict) else (lambda k, d=None: getattr(raw, k, d))
    build = get("build")
    kind = get("input", "image")
    if not callable(build) or kind not in INPUT_KINDS:
        raise TypeError(f"model registry: entry {name!r} needs a callable 'build' and an input "
                        f"kind in {INPUT_KINDS}")
    defaults = dict(get("defaults", None) or {})
    defaults.pop("name", None)
    return ModelEntry(name=name, build=build, defaults=defaults, input=kind,
                      description=str(get("description", "") or ""),
                      train=dict(get("train", None) or {}))


REGISTRY: dict[str, ModelEntry] = {
    name: _entry(name, raw) for table in (MLP_MODELS, CNN_MODELS) for name, raw in table.items()
}
MODEL_NAMES: tuple[str, ...] = tuple(REGISTRY)


def get_entry(name: Any) -> ModelEntry:
    """The registry entry of ``name``; ConfigError naming the known models if there is none."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise ConfigError(f"unknown model {name!r}, expected one of: {', '.join(MODEL_NAMES)}")
    return REGISTRY[name]


def _name_of(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"model spec must be a dict with a 'name', got {spec!r}")
    return spec["name"]


def default_spec(name: str) -> dict[str, Any]:
    """The complete spec of model ``name`` with its default settings, e.g. {"name": "mlp",
    "hidden": 200}. A fresh copy each call."""
    entry = get_entry(name)
    return {"name": entry.name, **_copy(entry.defaults)}


def resolve_spec(spec: dict | str) -> dict[str, Any]:
    """``spec`` with every missing setting filled from the defaults; ConfigError on an unknown
    model or setting."""
    name = _name_of(spec)
    full = default_spec(name)
    given = {} if isinstance(spec, str) else spec
    unknown = sorted(set(given) - set(full))
    if unknown:
        known = ", ".join(k for k in full if k != "name") or "none"
        raise ConfigError(f"model {name!r} has no setting {', '.join(map(repr, unknown))} "
                          f"(its settings: {known})")
    full.update(_copy({k: v for k, v in given.items() if k != "name"}))
    return full


def build_model(spec: dict | str, rng: np.random.Generator | int | None = None) -> Module:
    """Build the model a spec describes; weights drawn from ``rng`` (a Generator or a seed).

    Raises ConfigError for an unknown name, an unknown setting or an invalid value.
    """
    full = resolve_spec(spec)
    gen = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
    try:
        return REGISTRY[full["name"]].build(full, gen)
    except (ValueError, TypeError) as exc:  # a layer refused a setting from the spec
        raise ConfigError(f"model {full['name']!r}: invalid spec {full}: {exc}") from None


def model_input(spec: dict | str) -> str:
    """"flat" if the model takes (N, 784) vectors, "image" if it takes (N, 1, 28, 28)."""
    return get_entry(_name_of(spec)).input


def count_parameters(model: Module) -> int:
    """Number of trainable scalars in ``model``."""
    return int(sum(p.data.size for p in model.parameters()))


def describe_models() -> list[dict[str, Any]]:
    """One dict per registered model: name, params (count with default settings), input,
    description, spec (the default spec)."""
    rows = []
    for name, entry in REGISTRY.items():
        spec = default_spec(name)
        model = build_model(spec, rng=0)
        rows.append({"name": name, "params": count_parameters(model), "input": entry.input,
                     "description": entry.description, "spec": spec})
    return rows


def _copy(d: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough for spec values (lists of ints)."""
    return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in d.items()}


__all__ = ["MODEL_NAMES", "REGISTRY", "ModelEntry", "build_model", "count_parameters",
           "default_spec", "describe_models", "get_entry", "model_input", "resolve_spec"]
