"""Input gradients, d log p(class) / d pixel, and the fast gradient sign method.

A model takes normalised inputs x = (p - mean) / std, where p are the pixels in [0, 1]
(shapes: p (B, 28, 28); x (B, 784) or (B, 1, 28, 28)). One backward pass from the log-probability
gives dL/dx, and the chain rule through the normalisation is one division:

    d log p(c) / dp = d log p(c) / dx * dx/dp = d log p(c) / dx / std

The gradient of log softmax(z)_c with respect to the logits z is onehot(c) - softmax(z), so the
backward pass starts from that (B, 10) array (``log_softmax_gradient``, which keeps 1 - p_c
accurate when p_c rounds to 1). Parameters' ``.grad`` are zeroed afterwards: asking
why never changes what a later training step would do.

Explanations differentiate a float64 copy of the model (``float64_copy``). Where a network
pools before its ReLU (the ``cnn`` preset), the normalised background of a digit is constant and
the convolution's outputs there are equal in exact arithmetic; float32 arithmetic (how the BLAS
splits the product) can round them unequally from one position to the next, and max-pool then
sends the gradient wherever the rounding put the largest. In float64 the ties stay ties and
max-pool takes the first maximum, PyTorch's rule, so the heatmap is the network's own gradient.
``fgsm`` keeps the model's dtype: it attacks the float32 model as it computes.
"""
from __future__ import annotations

import copy

import numpy as np

from ..data.transforms import Normalize
from ..nn.functional import softmax
from ..nn.init import as_generator
from ..nn.module import Module

SIDE = 28


def pixels_to_input(pixels: np.ndarray, normalize: Normalize, dtype: np.dtype) -> np.ndarray:
    """Pixels in [0, 1], (B, 28, 28) -> the model's input, (B, 784) or (B, 1, 28, 28), in
    ``dtype``: x = (p - mean) / std, computed as ``Normalize`` does, 255 p * (1 / (255 std))
    - mean / std, so that pixels u / 255 of uint8 images u give in float32 exactly the input
    ``Normalize(u)`` gives (255 * float32(u / 255) is u again): at eps 0 an attack sees the
    model ``evaluate`` sees, bit for bit."""
    dtype = np.dtype(dtype)
    p = np.asarray(pixels, dtype=dtype)
    if p.ndim != 3 or p.shape[1] != p.shape[2]:     # (B, S, S): S = SIDE for MNIST
        raise ValueError(f"expected pixels of shape (B, {SIDE}, {SIDE}), got {p.shape}")
    scale = dtype.type(1.0 / (255.0 * normalize.std))
    x = (p * dtype.type(255)) * scale - dtype.type(normalize.mean / normalize.std)
    return x.reshape(len(p), -1) if normalize.flatten else x[:, None]


def log_softmax_gradient(logits: np.ndarray, targets: np.ndarray) -> np.ndarray:
    """d log softmax(z)_c / dz = onehot(c) - softmax(z), (B, classes), for logits z (B,
    classes) and classes c (B,).

    The target's entry 1 - p_c is computed as the sum of the other probabilities: for a
    confident prediction p_c rounds to 1 and 1 - p_c to 0, which would drop the
    whole d z_c / dx term from the input gradient (only the runner-up classes' terms would
    be left); the sum of the others keeps it to full relative precision.
    """
    p = softmax(logits, axis=1)
    rows = np.arange(len(p))
    p[rows, targets] = 0
    rest = p.sum(axis=1)                # sum over j != c of p_j = 1 - p_c, accurately
    g = -p
    g[rows, targets] = rest
    return g


def float64_copy(model: Module) -> Module:
    """A float64 copy of ``model`` in eval mode, for explanations: parameters and floating
    buffers cast, ``model`` itself (its dtype, mode, weights and caches) left as it was, so a
    model that serves predictions meanwhile is never touched by the backward passes."""
    return copy.deepcopy(model).astype(np.float64).eval()


def model_dtype(model: Module) -> np.dtype:
    """The dtype of ``model``'s parameters (float32 for a parameterless model)."""
    params = model.parameters()
    return np.dtype(params[0].data.dtype) if params else np.dtype(np.float32)


def input_gradient(model: Module, normalize: Normalize, pixels: np.ndarray,
                   targets: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
    """d log p(target) / d pixel for each picture, and the logits.

    pixels: floats in [0, 1], (B, 28, 28). targets: int class per picture (B,), or None for
    each picture's predicted class. Returns (gradient (B, 28, 28), logits (B, classes)), both
    in the model's dtype. The model runs in eval mode (BatchNorm uses its running statistics,
    Dropout is off), so the gradient explains the prediction the model actually makes.
    """
    model.eval()
    dtype = model_dtype(model)
    x = pixels_to_input(pixels, normalize, dtype)
    logits = model(x)                                     # (B, classes)
    if targets is None:
        targets = logits.argmax(axis=1)
    targets = np.asarray(targets, dtype=np.int64).reshape(-1)
    if targets.shape != (len(x),):
        raise ValueError(f"expected {len(x)} targets, got {targets.shape[0]}")
    if len(x) and (targets.min() < 0 or targets.max() >= logits.shape[1]):
        raise ValueError(f"target classes must be in 0..{logits.shape[1] - 1}")
    grad_logits = log_softmax_gradient(logits, targets)
    grad_x = model.backward(grad_logits.astype(dtype, copy=False))   # d log p / dx
    model.zero_grad()
    grad_p = grad_x.reshape(np.shape(pixels)) / dtype.type(normalize.std)
    return grad_p, logits


def smooth_gradient(model: Module, normalize: Normalize, pixels: np.ndarray,
                    targets: np.ndarray | None = None, samples: int = 25, sigma: float = 0.15,
                    rng: np.random.Generator | int | None = 0) -> tuple[np.ndarray, np.ndarray]:
    """SmoothGrad: the input gradient averaged over ``samples`` copies of each picture with
    Gaussian noise of standard deviation ``sigma`` (pixels span [0, 1]) added. The class is the
    prediction on the clean picture unless ``targets`` says otherwise.

    Returns (averaged gradient (B, 28, 28), logits of the clean pictures (B, classes)).
    """
    if samples < 1:
        raise ValueError(f"samples must be at least 1, got {samples}")
    gen = as_generator(rng)
    _, logits = input_gradient(model, normalize, pixels, targets)
    if targets is None:
        targets = logits.argmax(axis=1)
    p = np.asarray(pixels, dtype=np.float64)
    total = np.zeros(p.shape, dtype=np.float64)
    for _ in range(samples):
        noisy = p + gen.normal(0.0, sigma, size=p.shape)
        total += input_gradient(model, normalize, noisy, targets)[0]
    return (total / samples).astype(logits.dtype), logits


def fgsm(model: Module, normalize: Normalize, pixels: np.ndarray, labels: np.ndarray,
         eps: float) -> np.ndarray:
    """The fast gradient sign method: x_adv = clip(p + eps * sign(d loss / dp), 0, 1), with
    loss the cross-entropy of the true ``labels`` (B,). Since loss = -log p(label), the sign
    of its gradient is minus that of ``input_gradient`` for the label. Returns (B, 28, 28)."""
    _check_eps(eps)
    p = np.asarray(pixels)
    if eps == 0:
        return p.copy()
    grad_logp, _ = input_gradient(model, normalize, p, labels)
    return sign_step(p, grad_logp, eps)


def sign_step(pixels: np.ndarray, grad_logp: np.ndarray, eps: float) -> np.ndarray:
    """The FGSM step from a gradient already computed: clip(p - eps * sign(d log p(label) /
    dp), 0, 1), (B, 28, 28) in the pixels' (float) dtype. One gradient serves every eps, so
    an attack at several strengths costs one backward pass."""
    _check_eps(eps)
    p = np.asarray(pixels)
    return np.clip(p - eps * np.sign(grad_logp), 0.0, 1.0).astype(p.dtype, copy=False)


def _check_eps(eps: float) -> None:
    if not np.isfinite(eps) or eps < 0:
        raise ValueError(f"eps must be a non-negative number, got {eps}")
