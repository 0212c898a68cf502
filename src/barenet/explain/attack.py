"""``barenet attack``'s measurement: a run's accuracy under the fast gradient sign method at
several strengths eps, on the first N test images, in batches (bounded memory).

Per batch, one backward pass gives d log p(label) / d pixel; every eps reuses its sign
(``sign_step``) and costs one forward pass. At eps 0 the predictions come from the code path
``barenet evaluate`` uses (``predict_logits`` on the uint8 images), so the first accuracy is
evaluate's accuracy on the same images.
"""
from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from ..nn.functional import softmax
from ..train.evaluate import predict_logits
from .gradients import input_gradient, pixels_to_input, sign_step

#: Most eps values one attack measures, and the largest eps (pixels span [0, 1])
MAX_EPS_VALUES, MAX_EPS = 20, 1.0
#: Pictures per backward pass: bounds the memory of the CNN's activations and gradients
ATTACK_BATCH = 250
DEFAULT_EPS = (0.0, 0.02, 0.05, 0.1, 0.2)


def check_eps(values: Sequence[float]) -> list[float]:
    """The eps values sorted, duplicates dropped; ValueError unless there are 1 to
    ``MAX_EPS_VALUES`` of them, each finite and in [0, ``MAX_EPS``]."""
    values = [float(v) for v in values]
    if not 1 <= len(values) <= MAX_EPS_VALUES:
        raise ValueError(f"expected 1 to {MAX_EPS_VALUES} eps values, got {len(values)}")
    for v in values:
        if not math.isfinite(v) or not 0 <= v <= MAX_EPS:
            raise ValueError(f"eps {v:g}: expected a number in [0, {MAX_EPS:g}] "
                             f"(pixels span [0, 1])")
    return sorted(set(values))


def attack_run(run: Any, images: np.ndarray, labels: np.ndarray, eps: Sequence[float],
               keep: int = 0, batch_size: int = ATTACK_BATCH) -> dict[str, Any]:
    """FGSM on uint8 ``images`` (N, S, S) with true ``labels`` (N,) for a loaded ``Run``.

    Returns ``{"run", "eps", "accuracy", "n"}`` (accuracy: one float per eps) and, for the
    first ``keep`` images, ``"examples"``: adversarial pixels float32 (E, keep, S, S),
    ``"example_probabilities"`` (E, keep, classes) and ``"example_labels"`` (keep,).
    """
    eps = check_eps(eps)
    images = np.asarray(images)
    labels = np.asarray(labels, dtype=np.int64)
    n, keep = len(labels), min(int(keep), len(labels))
    side = images.shape[-1] if images.ndim == 3 else 0
    if images.dtype != np.uint8 or images.shape != (n, side, side) or side < 1:
        raise ValueError(f"expected uint8 images of shape ({n}, S, S), got {images.dtype} "
                         f"{images.shape}")
    model, normalize = run.model, run.normalize
    correct = np.zeros(len(eps), dtype=np.int64)
    examples = np.zeros((len(eps), keep, side, side), dtype=np.float32)
    example_probs = np.zeros((len(eps), keep, len(run.classes)), dtype=np.float32)
    # at eps 0: evaluate's own call, same batches, so the same logits to the last bit
    clean = predict_logits(model, images, normalize) if 0.0 in eps else None
    for start in range(0, n, batch_size):
        u, y = images[start:start + batch_size], labels[start:start + batch_size]
        p = u.astype(np.float32) / np.float32(255)
        grad = input_gradient(model, normalize, p, y)[0] if any(eps) else None
        for k, e in enumerate(eps):
            if e == 0:
                adv, logits = p, clean[start:start + batch_size]
            else:
                adv = sign_step(p, grad, e)
                logits = model(pixels_to_input(adv, normalize, np.dtype(np.float32)))
            correct[k] += int(np.sum(logits.argmax(axis=1) == y))
            shown = max(0, min(keep - start, len(y)))
            if shown:
                examples[k, start:start + shown] = adv[:shown]
                example_probs[k, start:start + shown] = softmax(logits[:shown], axis=1)
    model.zero_grad()
    result: dict[str, Any] = {"run": str(run.run_dir), "eps": eps,
                              "accuracy": [float(c) / n if n else float("nan") for c in correct],
                              "n": n}
    if keep:
        result.update(examples=examples, example_probabilities=example_probs,
                      example_labels=labels[:keep])
    return result


__all__ = ["ATTACK_BATCH", "DEFAULT_EPS", "MAX_EPS", "MAX_EPS_VALUES", "attack_run", "check_eps"]
