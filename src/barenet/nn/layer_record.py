"""A layer describes itself, beside its maths: what ``Module`` inherits from ``LayerRecord``.

Every layer answers four questions, asked of its *class* with a configuration (the JSON-able
constructor arguments), so nothing is built to answer them:

- ``get_config()`` / ``from_config(config, rng)``: the constructor arguments, PyTorch's names;
  ``check_config(config)`` checks an untrusted one and fills in the defaults.
- ``count_numbers(config)``: (parameters, buffer values) it allocates.
- ``infer_shape(config, shape)``: the per-sample output shape for a per-sample input shape, or
  ``ShapeMismatch`` saying what it expects.
- ``step_memory(config, shape, out, first)``: the bytes per sample a training step costs
  (``LayerMemory``).

A built-in layer declares ``ARGS`` (``layer_args.Arg``) and writes the last three in a few
lines from its maths, in the words of ``layer_costs.py``. A user's layer declares nothing: its
configuration is its constructor's arguments stored as attributes of the same names
(scikit-learn's ``get_params`` convention), and the rest is *measured* by ``layer_probe.py``:
the layer built from its configuration, run forward and backward on batches of 16 and 48 random
samples; output shape from the output, memory from what ``tracemalloc`` sees NumPy allocate
(the difference of the two batches, per sample).
"""
from __future__ import annotations

import inspect
from typing import Any, ClassVar

import numpy as np

from .layer_args import REQUIRED, Arg, checked
from .layer_costs import FLOAT, LayerMemory, ShapeMismatch, values
from .layer_probe import measure, measure_shape

#: Constructor arguments that are not configuration: the weights' generator and their dtype.
NOT_CONFIG = ("self", "rng", "dtype")


class LayerRecord:
    """The self-description every Module has (see the module docstring). Defaults serve a
    user's layer by reading its constructor and probing; built-in layers override them."""

    #: Constructor arguments and how each is checked; None: read from the signature.
    ARGS: ClassVar[dict[str, Arg] | None] = None
    #: How ``serve`` groups the layer into blocks: "norm" (a normalisation: does not start a
    #: block), "passthrough" (only moves numbers at inference), "selection" (picks part of a
    #: sequence), or None (a layer with parameters starts a block; others join the block).
    ROLE: ClassVar[str | None] = None
    #: Whether the layer takes an input (and an upstream gradient) in any memory order
    #: correctly: element-wise, or reducing only over the batch, or only multiplying matrices.
    #: Otherwise it receives C-contiguous arrays (the layout rule, ``module.py``).
    LAYOUT_AWARE: ClassVar[bool] = False
    #: (configuration, per-sample input shape) of a small instance: what the tests generated
    #: from the registry build and check (gradients, shapes, memory, save/load, parity).
    EXAMPLE: ClassVar[tuple[dict[str, Any], tuple[int, ...]] | None] = None

    # -- configuration ------------------------------------------------------------------------
    @classmethod
    def config_args(cls) -> dict[str, Arg]:
        """The constructor arguments: ``ARGS``, or those of ``__init__``'s signature (with
        their defaults; kind "json")."""
        if cls.ARGS is not None:
            return cls.ARGS
        out = {}
        for p in inspect.signature(cls.__init__).parameters.values():
            if p.name in NOT_CONFIG:
                continue
            if p.kind in (p.VAR_POSITIONAL, p.VAR_KEYWORD):
                raise TypeError(f"{cls.__name__}.__init__ takes *{p.name}: a layer's "
                                f"constructor must name each argument")
            out[p.name] = Arg("json", REQUIRED if p.default is p.empty else p.default)
        return out

    def config_value(self, name: str) -> Any:
        """The value of constructor argument ``name`` that built this layer: the attribute of
        that name (a bool argument named like a parameter, e.g. ``bias``: whether it exists)."""
        if name not in self.__dict__ and name not in getattr(self, "_parameters", {}):
            raise AttributeError(
                f"{type(self).__name__} does not store its constructor argument {name!r} as "
                f"self.{name} (a layer's configuration is read from attributes named like its "
                f"constructor arguments)")
        value = getattr(self, name)
        if self.config_args()[name].kind == "bool" and not isinstance(value, (bool, np.bool_)):
            return value is not None
        return value

    def get_config(self) -> dict[str, Any]:
        """The JSON-able constructor arguments that rebuild this layer (PyTorch's names)."""
        return {name: checked(name, arg, self.config_value(name))
                for name, arg in self.config_args().items()}

    @classmethod
    def check_config(cls, config: dict[str, Any]) -> dict[str, Any]:
        """An untrusted configuration checked, canonical, with defaults filled in; ValueError
        naming the first wrong argument."""
        spec = cls.config_args()
        unknown = sorted(map(str, set(config) - set(spec)))
        if unknown:
            raise ValueError(f"unknown argument {unknown[0][:40]!r}, expected some of: "
                             f"{', '.join(spec) or 'none'}")
        missing = [name for name, arg in spec.items()
                   if name not in config and arg.default is REQUIRED]
        if missing:
            raise ValueError(f"missing argument {missing[0]!r}")
        return {name: checked(name, arg, config.get(name, arg.default))
                for name, arg in spec.items()}

    @classmethod
    def from_config(cls, config: dict[str, Any], rng: np.random.Generator | None = None) -> Any:
        """The layer a checked configuration describes, weights drawn from ``rng`` if its
        constructor takes one (lists become tuples)."""
        kwargs = {k: tuple(v) if isinstance(v, list) else v for k, v in config.items()}
        if "rng" in inspect.signature(cls.__init__).parameters:
            kwargs["rng"] = rng
        return cls(**kwargs)

    @classmethod
    def expected_input(cls, config: dict[str, Any], image_size: tuple[int, int]
                       ) -> tuple[int, ...] | None | bool:
        """The per-sample input this layer takes as a model's first layer that cares, for
        images of ``image_size``: a shape, None (no opinion: ask the next layer) or False
        (not an image: the input cannot be told)."""
        return None

    # -- what it costs ------------------------------------------------------------------------
    @classmethod
    def count_numbers(cls, config: dict[str, Any]) -> tuple[int, int]:
        """(parameters, buffer values) the layer allocates; by default counted on one built."""
        layer = cls.from_config(config, np.random.default_rng(0))
        return (sum(int(p.data.size) for p in layer.parameters()),
                sum(int(b.size) for b in layer.buffers()))

    @classmethod
    def infer_shape(cls, config: dict[str, Any], shape: tuple[int, ...]) -> tuple[int, ...]:
        """Per-sample output shape for per-sample input ``shape``; by default measured by
        running the layer on a batch of 16."""
        return measure_shape(cls, config, tuple(shape))

    @classmethod
    def step_memory(cls, config: dict[str, Any], shape: tuple[int, ...], out: tuple[int, ...],
                    first: bool) -> LayerMemory:
        """Bytes per sample of a training step (``LayerMemory``); by default measured with
        tracemalloc on batches of 16 and 48 (``first`` does not change a measured layer)."""
        return measure(cls, config, tuple(shape)).memory


class NoParameters:
    """Record of a layer without parameters or buffers (a base class beside ``Module``)."""

    @classmethod
    def count_numbers(cls, config: dict[str, Any]) -> tuple[int, int]:
        return 0, 0


class SameShape(NoParameters):
    """Record of a parameterless layer whose output has its input's shape (element-wise)."""

    @classmethod
    def infer_shape(cls, config: dict[str, Any], shape: tuple[int, ...]) -> tuple[int, ...]:
        return tuple(shape)


__all__ = ["FLOAT", "LayerMemory", "LayerRecord", "NoParameters", "SameShape", "ShapeMismatch",
           "values"]
