"""Stub classes of the MLP exercises: linear, relu, sigmoid, tanh, cross_entropy, mse."""

LINEAR = '''
from __future__ import annotations

import numpy as np

from barenet import nn
from barenet.nn import init


class Linear(nn.Module):
    """Affine map y = x W^T + b, PyTorch's layout.

    Shapes: x (N, in_features) -> y (N, out_features); weight W (out_features, in_features),
    bias b (out_features,) or None when bias=False.
    """

    def __init__(self, in_features: int, out_features: int, bias: bool = True,
                 rng: init.RNGLike = None, dtype: np.dtype = np.float32) -> None:
        super().__init__()
        self.in_features, self.out_features = in_features, out_features
        bound = 1.0 / np.sqrt(in_features)
        gen = init.as_generator(rng)
        self.weight = nn.Parameter(init.uniform((out_features, in_features), bound, gen, dtype))
        self.bias = nn.Parameter(init.uniform((out_features,), bound, gen, dtype)) if bias else None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, in_features) -> y (N, out_features).

        y = x @ W.T + b   (b broadcast over the batch; no b when self.bias is None).
        Keep what backward needs (x) on self.
        """
        raise NotImplementedError("Linear.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out g = dL/dy (N, out_features) -> dL/dx (N, in_features).

        dL/dW = g^T x          (out_features, in_features): a sum over the batch
        dL/db = sum_n g[n]     (out_features,): summed, not averaged
        dL/dx = g W            (N, in_features)
        ADD the parameter gradients to self.weight.grad and self.bias.grad (+=): a layer
        used twice before an optimizer step must collect both contributions.
        """
        raise NotImplementedError("Linear.backward")
'''

_ACTIVATION = '''
from __future__ import annotations

import numpy as np

from barenet import nn


class {cls}(nn.Module):
    """{title}, elementwise.

    Shapes: x (N, *) -> y, the same shape. No parameters.
    """

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, *) -> y (N, *).

{forward}
        Keep what backward needs on self; never change x in place.
        """
        raise NotImplementedError("{cls}.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out g = dL/dy (N, *) -> dL/dx (N, *).

{backward}
        """
        raise NotImplementedError("{cls}.backward")
'''

RELU = _ACTIVATION.format(
    cls="ReLU", title="Rectified linear unit y = max(x, 0)",
    forward="        y = max(x, 0)",
    backward="        dL/dx = g * (x > 0): the mask comes from the INPUT x (or the output y), not\n"
             "        from g; where x < 0 the gradient is 0.")
SIGMOID = _ACTIVATION.format(
    cls="Sigmoid", title="Logistic sigmoid y = 1 / (1 + exp(-x))",
    forward="        y = 1 / (1 + exp(-x)). Stable for any x: for x < 0 compute\n"
            "        exp(x) / (1 + exp(x))"
            " so exp never overflows (or use barenet.nn.functional.sigmoid).",
    backward="        dy/dx = y (1 - y), with y the OUTPUT:  dL/dx = g * y * (1 - y)")
TANH = _ACTIVATION.format(
    cls="Tanh", title="Hyperbolic tangent y = tanh(x)",
    forward="        y = tanh(x)   (np.tanh is stable)",
    backward="        dy/dx = 1 - y^2, with y the OUTPUT:  dL/dx = g * (1 - y**2)")

CROSS_ENTROPY = '''
from __future__ import annotations

import numpy as np


class CrossEntropyLoss:
    """Softmax cross-entropy from raw logits and integer labels.

    forward(input, target): input x (N, C) logits, target y (N,) integers in [0, C) ->
    a Python float. backward(): dL/dx (N, C). reduction "mean" averages over the N samples,
    "sum" adds them. With label_smoothing e the target distribution is
    q = (1 - e) * onehot(y) + e / C.
    """

    def __init__(self, reduction: str = "mean", label_smoothing: float = 0.0) -> None:
        self.reduction = reduction
        self.label_smoothing = label_smoothing

    def __call__(self, input: np.ndarray, target: np.ndarray) -> float:
        return self.forward(input, target)

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        """x (N, C), y (N,) -> loss (float).

        log p = x - m - log(sum_c exp(x_c - m)),  m = max_c x_c  (subtract the row maximum:
                                                  exp(1000) overflows, exp(0) does not)
        loss_n = -sum_c q_c log p_c   (= -log p[n, y_n] without smoothing)
        loss = mean_n loss_n ("mean") or sum_n loss_n ("sum").
        Keep softmax p = exp(log p) for backward.
        """
        raise NotImplementedError("CrossEntropyLoss.forward")

    def backward(self) -> np.ndarray:
        """-> dL/dx (N, C) = (p - q) / N  for "mean"  (p - q for "sum")."""
        raise NotImplementedError("CrossEntropyLoss.backward")
'''

MSE = '''
from __future__ import annotations

import numpy as np


class MSELoss:
    """Mean squared error between a prediction and a target of the same shape.

    forward(input, target): x and t of any shape (N, *) -> a Python float; backward():
    dL/dx, x's shape. reduction "mean" averages over ALL n = x.size elements, "sum" adds.
    """

    def __init__(self, reduction: str = "mean") -> None:
        self.reduction = reduction

    def __call__(self, input: np.ndarray, target: np.ndarray) -> float:
        return self.forward(input, target)

    def forward(self, input: np.ndarray, target: np.ndarray) -> float:
        """loss = mean((x - t)^2) over all n elements ("mean"), or the sum ("sum")."""
        raise NotImplementedError("MSELoss.forward")

    def backward(self) -> np.ndarray:
        """-> dL/dx = 2 (x - t) / n  for "mean"  (2 (x - t) for "sum")."""
        raise NotImplementedError("MSELoss.backward")
'''
