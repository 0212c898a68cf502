"""Teaching a private copy of the model one drawing at a time: the answer of ``POST /api/learn``.

Each step is one SGD update (``optim.SGD``, no momentum) on the single example, with the loss
``nn.CrossEntropyLoss`` of the label the user gave::

    logits = model(x);  loss = -log softmax(logits)[label];  w <- w - lr * dloss/dw

The copy stays in **eval mode** throughout: one picture has no batch statistics, so BatchNorm
uses its running statistics as constants (a fixed affine map, which is still learned) and
Dropout is off. After each step the copy's accuracy is measured on a fixed subset of the test
set (its first ``SUBSET`` images), on one shared evaluation model, so a session never holds
the activations of a thousand images. The run's model and files are never changed.
"""
from __future__ import annotations

import copy
import math
import threading
from typing import Any, Callable

import numpy as np

from ..nn.architecture import build, describe
from ..nn.functional import softmax
from ..nn.losses import CrossEntropyLoss
from ..nn.module import Module
from ..optim import SGD
from .inference import layer_chain
from .sessions import Session
from .weights_view import first_layer_images, first_weighted, input_weights

MAX_STEPS = 10     # SGD steps per call (each is followed by an accuracy measurement)
MAX_LR = 1.0
DEFAULT_LR = 0.01
SUBSET = 1000      # test images the copy's accuracy is measured on
EVAL_BATCH = 250   # images per forward pass while measuring it
MODE_NOTE = ("eval mode: BatchNorm uses its running statistics as constants and dropout is "
             "off (one picture has no batch statistics)")


def _num(value: float) -> float:
    """A float kept to 6 significant digits for the JSON answer."""
    return float(f"{value:.6g}")


def _probs(logits: np.ndarray) -> list[float]:
    return [round(float(p), 6) for p in softmax(logits.astype(np.float64), axis=-1)[0]]


class Teacher:
    """Makes model copies for sessions and runs SGD steps on them.

    ``run``: a loaded run (``model``, ``normalize``, ``classes``); ``test_set()``: the run's
    test split (anything with ``images`` uint8 (N, 28, 28) and ``labels`` (N,)), raising when
    it cannot be loaded: then answers say so and carry no accuracy.
    """

    def __init__(self, run: Any, test_set: Callable[[], Any]) -> None:
        self.run, self._load = run, test_set
        self.base = run.model.state_dict()                   # the run's weights, copied once
        try:
            self.template: Module = build(describe(run.model), rng=0)
        except Exception:  # noqa: BLE001 - a custom layer: copy the loaded model instead
            self.template = copy.deepcopy(run.model)
        self.template.load_state_dict(self.base)
        self.template.eval()                                 # never run: holds no activations
        self.evaluator = self.copy()
        self._eval_lock = threading.Lock()
        self._subset: tuple[np.ndarray, np.ndarray] | None = None
        self.subset_note: str | None = None
        self._base_accuracy: float | None = None
        self._subset_lock = threading.Lock()

    def copy(self) -> Module:
        """A fresh copy of the run's model with its weights, in eval mode."""
        model = copy.deepcopy(self.template)
        model.eval()
        return model

    def reset(self, session: Session) -> None:
        """Put the run's weights back into ``session``'s copy (the caller holds its lock)."""
        session.model.load_state_dict(self.base)
        session.model.eval()
        session.steps, session.accuracy = 0, None

    # -- the fixed test subset ------------------------------------------------------------------
    def subset(self) -> tuple[np.ndarray, np.ndarray] | None:
        """The first ``SUBSET`` test images as model inputs and their labels, loaded once;
        None (and ``subset_note`` says why) if the test set cannot be loaded."""
        with self._subset_lock:
            if self._subset is None and self.subset_note is None:
                try:
                    ds = self._load()
                    x = self.run.normalize(np.asarray(ds.images[:SUBSET], dtype=np.uint8))
                    self._subset = (x, np.asarray(ds.labels[:SUBSET], dtype=np.int64))
                except Exception as exc:  # noqa: BLE001 - missing or unreadable data
                    self.subset_note = (getattr(exc, "message", None) or str(exc))[:200] \
                        or f"test set not available ({type(exc).__name__})"
            return self._subset

    def accuracy(self, model: Module) -> float | None:
        """``model``'s accuracy on the test subset (None without one), measured on the shared
        evaluation model in batches of ``EVAL_BATCH``."""
        sub = self.subset()
        if sub is None:
            return None
        x, y = sub
        with self._eval_lock:
            self.evaluator.load_state_dict(model.state_dict())
            correct = sum(int((self.evaluator(x[i:i + EVAL_BATCH]).argmax(axis=1)
                               == y[i:i + EVAL_BATCH]).sum()) for i in range(0, len(x), EVAL_BATCH))
        return round(correct / len(x), 6)

    def base_accuracy(self) -> float | None:
        """The run's own accuracy on the subset, measured once."""
        if self._base_accuracy is None and self.subset() is not None:
            self._base_accuracy = self.accuracy(self.template)
        return self._base_accuracy

    # -- one call -------------------------------------------------------------------------------
    def learn(self, session: Session, image: np.ndarray, label: int, steps: int,
              lr: float) -> dict:
        """``steps`` SGD steps of ``session``'s copy on uint8 ``image`` (28, 28) with ``label``
        (the caller holds the session's lock and has checked the arguments). Returns the
        answer of ``POST /api/learn`` without its session fields."""
        model = session.model
        model.eval()
        chain = layer_chain(model)
        layers = [(n, m) for n, m in chain if m.parameters()] if chain is not None \
            else [("model", model)]
        first = first_weighted(chain)
        start = input_weights(first[1], first[2]).copy() if first is not None else None
        x = self.run.normalize(image[None])
        y = np.array([label], dtype=np.int64)
        loss_fn = CrossEntropyLoss()
        opt = SGD(model.parameters(), lr=lr)
        acc_before = session.accuracy if session.accuracy is not None else self.base_accuracy()
        norms: list[list[float]] = [[] for _ in layers]
        history = []
        before = None
        for step in range(1, steps + 1):
            logits = model(x)                                     # (1, classes)
            loss = loss_fn(logits, y)
            if before is None:
                before = {"prediction": int(logits.argmax()), "probabilities": _probs(logits),
                          "loss": _num(loss)}
            opt.zero_grad()
            model.backward_params_only(loss_fn.backward())
            for k, (_, layer) in enumerate(layers):
                sq = sum(float(np.sum(np.square(p.grad, dtype=np.float64)))
                         for p in layer.parameters())
                norms[k].append(_num(math.sqrt(sq)))
            opt.step()
            session.accuracy = self.accuracy(model)
            history.append({"step": session.steps + step, "loss": _num(loss),
                            "accuracy": session.accuracy})
        session.steps += steps
        logits = model(x)
        after = {"prediction": int(logits.argmax()), "probabilities": _probs(logits),
                 "loss": _num(loss_fn(logits, y))}
        return {"label": label, "label_name": self.run.classes[label], "steps": steps, "lr": lr,
                "before": before, "after": after, "history": history,
                "accuracy_before": acc_before, "subset": SUBSET if self._subset else 0,
                "accuracy_note": self.subset_note,
                "layers": [{"name": f"{n} {type(m).__name__}", "gradient_norms": g}
                           for (n, m), g in zip(layers, norms)],
                "first_layer": self._moved(first, start), "mode": MODE_NOTE}

    def _moved(self, first: tuple[str, Module, str] | None,
               start: np.ndarray | None) -> dict | None:
        """How the first layer's input weights moved in this call, as images scaled to [-1, 1]
        (``max_abs`` is the scale), with the size of this change and of all changes so far."""
        if first is None or start is None:
            return None
        name, layer, param = first
        now = input_weights(layer, param)
        delta = (now - start).astype(np.float64)
        scale = float(np.max(np.abs(delta))) if delta.size else 0.0
        doc = first_layer_images(name, layer, delta / scale if scale > 0 else delta)
        if doc is None:
            return None
        original = dict(self.template.named_modules()).get(name)   # holds the run's weights
        total = now - input_weights(original, param) if original is not None else delta
        doc.update(max_abs=scale, change_norm=float(np.linalg.norm(delta)),
                   total_change_norm=float(np.linalg.norm(total)),
                   weight_norm=float(np.linalg.norm(now)))
        return doc
