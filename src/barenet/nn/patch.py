"""Patch embedding: an image cut into square patches, each a token, plus a class token and
learned positions: the input stage of a vision transformer."""
from __future__ import annotations

import math

import numpy as np

from . import init
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, ShapeMismatch, values
from .module import Module, Parameter
from .registry import register_layer


@register_layer
class PatchEmbedding(Module):
    """(N, C, H, W) images -> (N, 1 + P, E) tokens, P = (H / p) * (W / p) patches of p x p.

    Each patch, flattened in (C, p, p) order, is mapped to E features by ``weight`` (E, C, p, p)
    and ``bias`` (E,): the same numbers as a Conv2d with kernel and stride p (that is its
    layout), computed as one product because the patches do not overlap. The learned
    ``class_token`` (1, 1, E) is put in front, and ``pos_embedding`` (1, 1 + P, E) is added
    to every token:
        z = [class_token; patches W^T + b] + pos_embedding.
    Init: weight and bias as Conv2d's (U(+-1/sqrt(C p p))), class token 0, positions
    N(0, 0.02^2) (torchvision's ViT). Backward: dW = sum over tokens of g^T patches,
    d(class_token) = sum_n g[:, 0], d(pos) = sum_n g, dx = (g W) put back in place.
    """

    #: How serve draws its first-layer weights: one image per feature over a patch.
    WEIGHT_TILES = "patch"

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"image_size": 8, "patch_size": 4, "in_channels": 1, "embed_dim": 6}, (1, 8, 8))

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """Images of its own size."""
        return (c["in_channels"], c["image_size"], c["image_size"])

    ARGS = {"image_size": Arg("size", 28), "patch_size": Arg("size", 7),
            "in_channels": Arg("size", 1), "embed_dim": Arg("size", 64)}

    @classmethod
    def check_config(cls, config: dict) -> dict:
        c = super().check_config(config)
        if c["image_size"] % c["patch_size"]:
            raise ValueError(f"image_size {c['image_size']} is not a multiple of patch_size "
                             f"{c['patch_size']}")
        return c

    @classmethod
    def count_numbers(cls, c: dict) -> tuple[int, int]:
        e, p = c["embed_dim"], c["patch_size"]
        patches = (c["image_size"] // p) ** 2
        return e * (c["in_channels"] * p * p + 1) + e + (1 + patches) * e, 0

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        ch, s = c["in_channels"], c["image_size"]
        if tuple(shape) != (ch, s, s):
            raise ShapeMismatch(f"(N, {ch}, {s}, {s})")
        return (1 + (s // c["patch_size"]) ** 2, c["embed_dim"])

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps the patches (the input, rearranged) and the tokens."""
        return LayerMemory(cache=FLOAT * (values(shape) + values(out)),
                           moment=FLOAT * (values(shape) + values(out)))

    def __init__(self, image_size: int = 28, patch_size: int = 7, in_channels: int = 1,
                 embed_dim: int = 64, rng: init.RNGLike = None,
                 dtype: np.dtype = np.float32) -> None:
        super().__init__()
        for what, v in (("image_size", image_size), ("patch_size", patch_size),
                        ("in_channels", in_channels), ("embed_dim", embed_dim)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"PatchEmbedding: {what} must be a positive int, got {v!r}")
        if image_size % patch_size:
            raise ValueError(f"PatchEmbedding: image_size {image_size} must be a multiple of "
                             f"patch_size {patch_size}")
        self.image_size, self.patch_size = int(image_size), int(patch_size)
        self.in_channels, self.embed_dim = int(in_channels), int(embed_dim)
        self.num_patches = (self.image_size // self.patch_size) ** 2
        e, c, p = self.embed_dim, self.in_channels, self.patch_size
        self.weight = Parameter(np.empty((e, c, p, p), dtype))
        self.bias = Parameter(np.empty(e, dtype))
        self.class_token = Parameter(np.empty((1, 1, e), dtype))
        self.pos_embedding = Parameter(np.empty((1, 1 + self.num_patches, e), dtype))
        self.reset_parameters(rng)
        self._cache: tuple[tuple[int, ...], np.ndarray] | None = None

    def reset_parameters(self, rng: init.RNGLike = None) -> None:
        """Weight and bias U(+-1/sqrt(C p p)), class token 0, positions N(0, 0.02^2)."""
        gen = init.as_generator(rng)
        bound = 1.0 / math.sqrt(self.in_channels * self.patch_size ** 2)
        for prm, value in ((self.weight, init.uniform(self.weight.shape, bound, gen)),
                           (self.bias, init.uniform(self.bias.shape, bound, gen)),
                           (self.class_token, np.zeros(self.class_token.shape)),
                           (self.pos_embedding, init.normal(self.pos_embedding.shape, 0.02,
                                                            gen))):
            prm.data = value.astype(prm.dtype)
            prm.grad = np.zeros_like(prm.data)

    def _grid(self) -> int:
        return self.image_size // self.patch_size

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, C, H, W) -> (N, 1 + P, E)."""
        c, s, p, g = self.in_channels, self.image_size, self.patch_size, self._grid()
        self._check_input(x, (4,), f"(N, {c}, {s}, {s})")
        if x.shape[1:] != (c, s, s):
            raise ValueError(f"{self!r}: expected input of shape (N, {c}, {s}, {s}), got "
                             f"{x.shape}")
        n = x.shape[0]
        # (N, C, g, p, g, p) -> (N, g, g, C, p, p) -> (N, P, C*p*p): patches in reading order
        patches = x.reshape(n, c, g, p, g, p).transpose(0, 2, 4, 1, 3, 5).reshape(
            n, g * g, c * p * p)
        tokens = patches @ self.weight.data.reshape(self.embed_dim, -1).T   # (N, P, E)
        tokens += self.bias.data
        cls = np.broadcast_to(self.class_token.data, (n, 1, self.embed_dim))
        self._cache = (x.shape, patches)
        return np.concatenate([cls, tokens], axis=1) + self.pos_embedding.data

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, 1 + P, E) -> dL/dx (N, C, H, W)."""
        return self._backward(grad_out, need_input_grad=True)

    def backward_params_only(self, grad_out: np.ndarray) -> None:
        """The parameter gradients only: skips dL/dx (a product and the un-patching)."""
        self._backward(grad_out, need_input_grad=False)

    def _backward(self, grad_out: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        self._require_cache(self._cache)
        shape, patches = self._cache
        n, e = shape[0], self.embed_dim
        self._check_grad(grad_out, (n, 1 + self.num_patches, e))
        self.pos_embedding.accumulate_grad(grad_out.sum(axis=0, keepdims=True))
        self.class_token.accumulate_grad(grad_out[:, :1].sum(axis=0, keepdims=True))
        gt = grad_out[:, 1:]                                  # (N, P, E) the patch tokens
        self.weight.accumulate_grad(gt.reshape(-1, e).T, patches.reshape(-1, patches.shape[-1]))
        self.bias.accumulate_grad(gt.sum(axis=(0, 1)))
        if not need_input_grad:
            return None
        dpatches = gt @ self.weight.data.reshape(e, -1)       # (N, P, C*p*p)
        c, p, g = self.in_channels, self.patch_size, self._grid()
        return dpatches.reshape(n, g, g, c, p, p).transpose(0, 3, 1, 4, 2, 5).reshape(shape)

    def extra_repr(self) -> str:
        return (f"image_size={self.image_size}, patch_size={self.patch_size}, "
                f"in_channels={self.in_channels}, embed_dim={self.embed_dim}")
