"""A small vision transformer: the digit cut into patches, read by self-attention.

    PatchEmbedding (28x28 -> 16 patches of 7x7 -> 16 tokens + a class token, learned positions)
    -> depth x TransformerEncoderLayer (pre-norm: attention, then a GELU MLP, each residual)
    -> LayerNorm -> SelectStep(0) (the class token) -> Linear(dim, 10)

``VIT_MODELS`` holds the preset in the same form as ``cnn.py``'s: ``architecture(spec)``,
``build(spec, rng)``, ``defaults``, ``input`` ("image"), ``description`` and ``train`` (the
training settings that suit it). Input (N, 1, 28, 28) float32, output logits (N, 10).
"""
from __future__ import annotations

from typing import Any

import numpy as np

from .. import nn
from ..errors import ConfigError
from ..nn.architecture import build, layer, sequential
from .checks import choice, image_size, integer, num_classes, probability

IMAGE_SIZE = 28     # MNIST's; a spec's own is image_size(spec)
NUM_CLASSES = 10    # MNIST's; a spec's own is num_classes(spec)
MAX_DIM = 1024


def vit_architecture(spec: dict) -> dict[str, Any]:
    """The ViT a spec describes: ``patch`` (side of a square patch, dividing 28), ``dim``
    (features per token), ``heads`` (dividing dim), ``depth`` (encoder layers), ``mlp``
    (hidden width of each layer's MLP), ``dropout``, ``activation`` ("gelu" or "relu").
    ``image_size`` S (default 28) and ``num_classes`` K (default 10): (N, 1, S, S) -> (N, K)."""
    side = image_size(spec)
    patch = integer(spec["patch"], "vit: patch", 1, side)
    if side % patch:
        divisors = ", ".join(str(d) for d in range(1, side + 1) if side % d == 0)
        raise ConfigError(f"vit: patch must divide {side}, the image side ({divisors}), "
                          f"got {patch}")
    dim = integer(spec["dim"], "vit: dim", 1, MAX_DIM)
    heads = integer(spec["heads"], "vit: heads", 1, dim)
    if dim % heads:
        raise ConfigError(f"vit: heads must divide dim {dim}, got {heads}")
    depth = integer(spec["depth"], "vit: depth", 1, 32)
    mlp = integer(spec["mlp"], "vit: mlp", 1, 8 * MAX_DIM)
    p = probability(spec["dropout"], "vit: dropout")
    activation = choice(spec["activation"], "vit: activation", ("gelu", "relu"))
    blocks = [layer("TransformerEncoderLayer", d_model=dim, nhead=heads, dim_feedforward=mlp,
                    dropout=p, activation=activation, norm_first=True)
              for _ in range(depth)]
    return sequential(
        layer("PatchEmbedding", image_size=side, patch_size=patch, in_channels=1,
              embed_dim=dim),                                   # (N, 1 + P, dim)
        *blocks,
        layer("LayerNorm", normalized_shape=dim),
        layer("SelectStep", index=0),                           # the class token (N, dim)
        layer("Linear", in_features=dim, out_features=num_classes(spec)))


def build_vit(spec: dict, rng: np.random.Generator) -> nn.Module:
    """``vit_architecture(spec)`` built with weights drawn from ``rng``."""
    return build(vit_architecture(spec), rng)


VIT_MODELS: dict[str, dict[str, Any]] = {
    "vit": {
        "architecture": vit_architecture,
        "build": build_vit,
        "defaults": {"patch": 7, "dim": 64, "heads": 4, "depth": 4, "mlp": 128,
                     "dropout": 0.0, "activation": "gelu"},
        "input": "image",
        "description": "a vision transformer: 16 patches of 7x7 + a class token, 4 pre-norm "
                       "encoder layers (dim 64, 4 heads, MLP 128)",
        "train": {"optimizer": "adamw", "lr": 2e-3, "weight_decay": 0.05, "momentum": 0.9,
                  "scheduler": "onecycle", "batch_size": 128, "epochs": 10},
    },
}
