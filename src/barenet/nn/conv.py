"""2-D convolution (cross-correlation, as in PyTorch) by im2col and one matrix product."""
from __future__ import annotations

import math

import numpy as np

from . import init
from .im2col import IntPair, col2im, from_work, im2col, output_size, pad_work, pair, to_work
from .module import Module, Parameter


class Conv2d(Module):
    """2-D convolution over NCHW images: ``y[n, o] = b[o] + sum_c W[o, c] (*) x[n, c]``.

    Shapes: x (N, C_in, H, W) -> y (N, C_out, Ho, Wo) with ``Ho = (H + 2 pH - kH) // sH + 1``
    (floor, as PyTorch); ``weight`` (C_out, C_in, kH, kW), ``bias`` (C_out,). ``kernel_size``,
    ``stride`` and ``padding`` (zeros) take an int or an (h, w) pair. Default init is PyTorch's:
    W, b ~ U(-1/sqrt(fan_in), 1/sqrt(fan_in)) with fan_in = C_in*kH*kW.

    With cols = im2col(x) of shape (C_in*kH*kW, Ho*Wo*N) and W2 = W reshaped (C_out, C_in*kH*kW):
    forward ``y = W2 @ cols + b``; backward ``dW = g @ cols.T``, ``db = sum g``,
    ``dx = col2im(W2.T @ g)``: three large matrix products (the bias rides along in the first
    two as an extra column of W2 and a row of ones in cols). The output is an NCHW view of a
    (C_out, Ho, Wo, N) array (see ``im2col.py``), which the next layer reads without a copy.
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
        self._workspace: dict[str, np.ndarray | None] = {}

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
        xw = pad_work(to_work(x), self.padding)                     # (C, Hp, Wp, N)
        k = self.in_channels * self.kernel_size[0] * self.kernel_size[1]
        w2 = self.weight.data.reshape(self.out_channels, k)
        rows = k if self.bias is None else k + 1
        cols, fresh = self._scratch("cols", (rows, ho * wo * n), xw.dtype)  # (K [+ 1], Ho*Wo*N)
        im2col(xw, self.kernel_size, self.stride, out=cols[:k])
        if self.bias is not None:  # a last row of ones carries the bias through the products
            if fresh:
                cols[k] = 1
            w2 = np.concatenate([w2, self.bias.data[:, None]], axis=1)
        y = w2 @ cols                                               # (C_out, Ho*Wo*N)
        self._cache = (cols, xw.shape, (h, w), (n, self.out_channels, ho, wo))
        return from_work(y.reshape(self.out_channels, ho, wo, n))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out (N, C_out, Ho, Wo) -> dL/dx (N, C_in, H, W); accumulates weight/bias grads."""
        g2 = self._param_grads(grad_out)
        cols, padded_shape, (h, w), _ = self._cache
        k = cols.shape[0] - (self.bias is not None)
        w2t = self.weight.data.reshape(self.out_channels, k).T
        dcols, _ = self._scratch("dcols", (k, g2.shape[1]), np.result_type(w2t, g2))
        np.matmul(w2t, g2, out=dcols)                               # (K, Ho*Wo*N)
        dxw = col2im(dcols, padded_shape, self.kernel_size, self.stride)  # (C, Hp, Wp, N)
        ph, pw = self.padding
        return from_work(dxw[:, ph:ph + h, pw:pw + w])

    def backward_params_only(self, grad_out: np.ndarray) -> None:
        """Weight and bias gradients only: skips dL/dx (a matrix product and col2im)."""
        self._param_grads(grad_out)

    def _param_grads(self, grad_out: np.ndarray) -> np.ndarray:
        """Accumulate dW and db; return the gradient as a (C_out, Ho*Wo*N) matrix."""
        self._require_cache(self._cache)
        cols, _, _, out_shape = self._cache
        self._check_grad(grad_out, out_shape)
        g2 = to_work(grad_out).reshape(self.out_channels, -1)      # (C_out, Ho*Wo*N)
        # (C_out, K [+ 1]); BLAS runs the product faster with the longer side as its rows
        dw = (cols @ g2.T).T if cols.shape[0] > self.out_channels else g2 @ cols.T
        k = self.weight.data[0].size
        self.weight.grad += dw[:, :k].reshape(self.weight.shape)
        if self.bias is not None:
            self.bias.grad += dw[:, k]
        return g2

    def _scratch(self, name: str, shape: tuple[int, ...], dtype: np.dtype) -> tuple[np.ndarray, bool]:
        """A work array (and whether it is new) that training reuses from step to step: large
        arrays allocated afresh each step cost page faults that take as long as filling them.
        It only ever holds data internal to one forward/backward pair (outputs are always new
        arrays); in eval mode nothing is kept, so odd-sized inference batches hold no memory."""
        buf = self._workspace.get(name)
        if buf is not None and buf.shape == shape and buf.dtype == dtype and self.training:
            return buf, False
        buf = np.empty(shape, dtype=dtype)
        self._workspace[name] = buf if self.training else None
        return buf, True

    def extra_repr(self) -> str:
        return (f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, "
                f"stride={self.stride}, padding={self.padding}, bias={self.bias is not None}")
