"""Embedding: a lookup table of learned vectors, one row per integer id."""
from __future__ import annotations

import numpy as np

from . import init
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, values
from .module import Module, Parameter
from .registry import register_layer


@register_layer
class Embedding(Module):
    """``y = weight[x]``: row x of a (num_embeddings, embedding_dim) table, PyTorch's layout.

    Shapes: x integer (N, *) with values in [0, num_embeddings) -> y (N, *, embedding_dim).
    ``weight`` ~ N(0, 1) as in PyTorch. Equivalent to Linear without bias on one-hot inputs,
    without ever forming them.

    Backward: each upstream row is added into the table row it came from (an id used twice
    gets both rows' gradients, ``np.add.at``); the ids are not differentiable, so ``backward``
    returns None: an Embedding is the first layer of a network.
    """

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"num_embeddings": 7, "embedding_dim": 3}, (5,))

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """Integer ids: no image shape."""
        return False

    ARGS = {"num_embeddings": Arg("size"), "embedding_dim": Arg("size")}

    @classmethod
    def count_numbers(cls, c: dict) -> tuple[int, int]:
        return c["num_embeddings"] * c["embedding_dim"], 0

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        return (*shape, c["embedding_dim"])

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps the ids by reference (the data: it is a model's first layer); makes the rows,
        and in backward a gradient table the size of the weights (not per sample)."""
        return LayerMemory(moment=FLOAT * values(out), keeps_input=True,
                           fixed=FLOAT * c["num_embeddings"] * c["embedding_dim"])

    def __init__(self, num_embeddings: int, embedding_dim: int, rng: init.RNGLike = None,
                 dtype: np.dtype = np.float32) -> None:
        super().__init__()
        for name, v in (("num_embeddings", num_embeddings), ("embedding_dim", embedding_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"Embedding: {name} must be a positive int, got {v!r}")
        self.num_embeddings = int(num_embeddings)
        self.embedding_dim = int(embedding_dim)
        self.weight = Parameter(np.empty((self.num_embeddings, self.embedding_dim), dtype=dtype))
        self.reset_parameters(rng)
        self._ids: np.ndarray | None = None

    def reset_parameters(self, rng: init.RNGLike = None) -> None:
        """Redraw the table from N(0, 1), keeping its dtype."""
        self.weight.data = init.normal(self.weight.shape, 1.0, rng, self.weight.dtype)
        self.weight.grad = np.zeros_like(self.weight.data)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x integer (N, *) -> (N, *, embedding_dim)."""
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.integer):
            got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise TypeError(f"{self!r}: expected an integer array of ids (N, *), got {got}")
        if x.size and (x.min() < 0 or x.max() >= self.num_embeddings):
            raise ValueError(f"{self!r}: ids must be in [0, {self.num_embeddings}), got values "
                             f"from {x.min()} to {x.max()}")
        self._ids = x
        return self.weight.data[x]                          # (N, *, D), a copy

    def backward(self, grad_out: np.ndarray) -> None:
        """grad_out (N, *, embedding_dim): adds each row into the table row it came from."""
        self._require_cache(self._ids)
        self._check_grad(grad_out, self._ids.shape + (self.embedding_dim,))
        grad = np.zeros_like(self.weight.data)
        np.add.at(grad, self._ids.reshape(-1), grad_out.reshape(-1, self.embedding_dim))
        self.weight.accumulate_grad(grad)
        return None

    def extra_repr(self) -> str:
        return f"{self.num_embeddings}, {self.embedding_dim}"
