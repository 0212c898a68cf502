"""Inverted dropout: zero each input with probability p in training, scale survivors by 1/(1-p)."""
from __future__ import annotations

import numpy as np

from . import init
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, SameShape, values
from .module import Module
from .registry import register_layer


@register_layer
class Dropout(SameShape, Module):
    """Randomly zero elements with probability ``p`` while ``self.training``; identity in eval.

    Survivors are scaled by 1 / (1 - p) so the expected output equals the input and evaluation
    needs no rescaling. Shapes: any (N, *) -> same. The mask comes from the layer's own
    ``rng`` (a Generator or a seed), so a run is reproducible from its seed.
    Backward: g * mask, with the scaled mask cached in forward.
    """

    LAYOUT_AWARE = True          # element-wise

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"p": 0.3}, (3, 5))

    ARGS = {"p": Arg("prob", 0.5)}
    ROLE = "passthrough"

    @classmethod
    def from_config(cls, config: dict, rng=None) -> "Dropout":
        """Its masks come from a generator of its own, spawned from ``rng``."""
        return cls(config["p"], rng=None if rng is None else rng.spawn(1)[0])

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps the scaled mask; forward holds its input, the random draws or their one-byte
        comparison, and the output beside the new mask; backward the upstream gradient and
        the result."""
        x = FLOAT * values(shape)
        return LayerMemory(cache=x, moment=2 * x + values(shape))

    def __init__(self, p: float = 0.5, rng: init.RNGLike = None) -> None:
        super().__init__()
        if isinstance(p, bool) or not isinstance(p, (int, float, np.floating, np.integer)) \
                or not 0.0 <= float(p) <= 1.0:
            raise ValueError(f"Dropout: p must be a probability in [0, 1], got {p!r}")
        self.p = float(p)
        self.rng = init.as_generator(rng)
        # The scaled mask, or True when the forward pass was the identity.
        self._mask: np.ndarray | bool | None = None
        self._shape: tuple[int, ...] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(N, *)")
        self._shape = x.shape
        if not self.training or self.p == 0.0:
            self._mask = True
            return x
        if self.p == 1.0:
            self._mask = np.zeros_like(x)
            return np.zeros_like(x)
        draw_dtype = x.dtype if x.dtype in (np.float32, np.float64) else np.float64
        keep = self.rng.random(x.shape, dtype=draw_dtype) >= self.p
        self._mask = keep * np.asarray(1.0 / (1.0 - self.p), dtype=x.dtype)
        return x * self._mask

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._mask)
        self._check_grad(grad_out, self._shape)
        if self._mask is True:
            return grad_out
        return grad_out * self._mask

    def extra_repr(self) -> str:
        return f"p={self.p}"
