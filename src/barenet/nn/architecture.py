"""A model as data: a Sequential of registered layers described as JSON, and built back from it.

``describe(model)`` gives, for each layer, the name it is registered under and its
configuration (``get_config()``, its constructor arguments)::

    {"type": "Sequential", "layers": [
        {"type": "Conv2d", "args": {"in_channels": 1, "out_channels": 8, "kernel_size": [3, 3],
                                    "stride": [1, 1], "padding": [0, 0], "bias": true}},
        {"type": "ReLU", "args": {}}, ...]}

``build(desc, rng)`` makes the model again with fresh weights (load a state_dict after it). A
description is untrusted input: ``validate`` checks every type name against the registry
(``registry.py``: built-in layers and the ones you registered), every argument with the layer's
own ``check_config``, the nesting depth and the number of layers, and counts the parameters and
buffers from the description alone, before anything is allocated (``architecture_shapes.py``
follows a sample's shape through it, asking each layer). Every problem is an
``ArchitectureError``: one line naming the layer by its position (``layer 2.1``, as in
state_dict keys).
"""
from __future__ import annotations

import inspect
import os
from typing import Any

import numpy as np

from . import init
from .layer_args import quoted
from .module import Module
from .registry import is_builtin, layer_class, registered, type_name
from .sequential import Sequential

MAX_NUMBERS = 50_000_000     # parameters + buffers a description may ask for
MAX_LAYERS = 1000            # layers in all, containers included
MAX_DEPTH = 16               # Sequentials nested in Sequentials


class ArchitectureError(ValueError):
    """A model that cannot be described, or a description that cannot be built."""


MAX_NAMES = 280              # characters of the list of known layers a message quotes


def known_layers() -> str:
    """The layer names a description may use, for messages (cut when many are registered)."""
    text = ", ".join(["Sequential", *registered()])
    return text if len(text) <= MAX_NAMES else text[:text.rindex(", ", 0, MAX_NAMES)] + ", ..."


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
    kind = type_name(module)
    if kind is None:
        base = next((b.__name__ for b in cls.__mro__[1:] if b is Sequential
                     or layer_class(b.__name__) is b), None)
        what = f"{cls.__name__}, a subclass of {base}" if base else cls.__name__
        raise ArchitectureError(f"{where} ({what}) is not a registered layer: decorate its class "
                                f"with @barenet.nn.register_layer (registered: {known_layers()})")
    try:
        args = module.get_config()
    except (AttributeError, ValueError, TypeError) as exc:
        raise ArchitectureError(f"{where} ({kind}): {exc}") from None
    return {"type": kind, "args": args}


def validate(desc: Any, sources: dict[str, str] | None = None) -> dict[str, Any]:
    """A checked, canonical copy of an untrusted description (defaults filled in, pairs as
    lists). Also refuses more than ``MAX_NUMBERS`` parameters and buffers in all.
    ``sources``: for layers of your own, the file each came from (named when one is not
    registered)."""
    counter = {"layers": 0}
    out = _validate(desc, "", 0, counter, sources)
    params, buffers = count_numbers(out)
    if params + buffers > MAX_NUMBERS:
        raise ArchitectureError(f"architecture: {params + buffers:,} parameters and buffers, "
                                f"more than the limit of {MAX_NUMBERS:,}")
    return out


def _validate(desc: Any, path: str, depth: int, counter: dict[str, int],
              sources: dict[str, str] | None) -> dict[str, Any]:
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
            _validate(d, f"{path}.{i}" if path else str(i), depth + 1, counter, sources)
            for i, d in enumerate(layers)]}
    cls = layer_class(kind) if isinstance(kind, str) else None
    if cls is None:
        source = (sources or {}).get(kind) if isinstance(kind, str) else None
        if source:
            raise ArchitectureError(f"{where}: this run needs layer {quoted(kind)[1:-1]} from "
                                    f"{source}: pass --layers {source}")
        raise ArchitectureError(f"{where}: unknown layer type {quoted(kind)}, expected one of "
                                f"{known_layers()}, or one of your own (--layers FILE.py)")
    args = desc.get("args", {})
    extra = sorted(map(str, set(desc) - {"type", "args"}))
    if extra or not isinstance(args, dict):
        raise ArchitectureError(f"{where} ({kind}): expected keys 'type' and 'args' (an "
                                f"object), got {sorted(map(str, desc))}")
    try:
        out = cls.check_config(args)
    except (ValueError, TypeError) as exc:
        raise ArchitectureError(f"{where} ({kind}): {exc}") from None
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
    for path, d in leaves(desc):
        try:
            p, b = layer_class(d["type"]).count_numbers(d["args"])
        except (ValueError, TypeError) as exc:
            raise ArchitectureError(f"architecture: {position(path)} ({d['type']}): {exc}") \
                from None
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
    cls = layer_class(desc["type"])
    try:
        return cls.from_config(desc["args"], gen)
    except (TypeError, ValueError) as exc:
        raise ArchitectureError(f"architecture: {position(path)} ({desc['type']}): "
                                f"{exc}") from None


def layer(kind: str, **args: Any) -> dict[str, Any]:
    """One layer's description, e.g. ``layer("Linear", in_features=784, out_features=10)``."""
    return {"type": kind, "args": args}


def sequential(*layers: dict[str, Any]) -> dict[str, Any]:
    """A Sequential's description from its layers' descriptions."""
    return {"type": "Sequential", "layers": list(layers)}


def user_layers(model: Module) -> dict[str, dict[str, str]]:
    """The registered layers of your own in ``model``: name -> {"module", "file"} (the file's
    name only), for a run to say where each came from."""
    found = {}
    for m in model.modules():
        kind = type_name(m)
        if kind is not None and not is_builtin(type(m)) and kind not in found:
            try:
                path = inspect.getsourcefile(type(m)) or ""
            except TypeError:
                path = ""
            found[kind] = {"module": type(m).__module__, "file": os.path.basename(path)}
    return found


__all__ = ["ArchitectureError", "MAX_NUMBERS", "build", "count_numbers", "describe",
           "known_layers", "layer", "leaves", "position", "sequential", "user_layers", "validate"]
