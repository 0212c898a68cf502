"""Shapes through a described architecture, found without building or computing anything.

Each layer answers for itself (``infer_shape`` and ``expected_input``, beside its maths);
this file walks a description and turns a layer's answer into an ``ArchitectureError`` naming
the layer. ``infer_input_shape`` reads the input a model takes from its first layers that
care; ``output_shape`` follows one sample's shape (without the batch) layer by layer, refusing
a layer that does not fit its input or would make more than ``MAX_ACTIVATION`` values per
sample (a description is untrusted: a chain of padded convolutions could otherwise ask for
terabytes).
"""
from __future__ import annotations

import math
from typing import Any, Iterator

from .architecture import ArchitectureError, leaves, position
from .layer_record import ShapeMismatch
from .registry import layer_class

MAX_ACTIVATION = 1 << 22     # values one sample may produce at any layer (4M)


def infer_input_shape(desc: dict[str, Any], image_size: tuple[int, int]) -> tuple[int, ...] | None:
    """The per-sample input a validated description takes, read from its first layer that
    says (``expected_input``): Linear -> (in_features,), Conv2d -> (in_channels, H, W), a
    recurrent or attention layer -> (H, features) (the image's rows as a sequence), ...
    None if no layer says (or the first that cares takes integer ids)."""
    for _, d in leaves(desc):
        said = layer_class(d["type"]).expected_input(d["args"], tuple(image_size))
        if said is False:
            return None
        if said is not None:
            return tuple(int(v) for v in said)
    return None


def shapes(desc: dict[str, Any], input_shape: tuple[int, ...]
           ) -> Iterator[tuple[str, dict[str, Any], tuple[int, ...], tuple[int, ...]]]:
    """(position, layer description, input shape, output shape) of each layer of a validated
    description, per sample; ArchitectureError at the first layer that does not fit, or that
    would make more than ``MAX_ACTIVATION`` values per sample."""
    shape = tuple(input_shape)
    for path, d in leaves(desc):
        t = d["type"]
        cls = layer_class(t)
        if cls is None:
            raise ArchitectureError(f"architecture: {position(path)}: unknown layer type "
                                    f"{str(t)[:40]!r} (validate the description first)")
        try:
            out = tuple(int(v) for v in cls.infer_shape(d["args"], shape))
        except ShapeMismatch as exc:
            got = "(N, " + ", ".join(map(str, shape)) + ")"
            raise ArchitectureError(f"architecture: {position(path)} ({t}) expects input {exc}, "
                                    f"gets {got}") from None
        if math.prod(out) > MAX_ACTIVATION:
            raise ArchitectureError(f"architecture: {position(path)} ({t}) would output "
                                    f"{math.prod(out):,} values per sample, more than the "
                                    f"limit of {MAX_ACTIVATION:,}")
        yield path, d, shape, out
        shape = out


def output_shape(desc: dict[str, Any], input_shape: tuple[int, ...]) -> tuple[int, ...]:
    """The per-sample output shape of a validated description for ``input_shape`` (without
    the batch), found without computing anything (see ``shapes``)."""
    out = tuple(input_shape)
    for *_, out in shapes(desc, input_shape):
        pass
    return out


__all__ = ["MAX_ACTIVATION", "infer_input_shape", "output_shape", "shapes"]
