"""Element-wise activations (ReLU, LeakyReLU, Sigmoid, Tanh, GELU) and Softmax.

Each keeps the dtype and shape of its input. Each caches one array in ``forward`` (a boolean
mask or its own output, by reference: do not modify a layer's output in place before its
``backward``) and never recomputes the forward pass in ``backward``; none modifies the upstream
gradient it is given.
"""
from __future__ import annotations

import numpy as np

from . import functional as F
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, NoParameters, SameShape, ShapeMismatch, values
from .module import Module
from .registry import register_layer
from .special import normal_cdf, normal_pdf


@register_layer
class ReLU(SameShape, Module):
    """max(x, 0), element-wise. Shapes: any (N, *) -> same.

    Backward: g * (x > 0), with the mask cached in forward (gradient 0 at x = 0, as PyTorch).
    """

    LAYOUT_AWARE = True          # element-wise

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({}, (3, 5))

    ARGS = {}

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps a one-byte mask of x > 0."""
        y, n = FLOAT * values(shape), values(shape)
        return LayerMemory(cache=n, moment=n + 2 * y)

    def __init__(self) -> None:
        super().__init__()
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(N, *)")
        self._mask = x > 0
        return np.maximum(x, 0)

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._mask)
        self._check_grad(grad_out, self._mask.shape)
        return grad_out * self._mask


@register_layer
class LeakyReLU(SameShape, Module):
    """x if x > 0 else negative_slope * x, element-wise. Shapes: any (N, *) -> same."""

    LAYOUT_AWARE = True          # element-wise

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"negative_slope": 0.1}, (3, 5))

    ARGS = {"negative_slope": Arg("float", 0.01)}

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps a one-byte mask of x > 0; a slope-scaled copy of x for a moment."""
        x = y = FLOAT * values(shape)
        n = values(shape)
        return LayerMemory(cache=n, moment=n + 2 * y + x)

    def __init__(self, negative_slope: float = 0.01) -> None:
        super().__init__()
        self.negative_slope = float(negative_slope)
        self._mask: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(N, *)")
        self._mask = x > 0
        return np.where(self._mask, x, x * np.asarray(self.negative_slope, dtype=x.dtype))

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._mask)
        self._check_grad(grad_out, self._mask.shape)
        slope = np.asarray(self.negative_slope, dtype=grad_out.dtype)
        return np.where(self._mask, grad_out, grad_out * slope)

    def extra_repr(self) -> str:
        return f"negative_slope={self.negative_slope}"


@register_layer
class Sigmoid(SameShape, Module):
    """1 / (1 + exp(-x)), element-wise and overflow-free. Backward: g * s * (1 - s)."""

    LAYOUT_AWARE = True          # element-wise

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({}, (3, 5))

    ARGS = {}

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps its output y (the derivative is y(1-y)); backward holds the upstream gradient,
        1 - y and y(1 - y) beside it: two arrays more than the kept y (``moment`` + ``cache``)."""
        y = FLOAT * values(shape)
        return LayerMemory(cache=y, moment=2 * y)

    def __init__(self) -> None:
        super().__init__()
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(N, *)")
        self._out = F.sigmoid(x)
        return self._out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._out)
        self._check_grad(grad_out, self._out.shape)
        s = self._out
        return grad_out * (s * (1 - s))


@register_layer
class Tanh(SameShape, Module):
    """tanh(x), element-wise. Backward: g * (1 - tanh(x)^2)."""

    LAYOUT_AWARE = True          # element-wise

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({}, (3, 5))

    ARGS = {}

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps its output y (the derivative is 1-y^2); backward holds the upstream gradient,
        y^2 and 1 - y^2 beside it: two arrays more than the kept y (``moment`` + ``cache``)."""
        y = FLOAT * values(shape)
        return LayerMemory(cache=y, moment=2 * y)

    def __init__(self) -> None:
        super().__init__()
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(N, *)")
        self._out = np.tanh(x)
        return self._out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._out)
        self._check_grad(grad_out, self._out.shape)
        t = self._out
        return grad_out * (1 - t * t)


@register_layer
class GELU(SameShape, Module):
    """Gaussian error linear unit, element-wise: x * Phi(x), Phi the standard normal CDF.

    ``approximate="tanh"`` uses 0.5 x (1 + tanh(u)) with u = sqrt(2/pi) (x + 0.044715 x^3),
    as PyTorch's ``GELU(approximate="tanh")``. Shapes: any (N, *) -> same.
    Backward: exact, g * (Phi(x) + x phi(x)); tanh, g * (0.5 (1 + t) + 0.5 x (1 - t^2) du/dx)
    with t = tanh(u) and du/dx = sqrt(2/pi) (1 + 3 * 0.044715 x^2).
    """

    LAYOUT_AWARE = True          # element-wise

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({}, (3, 5))

    ARGS = {"approximate": Arg("approximate", "none")}

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps x and Phi(x) (or tanh(u)); backward makes phi(x) (or du) through several
        input-sized temporaries beside the upstream gradient and the result."""
        x = FLOAT * values(shape)
        return LayerMemory(cache=2 * x, moment=6 * x)

    _C = np.sqrt(2 / np.pi)

    def __init__(self, approximate: str = "none") -> None:
        super().__init__()
        if approximate not in ("none", "tanh"):
            raise ValueError(f"GELU: approximate must be 'none' or 'tanh', got {approximate!r}")
        self.approximate = approximate
        self._cache: tuple[np.ndarray, np.ndarray] | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, "(N, *)")
        if self.approximate == "tanh":
            c = x.dtype.type(self._C)
            t = np.tanh(c * (x + x.dtype.type(0.044715) * x * x * x))
            self._cache = (x, t)                                # t = tanh(u)
            return 0.5 * x * (1 + t)
        cdf = normal_cdf(x)
        self._cache = (x, cdf)                                  # Phi(x)
        return x * cdf

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._cache)
        x, saved = self._cache
        self._check_grad(grad_out, x.shape)
        if self.approximate == "tanh":
            t = saved
            du = x.dtype.type(self._C) * (1 + x.dtype.type(3 * 0.044715) * x * x)
            return grad_out * (0.5 * (1 + t) + 0.5 * x * (1 - t * t) * du)
        return grad_out * (saved + x * normal_pdf(x))            # Phi(x) + x phi(x)

    def extra_repr(self) -> str:
        return f"approximate={self.approximate!r}"


@register_layer
class Softmax(NoParameters, Module):
    """exp(x) / sum(exp(x)) along ``dim``, stable for any finite logits. Shapes: any -> same.

    Backward is the full Jacobian-vector product without forming the Jacobian:
    dL/dx = s * (g - sum(g * s, dim)), for s = softmax(x) and upstream g.
    """

    #: A small configuration and per-sample input, for the tests generated from the registry.
    EXAMPLE = ({"dim": -1}, (3, 5))

    ARGS = {"dim": Arg("dim", -1)}

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        nd = len(shape) + 1
        if not 0 <= (c["dim"] + nd if c["dim"] < 0 else c["dim"]) < nd:
            raise ShapeMismatch(f"with a dimension {c['dim']}")
        return tuple(shape)

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        """Keeps its output y; backward holds the upstream gradient, g * y and the result
        beside it: two arrays more than the kept y (``moment`` + ``cache``)."""
        y = FLOAT * values(out)
        return LayerMemory(cache=y, moment=2 * y)

    def __init__(self, dim: int = -1) -> None:
        super().__init__()
        if isinstance(dim, bool) or not isinstance(dim, (int, np.integer)):
            raise TypeError(f"Softmax: dim must be an int, got {dim!r}")
        self.dim = int(dim)
        self._out: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._check_input(x, None, f"with a dimension {self.dim}")
        if not -x.ndim <= self.dim < x.ndim:
            raise ValueError(f"{self!r}: dim {self.dim} is out of range for input of shape "
                             f"{x.shape}")
        self._out = F.softmax(x, axis=self.dim)
        return self._out

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        self._require_cache(self._out)
        self._check_grad(grad_out, self._out.shape)
        s = self._out
        dot = np.sum(grad_out * s, axis=self.dim, keepdims=True)
        return s * (grad_out - dot)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"
