"""A model as data: a Sequential of built-in layers described as JSON, and built back from it.

``describe(model)`` gives, for each layer, its type and constructor arguments, read from its
public attributes::

    {"type": "Sequential", "layers": [
        {"type": "Conv2d", "args": {"in_channels": 1, "out_channels": 8, "kernel_size": [3, 3],
                                    "stride": [1, 1], "padding": [0, 0], "bias": true}},
        {"type": "ReLU", "args": {}}, ...]}

``build(desc, rng)`` makes the model again with fresh weights (load a state_dict after it). A
description is untrusted input: ``validate`` checks every type name, argument name, type and
range, the nesting depth and the number of layers, and counts the parameters and buffers from
the description alone, before anything is allocated (``architecture_shapes.py`` follows a
sample's shape through it; ``architecture_layers.py`` holds the table of layers, their
arguments and how each is checked). Every problem is an ``ArchitectureError``: one line
naming the layer by its position (``layer 2.1``, as in state_dict keys).
"""
from __future__ import annotations

from typing import Any

from . import init
from .architecture_layers import (LAYERS, MAX_DIM, MAX_KERNEL, MAX_SIZE, REQUIRED, SEEDED, Arg,
                                  check, divisibility_problem, layer_numbers, read_arg)
from .dropout import Dropout
from .module import Module
from .pooling import AvgPool2d, MaxPool2d
from .sequential import Sequential

MAX_NUMBERS = 50_000_000     # parameters + buffers a description may ask for
MAX_LAYERS = 1000            # layers in all, containers included
MAX_DEPTH = 16               # Sequentials nested in Sequentials


class ArchitectureError(ValueError):
    """A model that cannot be described, or a description that cannot be built."""


BUILT_IN = ", ".join(["Sequential", *LAYERS])


def _short(v: Any) -> str:
    text = repr(v)
    return text if len(text) <= 40 else text[:37] + "..."


def describe(model: Module) -> dict[str, Any]:
    """The JSON description of ``model``: a built-in layer or a (nested) Sequential of them.

    Raises ArchitectureError naming the first layer that is not built in (a subclass of a
    built-in layer is not built in: its constructor or forward may differ).
    """
    return _describe(model, "", 0)


def position(path: str) -> str:
    """How errors name a layer: by its position, as in state_dict keys."""
    return f"layer {path}" if path else "the model"


def _describe(module: Module, path: str, depth: int) -> dict[str, Any]:
    where = position(path)
    cls = type(module)
    if cls is Sequential:
        if depth >= MAX_DEPTH:
            raise ArchitectureError(f"{where}: Sequentials nested deeper than {MAX_DEPTH}")
        return {"type": "Sequential", "layers": [
            _describe(child, f"{path}.{name}" if path else name, depth + 1)
            for name, child in module._modules.items()]}
    entry = LAYERS.get(cls.__name__)
    if entry is None or entry[0] is not cls:
        base = next((b.__name__ for b in cls.__mro__[1:] if b is Sequential or any(
            b is e[0] for e in LAYERS.values())), None)
        what = f"{cls.__name__}, a subclass of {base}" if base else cls.__name__
        raise ArchitectureError(f"{where} ({what}) is not a built-in barenet layer; save_run "
                                f"can only describe a Sequential of {BUILT_IN}")
    args = {}
    for name, arg in entry[1].items():
        value = read_arg(module, cls.__name__, name)
        try:
            args[name] = check(arg.kind, value)
        except ValueError as exc:
            raise ArchitectureError(f"{where} ({cls.__name__}): {name} {exc}, got "
                                    f"{_short(value)}") from None
    return {"type": cls.__name__, "args": args}


def validate(desc: Any) -> dict[str, Any]:
    """A checked, canonical copy of an untrusted description (defaults filled in, pairs as
    lists). Also refuses more than ``MAX_NUMBERS`` parameters and buffers in all."""
    counter = {"layers": 0}
    out = _validate(desc, "", 0, counter)
    params, buffers = count_numbers(out)
    if params + buffers > MAX_NUMBERS:
        raise ArchitectureError(f"architecture: {params + buffers:,} parameters and buffers, "
                                f"more than the limit of {MAX_NUMBERS:,}")
    return out


def _validate(desc: Any, path: str, depth: int, counter: dict[str, int]) -> dict[str, Any]:
    where = f"architecture: {position(path)}"
    counter["layers"] += 1
    if counter["layers"] > MAX_LAYERS:
        raise ArchitectureError(f"architecture: more than {MAX_LAYERS} layers")
    if not isinstance(desc, dict):
        raise ArchitectureError(f"{where}: expected an object with a 'type', got "
                                f"{type(desc).__name__}")
    kind = desc.get("type")
    if kind == "Sequential":
        layers = desc.get("layers")
        extra = sorted(map(str, set(desc) - {"type", "layers"}))
        if extra or not isinstance(layers, list):
            raise ArchitectureError(f"{where} (Sequential): expected keys 'type' and 'layers' "
                                    f"(a list), got {sorted(map(str, desc))}")
        if depth >= MAX_DEPTH:
            raise ArchitectureError(f"{where}: Sequentials nested deeper than {MAX_DEPTH}")
        return {"type": "Sequential", "layers": [
            _validate(d, f"{path}.{i}" if path else str(i), depth + 1, counter)
            for i, d in enumerate(layers)]}
    if not isinstance(kind, str) or kind not in LAYERS:
        raise ArchitectureError(f"{where}: unknown layer type {_short(kind)}, expected one of "
                                f"{BUILT_IN}")
    args = desc.get("args", {})
    extra = sorted(map(str, set(desc) - {"type", "args"}))
    if extra or not isinstance(args, dict):
        raise ArchitectureError(f"{where} ({kind}): expected keys 'type' and 'args' (an "
                                f"object), got {sorted(map(str, desc))}")
    spec = LAYERS[kind][1]
    unknown = sorted(map(str, set(args) - set(spec)))
    if unknown:
        raise ArchitectureError(f"{where} ({kind}): unknown argument {_short(unknown[0])}, "
                                f"expected some of: {', '.join(spec) or 'none'}")
    out = {}
    for name, arg in spec.items():
        if name not in args and arg.default is REQUIRED:
            raise ArchitectureError(f"{where} ({kind}): missing argument {name!r}")
        value = args.get(name, arg.default)
        try:
            out[name] = None if value is None and arg.default is None else check(arg.kind, value)
        except ValueError as exc:
            raise ArchitectureError(f"{where} ({kind}): {name} {exc}, got {_short(value)}") \
                from None
    if LAYERS[kind][0] in (MaxPool2d, AvgPool2d):
        if out["stride"] is None:
            out["stride"] = out["kernel_size"]
        if any(p > k // 2 for p, k in zip(out["padding"], out["kernel_size"])):
            raise ArchitectureError(f"{where} ({kind}): padding must be at most half the "
                                    f"kernel size {out['kernel_size']}, got {out['padding']}")
    problem = divisibility_problem(kind, out)
    if problem:
        raise ArchitectureError(f"{where} ({kind}): {problem}")
    return {"type": kind, "args": out}


def leaves(desc: dict[str, Any], path: str = "") -> list[tuple[str, dict[str, Any]]]:
    """The non-container layers of a validated description, in order, with their positions."""
    if desc["type"] != "Sequential":
        return [(path, desc)]
    return [leaf for i, d in enumerate(desc["layers"])
            for leaf in leaves(d, f"{path}.{i}" if path else str(i))]


def count_numbers(desc: dict[str, Any]) -> tuple[int, int]:
    """(parameters, buffer values) a validated description allocates."""
    params = buffers = 0
    for _, d in leaves(desc):
        p, b = layer_numbers(d["type"], d["args"])
        params, buffers = params + p, buffers + b
    return params, buffers


def build(desc: Any, rng: init.RNGLike = 0) -> Module:
    """The Module a description describes (validated first), weights drawn from ``rng`` in
    layer order; each Dropout gets a generator spawned from it."""
    checked = validate(desc)
    return _build(checked, init.as_generator(rng), "")


def _build(desc: dict[str, Any], gen: np.random.Generator, path: str) -> Module:
    if desc["type"] == "Sequential":
        return Sequential(*(_build(d, gen, f"{path}.{i}" if path else str(i))
                            for i, d in enumerate(desc["layers"])))
    cls, spec = LAYERS[desc["type"]]
    args = {k: tuple(v) if isinstance(v, list) else v for k, v in desc["args"].items()}
    if cls in SEEDED:
        args["rng"] = gen
    elif cls is Dropout:
        args["rng"] = gen.spawn(1)[0]
    try:
        return cls(**args)
    except (TypeError, ValueError) as exc:
        raise ArchitectureError(f"architecture: {position(path)} ({desc['type']}): "
                                f"{exc}") from None


def layer(kind: str, **args: Any) -> dict[str, Any]:
    """One layer's description, e.g. ``layer("Linear", in_features=784, out_features=10)``."""
    return {"type": kind, "args": args}


def sequential(*layers: dict[str, Any]) -> dict[str, Any]:
    """A Sequential's description from its layers' descriptions."""
    return {"type": "Sequential", "layers": list(layers)}


__all__ = ["ArchitectureError", "Arg", "LAYERS", "MAX_DIM", "MAX_KERNEL", "MAX_NUMBERS",
           "MAX_SIZE", "REQUIRED", "build", "count_numbers", "describe",
           "layer", "leaves", "position", "sequential", "validate"]
