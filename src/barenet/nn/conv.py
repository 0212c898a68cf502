"""2-D convolution (cross-correlation, as in PyTorch): im2col and one matrix product."""
from __future__ import annotations

import math

import numpy as np

from . import init, kernels
from .kernels import conv2d as fast
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, values
from .module import Module, Parameter
from .registry import register_layer
from .windows import (
    IntPair,
    col2im,
    im2col,
    output_size,
    pad,
    pair,
    unpad,
    window_output,
    window_sizes,
)


@register_layer
class Conv2d(Module):
    """2-D convolution over NCHW images: ``y[n, o] = b[o] + sum_c W[o, c] (*) x[n, c]``.

    Shapes: x (N, C_in, H, W) -> y (N, C_out, Ho, Wo) with ``Ho = (H + 2 pH - kH) // sH + 1``
    (floor, as PyTorch); ``weight`` (C_out, C_in, kH, kW), ``bias`` (C_out,). ``kernel_size``,
    ``stride`` and ``padding`` (zeros) take an int or an (h, w) pair. Default init is PyTorch's:
    W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in*kH*kW.

    With cols = im2col(x) (one row per window, N*Ho*Wo rows of K = C_in*kH*kW pixels) and
    W2 = W reshaped (C_out, K): forward ``y = cols @ W2.T + b``; backward, for g = dL/dy as
    (N*Ho*Wo, C_out): ``dW = g.T @ cols``, ``db = sum g``, ``dx = col2im(g @ W2)``.
    The fast kernel (``kernels/conv2d.py``) computes the same on a batch-last layout.
    """

    LAYOUT_AWARE = True          # its kernel takes any layout and returns a batch-last view

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"in_channels": 2, "out_channels": 3, "kernel_size": 3, "stride": 2, "padding": 1},
               (2, 7, 6))

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """Images of in_channels."""
        return (c["in_channels"], *image_size)

    ARGS = {"in_channels": Arg("size"), "out_channels": Arg("size"), "kernel_size": Arg("kernel"),
            "stride": Arg("kernel", 1), "padding": Arg("pad", 0), "bias": Arg("bool", True)}

    @classmethod
    def count_numbers(cls, c: dict) -> tuple[int, int]:
        k = c["kernel_size"][0] * c["kernel_size"][1]
        return c["out_channels"] * (c["in_channels"] * k + c["bias"]), 0

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        return window_output(tuple(shape), c, c["out_channels"])

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """The im2col matrix is kept between steps (work); dL/dcols is made a block of output
        rows at a time (kernels/conv2d.py): a fixed block, of which one output row per sample."""
        padded, positions, k = window_sizes(tuple(shape), c)
        x, y = FLOAT * values(shape), FLOAT * values(out)
        cols = FLOAT * (k + 1) * positions
        dcols = 0 if first else FLOAT * k * (positions // out[1])
        forward = FLOAT * padded + y
        backward = 2 * y + (0 if first else 2 * FLOAT * padded + x)
        return LayerMemory(work=cols + dcols, moment=max(forward, backward),
                           eval_moment=x + y + FLOAT * padded + cols,
                           fixed=0 if first else fast.DCOLS_BLOCK_BYTES)

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
        shape = (self.out_channels, self.in_channels) + self.kernel_size
        self.weight = Parameter(np.empty(shape, dtype=dtype))
        self.bias = Parameter(np.empty(self.out_channels, dtype=dtype)) if bias else None
        self.reset_parameters(rng)
        self._cache: tuple | None = None
        self._workspace = fast.Workspace()  # the kernel's reused arrays (kept while training)

    def reset_parameters(self, rng: init.RNGLike = None) -> None:
        """Redraw weight and bias from U(-1/sqrt(fan_in), 1/sqrt(fan_in)), keeping their dtype."""
        gen = init.as_generator(rng)
        w = self.weight
        w.data = init.kaiming_uniform(w.shape, a=math.sqrt(5), rng=gen, dtype=w.dtype)
        w.grad = np.zeros_like(w.data)
        if self.bias is not None:
            bound = 1.0 / math.sqrt(init.fans(w.shape)[0])
            self.bias.data = init.uniform(self.bias.shape, bound, gen, self.bias.dtype)
            self.bias.grad = np.zeros_like(self.bias.data)

    def output_shape(self, h: int, w: int) -> tuple[int, int]:
        """(Ho, Wo) for an (H, W) input."""
        return (output_size(h, self.kernel_size[0], self.stride[0], self.padding[0]),
                output_size(w, self.kernel_size[1], self.stride[1], self.padding[1]))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, C_in, H, W) -> y (N, C_out, Ho, Wo); caches the im2col matrix for backward."""
        self._check(x)
        bias = None if self.bias is None else self.bias.data
        if kernels.enabled():
            if not self.training:
                self._workspace.clear()  # odd-sized inference batches keep no memory
            y, cache = fast.forward(x, self.weight.data, bias, self.stride, self.padding,
                                    self._workspace if self.training else None)
            self._cache = ("fast", cache)
            return y
        n, _, h, w = x.shape
        ho, wo = self.output_shape(h, w)
        xp = pad(x, self.padding)                                   # (N, C_in, Hp, Wp)
        cols = im2col(xp, self.kernel_size, self.stride)            # (N*Ho*Wo, K)
        w2 = self.weight.data.reshape(self.out_channels, -1)        # (C_out, K)
        y = cols @ w2.T                                             # (N*Ho*Wo, C_out)
        if bias is not None:
            y += bias
        self._cache = ("textbook", cols, xp.shape, x.shape)
        return y.reshape(n, ho, wo, self.out_channels).transpose(0, 3, 1, 2)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, C_out, Ho, Wo) -> dL/dx (N, C_in, H, W); accumulates weight/bias grads."""
        return self._backward(grad_out, need_input_grad=True)

    def backward_params_only(self, grad_out: np.ndarray) -> None:
        """Weight and bias gradients only: skips dL/dx (a matrix product and col2im)."""
        self._backward(grad_out, need_input_grad=False)

    def _backward(self, grad_out: np.ndarray, need_input_grad: bool) -> np.ndarray | None:
        self._require_cache(self._cache)
        if self._cache[0] == "fast":
            cache = self._cache[1]
            self._check_grad(grad_out, cache.out_shape)
            dw, db, dx = fast.backward(grad_out, cache, self.weight.data, self.stride,
                                       self.padding, self._workspace if self.training else None,
                                       need_input_grad)
            self.weight.accumulate_grad(dw)
            if db is not None:
                self.bias.accumulate_grad(db)
            return dx
        _, cols, padded_shape, x_shape = self._cache
        n, _, ho, wo = (x_shape[0], self.out_channels) + self.output_shape(*x_shape[2:])
        self._check_grad(grad_out, (n, self.out_channels, ho, wo))
        g = grad_out.transpose(0, 2, 3, 1).reshape(-1, self.out_channels)  # (N*Ho*Wo, C_out)
        self.weight.accumulate_grad(g.T, cols)                     # dW = g^T cols (C_out, K)
        if self.bias is not None:
            self.bias.accumulate_grad(g.sum(axis=0))               # db = sum g
        if not need_input_grad:
            return None
        dcols = g @ self.weight.data.reshape(self.out_channels, -1)  # (N*Ho*Wo, K)
        dxp = col2im(dcols, padded_shape, self.kernel_size, self.stride)
        return unpad(dxp, self.padding)                            # (N, C_in, H, W)

    def _check(self, x: np.ndarray) -> None:
        expected = f"(N, {self.in_channels}, H, W)"
        self._check_input(x, (4,), expected, size=(1, self.in_channels))
        ho, wo = self.output_shape(*x.shape[2:])
        if ho < 1 or wo < 1:
            kh, kw = self.kernel_size
            raise ValueError(f"{self!r}: input {x.shape[2]}x{x.shape[3]} (padded by "
                             f"{self.padding}) is smaller than the {kh}x{kw} kernel; expected "
                             f"{expected} with larger H, W")

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
