"""Stub classes of the CNN exercises: conv2d, maxpool2d."""

CONV2D = '''
from __future__ import annotations

import numpy as np

from barenet import nn
from barenet.nn import init


def pair(v: int | tuple[int, int]) -> tuple[int, int]:
    """3 -> (3, 3); (2, 3) -> (2, 3)."""
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


class Conv2d(nn.Module):
    """2-D convolution of NCHW images, as PyTorch computes it (a cross-correlation: the kernel
    is NOT flipped).

    Shapes: x (N, C_in, H, W) -> y (N, C_out, Ho, Wo) with
        Ho = (H + 2 pH - kH) // sH + 1,   Wo = (W + 2 pW - kW) // sW + 1;
    weight (C_out, C_in, kH, kW), bias (C_out,) or None.
    """

    def __init__(self, in_channels: int, out_channels: int, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] = 1, padding: int | tuple[int, int] = 0,
                 bias: bool = True, rng: init.RNGLike = None,
                 dtype: np.dtype = np.float32) -> None:
        super().__init__()
        self.in_channels, self.out_channels = in_channels, out_channels
        self.kernel_size, self.stride, self.padding = pair(kernel_size), pair(stride), pair(padding)
        shape = (out_channels, in_channels) + self.kernel_size
        bound = 1.0 / np.sqrt(in_channels * self.kernel_size[0] * self.kernel_size[1])
        gen = init.as_generator(rng)
        self.weight = nn.Parameter(init.uniform(shape, bound, gen, dtype))
        self.bias = nn.Parameter(init.uniform((out_channels,), bound, gen, dtype)) if bias else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, C_in, H, W) -> y (N, C_out, Ho, Wo).

        Pad x with zeros: xp = np.pad(x, ((0, 0), (0, 0), (pH, pH), (pW, pW))). Then
            y[n, o, i, j] = b[o] + sum_{c, u, v} W[o, c, u, v] * xp[n, c, i*sH + u, j*sW + v]
        A loop over the kH*kW kernel offsets (u, v), each a product over channels, is fine;
        no loop over samples or pixels. Keep xp for backward.
        """
        raise NotImplementedError("Conv2d.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out g = dL/dy (N, C_out, Ho, Wo) -> dL/dx (N, C_in, H, W).

        dL/db[o]          = sum_{n, i, j} g[n, o, i, j]
        dL/dW[o, c, u, v] = sum_{n, i, j} g[n, o, i, j] * xp[n, c, i*sH + u, j*sW + v]
        dL/dxp[n, c, i*sH + u, j*sW + v] += sum_o g[n, o, i, j] * W[o, c, u, v]
        then dL/dx is dL/dxp without its padding. ADD to weight.grad and bias.grad.
        """
        raise NotImplementedError("Conv2d.backward")
'''

MAXPOOL2D = '''
from __future__ import annotations

import numpy as np

from barenet import nn


def pair(v: int | tuple[int, int]) -> tuple[int, int]:
    """3 -> (3, 3); (2, 3) -> (2, 3)."""
    return (int(v), int(v)) if np.isscalar(v) else (int(v[0]), int(v[1]))


class MaxPool2d(nn.Module):
    """Maximum over each kH x kW window of NCHW images (padding counts as -inf).

    Shapes: x (N, C, H, W) -> y (N, C, Ho, Wo), Ho = (H + 2 pH - kH) // sH + 1 (W alike).
    stride defaults to the kernel size (windows that do not overlap). No parameters.
    """

    def __init__(self, kernel_size: int | tuple[int, int],
                 stride: int | tuple[int, int] | None = None,
                 padding: int | tuple[int, int] = 0) -> None:
        super().__init__()
        self.kernel_size = pair(kernel_size)
        self.stride = self.kernel_size if stride is None else pair(stride)
        self.padding = pair(padding)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, C, H, W) -> y (N, C, Ho, Wo).

        Pad with -inf; y[n, c, i, j] = max_{u, v} xp[n, c, i*sH + u, j*sW + v].
        Remember WHICH element of each window was the maximum (the first one in row-major
        order when several are equal): backward needs it.
        """
        raise NotImplementedError("MaxPool2d.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out g = dL/dy (N, C, Ho, Wo) -> dL/dx (N, C, H, W).

        Each g[n, c, i, j] goes to the ONE input element that was its window's maximum; every
        other element of the window gets nothing. Overlapping windows (stride < kernel) add.
        """
        raise NotImplementedError("MaxPool2d.backward")
'''
