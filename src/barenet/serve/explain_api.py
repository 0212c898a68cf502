"""Why the network answered: the answer of ``POST /api/explain``, from ``barenet.explain``.

A backward pass writes every layer's cache and every parameter's ``.grad``, so explanations
run on a copy of the model of their own (the predictions' model is never blocked by them), one
at a time under a lock; a caller waits at most ``timeout`` seconds for its turn (then 503).
"""
from __future__ import annotations

import threading
from types import SimpleNamespace
from typing import Any

import numpy as np

from ..explain import explain
from ..nn.module import Module
from .errors import HTTPError

MAX_SMOOTH = 50   # noisy copies one request may ask for (each a forward and a backward pass)


class Explainer:
    """Input gradients on a private model copy: ``explain(image, target, smooth)``."""

    def __init__(self, run: Any, model: Module, timeout: float) -> None:
        self.view = SimpleNamespace(model=model, normalize=run.normalize,
                                    classes=list(run.classes))
        self.timeout = float(timeout)
        self.lock = threading.Lock()

    def explain(self, image: np.ndarray, target: int | None, smooth: int) -> dict:
        """uint8 (28, 28) MNIST-style picture -> the fields of ``barenet explain --json`` for
        it: ``prediction``, ``label``, ``probabilities``, ``target`` and ``input_gradient``
        (28x28, d log p(target) / d pixel with pixels in [0, 1])."""
        if not self.lock.acquire(timeout=self.timeout):
            raise HTTPError(503, "busy explaining other pictures, retry later",
                            {"Retry-After": "1"})
        try:
            pixels = image[None].astype(np.float32) / np.float32(255)
            return explain(self.view, pixels, target=target, smooth=smooth)[0]
        finally:
            self.lock.release()
