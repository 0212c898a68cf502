"""One explanation as data: the fields ``barenet explain --json`` prints per picture and
``POST /api/explain`` answers, built in one place so the two always agree."""
from __future__ import annotations

from typing import Any

import numpy as np

from ..nn.functional import softmax
from .gradients import float64_copy, input_gradient, model_dtype, pixels_to_input, smooth_gradient

#: Most noisy copies ``--smooth`` may ask for (each costs one forward and backward pass)
MAX_SMOOTH = 200


def explain(run: Any, pixels: np.ndarray, target: int | None = None,
            smooth: int = 0, rng: int = 0) -> list[dict[str, Any]]:
    """For pictures in [0, 1], (B, 28, 28), and a loaded ``Run``: per picture a dict with
    ``prediction`` (class index), ``label`` (its name), ``probabilities`` (one per class),
    ``target`` (the class explained: ``target`` or the prediction) and ``input_gradient``
    (28x28 nested lists of d log p(target) / d pixel; averaged over ``smooth`` noisy copies
    when ``smooth`` > 0).

    The prediction and probabilities are the run's model's own, a forward pass in its dtype
    (float32: what ``predict`` and ``evaluate`` answer). The gradient is computed on a float64
    copy of the model (``float64_copy``), so that max-pool ties on a digit's constant background
    are not broken by float32 rounding: the heatmap is the network's exact gradient, with
    PyTorch's first-maximum rule at ties. ``run.model`` keeps its dtype and weights; it runs one
    forward pass (its layers' caches change, as with any prediction)."""
    n_classes = len(run.classes)
    if target is not None and not 0 <= int(target) < n_classes:
        raise ValueError(f"target class must be in 0..{n_classes - 1}, got {target}")
    if not 0 <= int(smooth) <= MAX_SMOOTH:
        raise ValueError(f"smooth must be in 0..{MAX_SMOOTH}, got {smooth}")
    pixels = np.asarray(pixels, dtype=np.float32)
    model = run.model.eval()
    exact = float64_copy(model)
    logits = model(pixels_to_input(pixels, run.normalize, model_dtype(model)))   # (B, classes)
    targets = logits.argmax(axis=1) if target is None else np.full(len(pixels), int(target))
    if smooth:
        grad, _ = smooth_gradient(exact, run.normalize, pixels, targets,
                                  samples=int(smooth), rng=rng)
    else:
        grad, _ = input_gradient(exact, run.normalize, pixels, targets)
    probs = softmax(logits.astype(np.float64), axis=1)
    out = []
    for i in range(len(pixels)):
        pred = int(logits[i].argmax())
        out.append({
            "prediction": pred,
            "label": run.classes[pred],
            "probabilities": [float(v) for v in probs[i]],
            "target": pred if target is None else int(target),
            "input_gradient": [[float(v) for v in row] for row in grad[i]],
        })
    return out


def strongest(gradient: np.ndarray, pixels: np.ndarray) -> dict[str, Any]:
    """Where a (28, 28) gradient is strongest, for pixels (28, 28) in [0, 1]: ``peak``
    [row, col] of its largest |value|, ``value`` there, and ``on_ink``, the share of the
    total |gradient| on the pixels brighter than 0.5 (the strokes; 0 for a zero gradient)."""
    g = np.asarray(gradient, dtype=np.float64)
    mag = np.abs(g)
    r, c = np.unravel_index(int(np.argmax(mag)), g.shape)
    total = float(mag.sum())
    on_ink = float(mag[np.asarray(pixels) > 0.5].sum()) / total if total > 0 else 0.0
    return {"peak": [int(r), int(c)], "value": float(g[r, c]), "on_ink": on_ink}
