"""Data augmentation for batches of digit images: random affine maps, optionally elastic.

Everything is vectorised over the batch: one (B, 2, 2) array of per-image matrices, one
(B, H, W) grid of source coordinates, and one bilinear lookup done with ``np.take`` on the
flattened, zero-bordered batch. No Python loop runs over images or pixels.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from ..nn.init import RNGLike, as_generator


def _nonneg(value: Any, name: str, below: float | None = None) -> float:
    ok = isinstance(value, (int, float, np.integer, np.floating)) and not isinstance(value, bool)
    if not ok or not math.isfinite(value) or value < 0 or (below is not None and value >= below):
        bound = f" and below {below}" if below is not None else ""
        raise ValueError(f"RandomAffine: {name} must be a number >= 0{bound}, got {value!r}")
    return float(value)


def _gaussian_matrix(n: int, sigma: float) -> np.ndarray:
    """(n, n) float32 matrix M with M @ v = v smoothed by a Gaussian of std ``sigma`` pixels
    (rows normalised, so a constant stays constant)."""
    d = np.arange(n, dtype=np.float64)
    m = np.exp(-0.5 * ((d[:, None] - d[None, :]) / sigma) ** 2)
    return (m / m.sum(axis=1, keepdims=True)).astype(np.float32)


class RandomAffine:
    """Random rotation, scale and shift of each image in a uint8 batch (B, H, W) -> (B, H, W).

    Per image: angle ~ U(-max_rotation, max_rotation) degrees, scale ~ U(1 - max_scale,
    1 + max_scale), shift ~ U(-max_shift, max_shift) pixels on each axis, about the image
    centre. With ``elastic_alpha > 0`` each pixel also moves by a random displacement field,
    smoothed by a Gaussian of std ``elastic_sigma`` pixels and scaled by ``elastic_alpha``
    (pixels). Output pixels come from bilinear interpolation; outside the image is 0 (the
    background of MNIST-style digits). All zero ranges give back the input exactly.

    Randomness comes from ``rng`` (a Generator or a seed) only; ``state_dict()`` /
    ``load_state_dict()`` save and restore it, so resumed training draws the same numbers.
    """

    def __init__(self, max_rotation: float = 10.0, max_shift: float = 2.0,
                 max_scale: float = 0.1, rng: RNGLike = None, elastic_alpha: float = 0.0,
                 elastic_sigma: float = 4.0) -> None:
        self.max_rotation = _nonneg(max_rotation, "max_rotation", below=180.0)
        self.max_shift = _nonneg(max_shift, "max_shift")
        self.max_scale = _nonneg(max_scale, "max_scale", below=1.0)
        self.elastic_alpha = _nonneg(elastic_alpha, "elastic_alpha")
        self.elastic_sigma = _nonneg(elastic_sigma, "elastic_sigma")
        if self.elastic_alpha > 0 and self.elastic_sigma == 0:
            raise ValueError("RandomAffine: elastic_sigma must be > 0 when elastic_alpha > 0")
        self.rng = as_generator(rng, "RandomAffine")

    def __call__(self, images: np.ndarray) -> np.ndarray:
        """Augment a uint8 batch (B, H, W); returns a new uint8 array of the same shape."""
        if not isinstance(images, np.ndarray) or images.dtype != np.uint8 or images.ndim != 3:
            got = (f"{images.dtype} array of shape {images.shape}"
                   if isinstance(images, np.ndarray) else type(images).__name__)
            raise ValueError(f"RandomAffine: expected a uint8 batch of images (B, H, W), got {got}")
        b, h, w = images.shape
        if b == 0:
            return images.copy()
        sy, sx = self._source_coordinates(b, h, w)
        return _bilinear(images, sy, sx)

    def _source_coordinates(self, b: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Where each output pixel samples the input: two float32 (B, H, W) arrays (row, col)."""
        u = self.rng.uniform(-1.0, 1.0, size=(b, 4))
        angle = np.deg2rad(u[:, 0] * self.max_rotation)
        scale = 1.0 + u[:, 1] * self.max_scale
        shift = u[:, 2:] * self.max_shift                              # (B, 2): (dy, dx)
        # Inverse map: source = R(-angle) (out - centre - shift) / scale + centre.
        cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
        inv = np.stack([np.stack([cos, -sin], -1), np.stack([sin, cos], -1)], 1)  # (B, 2, 2)
        inv = inv.astype(np.float32)
        cy, cx = (h - 1) / 2.0, (w - 1) / 2.0
        ry = (np.arange(h, dtype=np.float32) - np.float32(cy))[None, :, None] \
            - shift[:, 0, None, None].astype(np.float32)                # (B, H, 1)
        rx = (np.arange(w, dtype=np.float32) - np.float32(cx))[None, None, :] \
            - shift[:, 1, None, None].astype(np.float32)                # (B, 1, W)
        sy = inv[:, 0, 0, None, None] * ry + inv[:, 0, 1, None, None] * rx + np.float32(cy)
        sx = inv[:, 1, 0, None, None] * ry + inv[:, 1, 1, None, None] * rx + np.float32(cx)
        if self.elastic_alpha > 0:
            dy, dx = self._elastic_field(b, h, w)
            sy += dy
            sx += dx
        return sy, sx

    def _elastic_field(self, b: int, h: int, w: int) -> tuple[np.ndarray, np.ndarray]:
        """Two smooth random displacement fields (B, H, W), in pixels."""
        noise = self.rng.uniform(-1.0, 1.0, size=(2, b, h, w)).astype(np.float32)
        gh, gw = _gaussian_matrix(h, self.elastic_sigma), _gaussian_matrix(w, self.elastic_sigma)
        smooth = gh @ noise @ gw.T                                      # separable blur
        # Rescale so the field's typical size is elastic_alpha pixels whatever sigma is.
        rms = np.sqrt(np.mean(np.square(smooth), axis=(2, 3), keepdims=True)) + 1e-12
        smooth *= np.float32(self.elastic_alpha) / rms.astype(np.float32)
        return smooth[0], smooth[1]

    def state_dict(self) -> dict[str, Any]:
        """The generator's state (JSON-able), to resume the same sequence of draws."""
        return {"bit_generator": self.rng.bit_generator.state}

    def load_state_dict(self, state: dict[str, Any]) -> None:
        """Restore a state from ``state_dict()``."""
        try:
            self.rng.bit_generator.state = state["bit_generator"]
        except (KeyError, TypeError, ValueError) as exc:
            raise ValueError(f"RandomAffine.load_state_dict: not a generator state ({exc})") from None

    def __repr__(self) -> str:
        extra = (f", elastic_alpha={self.elastic_alpha}, elastic_sigma={self.elastic_sigma}"
                 if self.elastic_alpha > 0 else "")
        return (f"RandomAffine(max_rotation={self.max_rotation}, max_shift={self.max_shift}, "
                f"max_scale={self.max_scale}{extra})")


def _bilinear(images: np.ndarray, sy: np.ndarray, sx: np.ndarray) -> np.ndarray:
    """Sample uint8 ``images`` (B, H, W) at float coordinates (B, H, W); 0 outside; uint8 out."""
    b, h, w = images.shape
    hp, wp = h + 3, w + 3
    padded = np.zeros((b, hp, wp), dtype=np.float32)  # zeros: 1 row/col before, 2 after
    padded[:, 1:h + 1, 1:w + 1] = images
    flat = padded.reshape(-1)
    # Coordinates beyond the border only ever read zeros, so clip them to it.
    sy = np.clip(sy, -1.0, float(h))
    sx = np.clip(sx, -1.0, float(w))
    y0 = np.floor(sy)
    x0 = np.floor(sx)
    fy = sy - y0
    fx = sx - x0
    iy = y0.astype(np.int64) + 1                                       # row in padded
    ix = x0.astype(np.int64) + 1
    base = np.arange(b, dtype=np.int64)[:, None, None] * (hp * wp) + iy * wp + ix
    top = np.take(flat, base) * (1 - fx) + np.take(flat, base + 1) * fx
    bottom = np.take(flat, base + wp) * (1 - fx) + np.take(flat, base + wp + 1) * fx
    out = top * (1 - fy) + bottom * fy
    return np.clip(np.rint(out), 0, 255).astype(np.uint8)
