"""The one registry of layers, built-in and yours: a model described as data names each layer by
the name it was registered under, and everything that reads a description (building, shapes,
memory, summary, export, serve) finds the class here and asks it.

    @register_layer
    class Swish(nn.Module):
        def __init__(self, beta: float = 1.0):
            super().__init__()
            self.beta = beta            # stored under its own name: the layer's configuration
        def forward(self, x): ...
        def backward(self, grad_out): ...

Registering checks that the class can describe itself and be rebuilt from that description:
a Module subclass with its own ``forward`` and ``backward`` and a constructor whose arguments
are all named. A name belongs to one class; registering the same class again (re-running a
notebook cell, importing a file twice) replaces it, another class under a taken name is an error.
"""
from __future__ import annotations

import inspect
from typing import Callable, TypeVar, overload

from .module import Module

T = TypeVar("T", bound=type)
_LAYERS: dict[str, type[Module]] = {}
#: Names no layer may take: the containers a description nests.
RESERVED = ("Sequential",)


class LayerRegistryError(TypeError):
    """A class that cannot be registered as a layer, or a name already taken."""


def _origin(cls: type) -> tuple[str, str]:
    return cls.__module__, cls.__qualname__


def _check(cls: type, name: str) -> None:
    if not (isinstance(cls, type) and issubclass(cls, Module)):
        raise LayerRegistryError(f"register_layer: {cls!r} is not a subclass of nn.Module")
    if not name.isidentifier() or name in RESERVED:
        raise LayerRegistryError(f"register_layer: {name!r} cannot name a layer (a Python "
                                 f"identifier other than {', '.join(RESERVED)})")
    missing = [m for m in ("forward", "backward") if getattr(cls, m) is getattr(Module, m)]
    if missing:
        raise LayerRegistryError(f"register_layer: {name} does not define "
                                 f"{' or '.join(missing)}")
    try:
        cls.config_args()
    except TypeError as exc:
        raise LayerRegistryError(f"register_layer: {name} cannot be rebuilt from its "
                                 f"configuration: {exc}") from None
    if cls.ARGS is not None:
        params = inspect.signature(cls.__init__).parameters
        absent = [a for a in cls.ARGS if a not in params]
        if absent:
            raise LayerRegistryError(f"register_layer: {name}.ARGS names {absent[0]!r}, which "
                                     f"its constructor does not take")


@overload
def register_layer(cls: T) -> T: ...
@overload
def register_layer(cls: None = None, *, name: str | None = None) -> Callable[[T], T]: ...


def register_layer(cls=None, *, name=None):
    """Register a layer class under its class name (or ``name``); usable as a decorator, with
    or without arguments. Returns the class. LayerRegistryError, in one line, if the class
    cannot describe and rebuild itself or the name is taken by another class."""
    def add(c: T) -> T:
        key = name or getattr(c, "__name__", repr(c))
        _check(c, key)
        old = _LAYERS.get(key)
        if old is not None and old is not c and _origin(old) != _origin(c):
            raise LayerRegistryError(
                f"register_layer: the name {key!r} is taken by {'.'.join(_origin(old))}; "
                f"register {'.'.join(_origin(c))} under another name (name=...)")
        _LAYERS[key] = c
        c.layer_type = key
        return c

    return add(cls) if cls is not None else add


def unregister_layer(name: str) -> None:
    """Remove a layer registered under ``name`` (tests; a notebook starting over)."""
    _LAYERS.pop(name, None)


def layer_class(name: str) -> type[Module] | None:
    """The class registered under ``name``, or None."""
    return _LAYERS.get(name)


def registered() -> dict[str, type[Module]]:
    """Every registered layer, by name, in registration order (a copy)."""
    return dict(_LAYERS)


def type_name(module: Module) -> str | None:
    """The name ``module``'s exact class is registered under, or None (a subclass of a
    registered layer is not registered: its constructor or forward may differ)."""
    name = getattr(type(module), "layer_type", None)
    return name if name is not None and _LAYERS.get(name) is type(module) else None


def is_builtin(cls: type) -> bool:
    """Whether ``cls`` is one of barenet's own layers."""
    return cls.__module__.startswith("barenet.")


__all__ = ["LayerRegistryError", "is_builtin", "layer_class", "register_layer", "registered",
           "type_name", "unregister_layer"]
