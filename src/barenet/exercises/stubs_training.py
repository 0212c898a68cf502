"""Stub classes of the training-craft exercises: dropout, batchnorm1d, sgd_momentum, adam."""

DROPOUT = '''
from __future__ import annotations

import numpy as np

from barenet import nn
from barenet.nn import init


class Dropout(nn.Module):
    """Inverted dropout: while training, zero each element with probability p and scale the
    survivors by 1 / (1 - p), so the expected output equals the input; in eval mode
    (self.training False) the identity. Shapes: x (N, *) -> y, the same shape.
    """

    def __init__(self, p: float = 0.5, rng: init.RNGLike = None) -> None:
        super().__init__()
        self.p = float(p)
        self.rng = init.as_generator(rng)   # a numpy Generator: draw the mask from it

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, *) -> y (N, *).

        Training (self.training) and p > 0: draw the mask from self.rng exactly this way,
            keep = self.rng.random(x.shape) >= self.p          (True: the element survives)
            y = x * keep / (1 - p)
        so the checker, which seeds self.rng, sees the same mask as barenet's Dropout.
        Eval mode (or p == 0): y = x, drawing nothing.
        """
        raise NotImplementedError("Dropout.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out g (N, *) -> dL/dx = g * keep / (1 - p) with the SAME mask as forward
        (g itself after an identity forward)."""
        raise NotImplementedError("Dropout.backward")
'''

BATCHNORM1D = '''
from __future__ import annotations

import numpy as np

from barenet import nn


class BatchNorm1d(nn.Module):
    """Batch normalisation of (N, C) inputs, one mean and variance per feature (column) c.

    Parameters weight (gamma) and bias (beta), (C,) each (none when affine=False); buffers
    running_mean, running_var (C,) and num_batches_tracked, as in barenet and PyTorch.
    """

    def __init__(self, num_features: int, eps: float = 1e-5, momentum: float = 0.1,
                 affine: bool = True, dtype: np.dtype = np.float32) -> None:
        super().__init__()
        self.num_features, self.eps, self.momentum = num_features, eps, momentum
        self.weight = nn.Parameter(np.ones(num_features, dtype)) if affine else None
        self.bias = nn.Parameter(np.zeros(num_features, dtype)) if affine else None
        self.register_buffer("running_mean", np.zeros(num_features, dtype))
        self.register_buffer("running_var", np.ones(num_features, dtype))
        self.register_buffer("num_batches_tracked", np.zeros((), np.int64))

    def forward(self, x: np.ndarray) -> np.ndarray:
        """x (N, C) -> y (N, C).

        Training (self.training):
            mu = mean_n x,  var = mean_n (x - mu)^2        (biased, over the batch axis 0)
            xhat = (x - mu) / sqrt(var + eps),   y = weight * xhat + bias
            running_mean = (1 - momentum) * running_mean + momentum * mu
            running_var  = (1 - momentum) * running_var  + momentum * var * N / (N - 1)
                                                           (the UNBIASED variance here)
        Eval: the same y with running_mean and running_var in place of mu and var.
        """
        raise NotImplementedError("BatchNorm1d.forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """grad_out g (N, C) -> dL/dx (N, C).

        dL/dbias = sum_n g,   dL/dweight = sum_n g * xhat   (ADD to .grad)
        Training: x reaches y through xhat AND through mu and var, which depend on every row:
            dL/dx = weight / sqrt(var + eps) * (g - mean_n g - xhat * mean_n (g * xhat))
        Eval: mu and var are constants: dL/dx = g * weight / sqrt(running_var + eps).
        """
        raise NotImplementedError("BatchNorm1d.backward")
'''

SGD = '''
from __future__ import annotations

import numpy as np

from barenet import nn
from barenet.optim import Optimizer


class SGD(Optimizer):
    """Stochastic gradient descent with momentum, PyTorch's rule.

    self.param_groups: a list of dicts {"params": [Parameter, ...], "lr": ..., ...};
    self.state[p]: a dict per parameter, kept between steps (here: "momentum_buffer").
    """

    def __init__(self, params: list[nn.Parameter] | list[dict], lr: float = 1e-3,
                 momentum: float = 0.0, dampening: float = 0.0, weight_decay: float = 0.0,
                 nesterov: bool = False, maximize: bool = False) -> None:
        defaults = dict(lr=lr, momentum=momentum, dampening=dampening,
                        weight_decay=weight_decay, nesterov=nesterov, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure: object = None) -> None:
        """Update every p.data of every group in place, from p.grad (skip p.grad None).

        With g = p.grad (g = -p.grad if maximize):
            g = g + weight_decay * p.data
            if momentum != 0:
                b = copy of g                                (first step: no buffer yet)
                b = momentum * b + (1 - dampening) * g       (later steps)
                self.state[p]["momentum_buffer"] = b
                g = g + momentum * b  if nesterov  else  b
            p.data -= lr * g
        """
        raise NotImplementedError("SGD.step")
'''

ADAM = '''
from __future__ import annotations

import numpy as np

from barenet import nn
from barenet.optim import Optimizer


class Adam(Optimizer):
    """Adam (Kingma & Ba), PyTorch's rule, with L2 weight decay and AMSGrad.

    self.param_groups: a list of dicts {"params": [Parameter, ...], "lr": ..., ...};
    self.state[p]: a dict per parameter: "step" (an int), "exp_avg" (m), "exp_avg_sq" (v),
    and "max_exp_avg_sq" with amsgrad.
    """

    def __init__(self, params: list[nn.Parameter] | list[dict], lr: float = 1e-3,
                 betas: tuple[float, float] = (0.9, 0.999), eps: float = 1e-8,
                 weight_decay: float = 0.0, amsgrad: bool = False,
                 maximize: bool = False) -> None:
        defaults = dict(lr=lr, betas=tuple(betas), eps=eps, weight_decay=weight_decay,
                        amsgrad=amsgrad, maximize=maximize)
        super().__init__(params, defaults)

    def step(self, closure: object = None) -> None:
        """Update every p.data of every group in place, from p.grad (skip p.grad None).

        State starts at step 0, m = v = zeros (and max_exp_avg_sq = zeros with amsgrad).
        With g = p.grad (g = -p.grad if maximize) and t = step after adding 1:
            g = g + weight_decay * p.data
            m = beta1 * m + (1 - beta1) * g
            v = beta2 * v + (1 - beta2) * g * g
            amsgrad: v_max = max(v_max, v) and use v_max below instead of v
            m_hat = m / (1 - beta1**t),   v_hat = v / (1 - beta2**t)     (bias correction)
            p.data -= lr * m_hat / (sqrt(v_hat) + eps)
        """
        raise NotImplementedError("Adam.step")
'''
