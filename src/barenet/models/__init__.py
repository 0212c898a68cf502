"""Named architectures: presets that turn a small spec like ``{"name": "mlp", "hidden": 200}``
into a JSON architecture (a Sequential of built-in layers, see ``nn/architecture.py``).

``architecture_of(spec)`` is that architecture, ``build_model(spec, rng)`` the model built from
it. A run's config.json stores both the spec and the architecture; a model of your own needs no
preset (``barenet.save_run``). ``default_spec(name)`` gives every setting of a model;
``model_input(spec)`` says whether it takes flat vectors (N, 784) or images (N, 1, 28, 28), and
``input_shape(spec)`` gives that shape without the batch. The sequence models (``rnn``,
``lstm``, ``gru``: rows as time steps) and ``vit`` (patches as tokens) take images and reshape
them in their first layer.
"""
from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError, brief
from ..nn.architecture import ArchitectureError, build, count_numbers, validate
from ..nn.init import as_generator
from ..nn.module import Module
from .checks import DATA_KEYS, image_size
from .mlp import MLP_MODELS

try:
    from .cnn import CNN_MODELS
except ModuleNotFoundError as exc:  # pragma: no cover - only while cnn.py is absent
    if exc.name != f"{__name__}.cnn":
        raise
    CNN_MODELS = {}
from .recurrent import RECURRENT_MODELS
from .vit import VIT_MODELS
from . import described

INPUT_KINDS = ("flat", "image")
#: The input of each kind for MNIST, per sample: 784 pixels, or a one-channel 28x28 image
#: (``input_shape(spec)`` gives a spec's own, for its ``image_size``).
INPUT_SHAPES: dict[str, tuple[int, ...]] = {"flat": (784,), "image": (1, 28, 28)}


@dataclass(frozen=True)
class ModelEntry:
    """One registered architecture.

    ``build(spec, rng) -> Module`` gets the full spec (defaults filled in), as does
    ``architecture(spec) -> dict`` (None for an entry that only has a builder); ``defaults``
    are the spec's settings other than ``name``; ``input`` is "flat" or "image"; ``train``
    holds training hyper-parameters that suit the model (optional, used as the CLI's defaults).
    """

    name: str
    build: Callable[[dict, np.random.Generator], Module]
    defaults: dict[str, Any]
    input: str
    description: str
    train: dict[str, Any] = field(default_factory=dict)
    architecture: Callable[[dict], dict] | None = None


def _entry(name: str, raw: Any) -> ModelEntry:
    """A ``ModelEntry`` from a registry table value (a dict or an object with those fields)."""
    if isinstance(raw, ModelEntry):
        return raw
    get = raw.get if isinstance(raw, dict) else (lambda k, d=None: getattr(raw, k, d))
    arch = get("architecture")
    build_ = get("build") or (arch and (lambda spec, rng: build(arch(spec), rng)))
    kind = get("input", "image")
    if not callable(build_) or kind not in INPUT_KINDS or not (arch is None or callable(arch)):
        raise TypeError(f"model registry: entry {name!r} needs a callable 'architecture' or "
                        f"'build' and an input kind in {INPUT_KINDS}")
    defaults = dict(get("defaults", None) or {})
    defaults.pop("name", None)
    return ModelEntry(name=name, build=build_, defaults=defaults, input=kind,
                      description=str(get("description", "") or ""),
                      train=dict(get("train", None) or {}), architecture=arch)


REGISTRY: dict[str, ModelEntry] = {
    name: _entry(name, raw) for table in (MLP_MODELS, CNN_MODELS, RECURRENT_MODELS, VIT_MODELS,
                                          described.DESCRIBED_MODELS)
    for name, raw in table.items()
}
#: The presets (``--model NAME``, ``barenet models``): every entry but a described model.
MODEL_NAMES: tuple[str, ...] = tuple(n for n in REGISTRY if n != described.NAME)


def get_entry(name: Any) -> ModelEntry:
    """The registry entry of ``name``; ConfigError naming the known models if there is none."""
    if not isinstance(name, str) or name not in REGISTRY:
        raise ConfigError(f"unknown model {name!r}, expected one of: {', '.join(MODEL_NAMES)}")
    return REGISTRY[name]


def _name_of(spec: Any) -> str:
    if isinstance(spec, str):
        return spec
    if not isinstance(spec, dict) or "name" not in spec:
        raise ConfigError(f"model spec must be a dict with a 'name', got {brief(repr(spec))}")
    return spec["name"]


def default_spec(name: str) -> dict[str, Any]:
    """The complete spec of model ``name`` with its default settings, e.g. {"name": "mlp",
    "hidden": 200}. A fresh copy each call."""
    entry = get_entry(name)
    return {"name": entry.name, **_copy(entry.defaults)}


def resolve_spec(spec: dict | str) -> dict[str, Any]:
    """``spec`` with every missing setting filled from the defaults; ConfigError on an unknown
    model or setting. The data keys (``checks.DATA_KEYS``: ``num_classes``, ``image_size``)
    are kept only when given; absent, the preset fits MNIST."""
    name = _name_of(spec)
    full = default_spec(name)
    given = {} if isinstance(spec, str) else spec
    unknown = sorted(set(given) - set(full) - set(DATA_KEYS))
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
    gen = as_generator(rng, "build_model")
    try:
        return REGISTRY[full["name"]].build(full, gen)
    except (ValueError, TypeError) as exc:  # a layer refused a setting from the spec
        raise ConfigError(f"model {full['name']!r}: invalid spec {brief(full)}: {exc}") from None


def architecture_of(spec: dict | str) -> dict[str, Any]:
    """The checked JSON architecture the preset ``spec`` stands for (what ``build_model``
    builds); ConfigError as ``build_model``, or for an entry without an architecture."""
    full = resolve_spec(spec)
    entry = REGISTRY[full["name"]]
    if entry.architecture is None:
        raise ConfigError(f"model {full['name']!r} has no JSON architecture, only a builder")
    try:
        return validate(entry.architecture(full))
    except ArchitectureError as exc:
        raise ConfigError(f"model {full['name']!r}: invalid spec {brief(full)}: {exc}") from None


def model_input(spec: dict | str) -> str:
    """"flat" if the model takes (N, S*S) vectors, "image" if it takes (N, 1, S, S)."""
    if _name_of(spec) == described.NAME and isinstance(spec, dict):
        return described.input_kind(spec)
    return get_entry(_name_of(spec)).input


def input_shape(spec: dict | str) -> tuple[int, ...]:
    """The input the model takes, per sample: (S*S,) or (1, S, S) with S the spec's
    ``image_size`` ((784,) or (1, 28, 28) for MNIST)."""
    if _name_of(spec) == described.NAME and isinstance(spec, dict):
        return described.input_shape(spec)
    side = image_size(spec) if isinstance(spec, dict) else DATA_KEYS["image_size"]
    return (side * side,) if model_input(spec) == "flat" else (1, side, side)


def count_parameters(model: Module) -> int:
    """Number of trainable scalars in ``model``."""
    return int(sum(p.data.size for p in model.parameters()))


def describe_models() -> list[dict[str, Any]]:
    """One dict per registered model: name, params (count with default settings), input,
    description, spec (the default spec)."""
    rows = []
    for name in MODEL_NAMES:
        entry = REGISTRY[name]
        spec = default_spec(name)
        params = count_numbers(architecture_of(spec))[0] if entry.architecture else \
            count_parameters(build_model(spec, rng=0))
        rows.append({"name": name, "params": params, "input": entry.input,
                     "description": entry.description, "spec": spec})
    return rows


def _copy(d: dict[str, Any]) -> dict[str, Any]:
    """A copy deep enough for spec values (lists of ints)."""
    return {k: (list(v) if isinstance(v, (list, tuple)) else v) for k, v in d.items()}


__all__ = ["INPUT_SHAPES", "MODEL_NAMES", "REGISTRY", "ModelEntry", "architecture_of",
           "build_model", "count_parameters", "default_spec", "describe_models", "get_entry",
           "input_shape", "model_input", "resolve_spec"]
