"""The words a layer's record answers in: what an input shape it cannot take raises
(``ShapeMismatch``) and what one more sample costs it in a training step (``LayerMemory``).
"""
from __future__ import annotations

import math
from dataclasses import dataclass

FLOAT = 4                    # bytes of a float32


class ShapeMismatch(ValueError):
    """An input shape a layer cannot take; ``str(exc)`` says what it expects: ``(N, 784)``."""


@dataclass(frozen=True)
class LayerMemory:
    """What one more sample costs a layer in a training step, in bytes.

    ``cache``: kept from forward until backward; ``work``: work arrays kept between steps;
    ``moment``: the most alive at once inside its forward or backward; ``keeps_input``: it
    holds its input by reference until backward (counted unless it is the first layer);
    ``eval_moment``: the most alive at once in an evaluation forward (None: input + output);
    ``fixed``: bytes of a step that do not grow with the batch.
    """

    cache: int = 0
    work: int = 0
    moment: int = 0
    keeps_input: bool = False
    eval_moment: int | None = None
    fixed: int = 0


def values(shape: tuple[int, ...]) -> int:
    """Numbers in one sample of ``shape``."""
    return math.prod(shape)


__all__ = ["FLOAT", "LayerMemory", "ShapeMismatch", "values"]
