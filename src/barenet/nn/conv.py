"""2-D convolution (cross-correlation, as in PyTorch) by im2col and one matrix product."""
from __future__ import annotations

import math

import numpy as np

from . import init
from .im2col import IntPair, col2im, im2col, output_size, pad2d, pair
from .module import Module, Parameter


class Conv2d(Module):
    """2-D convolution over NCHW images: ``y[n, o] = b[o] + sum_c W[o, c] (*) x[n, c]``.

    Shapes: x (N, C_in, H, W) -> y (N, C_out, Ho, Wo) with ``Ho = (H + 2 pH - kH) // sH + 1``
    (floor, as PyTorch); ``weight`` (C_out, C_in, kH, kW), ``bias`` (C_out,). ``kernel_size``,
    ``stride`` and ``padding`` (zeros) take an int or an (h, w) pair. Default init is PyTorch's:
    W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in*kH*kW.

    With cols = im2col(x) of shape (C_in*kH*kW, N*Ho*Wo) and W2 = W reshaped (C_out, C_in*kH*kW):
    forward ``y = W2 @ cols + b``; backward ``dW = g @ cols.T``, ``db = sum g``,
    ``dx = col2im(W2.T @ g)``. The work is channel-major (see ``im2col.py``): the NCHW output is
    a transposed view of a (C_out, N, Ho, Wo) array, which the next conv reads without a copy.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: IntPair,
                 stride: IntPair = 1, padding: IntPair = 0, bias: bool = True,
                 rng: init.RNGLike = None, dtype: np.dtype = np.float32) -> None:
        super().__init__()
        if in_channels <= 0 or out_channels <= 0:
            raise ValueError(f"Conv2d: channels must be positive, got ({in_channels}, {out_channels})")
        self.in_channels = int(in_channels)
        self.out_channels = int(out_channels)
        self.kernel_size = pair(kernel_size, "Conv2d kernel_size")
        self.stride = pair(stride, "Conv2d stride")
        self.padding = pair(padding, "Conv2d padding", minimum=0)
        gen = init.as_generator(rng)
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = Parameter(init.kaiming_uniform(shape, a=math.sqrt(5), rng=gen, dtype=dtype))
        bound = 1.0 / math.sqrt(init.fans(shape)[0])
        self.bias = Parameter(init.uniform((self.out_channels,), bound, gen, dtype)) if bias else None
        self._cache: tuple | None = None

    def output_shape(self, h: int, w: int) -> tuple[int, int]:
        """(Ho, Wo) for an (H, W) input."""
        return (output_size(h, self.kernel_size[0], self.stride[0], self.padding[0]),
                output_size(w, self.kernel_size[1], self.stride[1], self.padding[1]))

    def forward(self, x: np.ndarray) -> np.ndarray:
        expected = f"(N, {self.in_channels}, H, W)"
        self._check_input(x, (4,), expected, size=(1, self.in_channels))
        n, _, h, w = x.shape
        ho, wo = self.output_shape(h, w)
        if ho < 1 or wo < 1:
            kh, kw = self.kernel_size
            raise ValueError(f"{self!r}: input {h}x{w} (padded by {self.padding}) is smaller than "
                             f"the {kh}x{kw} kernel; expected {expected} with larger H, W")
        xp = pad2d(x.transpose(1, 0, 2, 3), self.padding)           # (C, N, Hp, Wp)
        cols = im2col(xp, self.kernel_size, self.stride)            # (C*kH*kW, N*Ho*Wo)
        w2 = self.weight.data.reshape(self.out_channels, -1)
        y = w2 @ cols                                               # (C_out, N*Ho*Wo)
        if self.bias is not None:
            y += self.bias.data[:, None]
        self._cache = (cols, xp.shape, (h, w))
        return y.reshape(self.out_channels, n, ho, wo).transpose(1, 0, 2, 3)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)
        cols, padded_shape, (h, w) = self._cache
        g2 = grad_out.transpose(1, 0, 2, 3).reshape(self.out_channels, -1)  # (C_out, N*Ho*Wo)
        self.weight.grad += (g2 @ cols.T).reshape(self.weight.shape)
        if self.bias is not None:
            self.bias.grad += g2.sum(axis=1)
        dcols = self.weight.data.reshape(self.out_channels, -1).T @ g2
        dxp = col2im(dcols, padded_shape, self.kernel_size, self.stride)  # (C, N, Hp, Wp)
        ph, pw = self.padding
        return dxp[:, :, ph:ph + h, pw:pw + w].transpose(1, 0, 2, 3)

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
