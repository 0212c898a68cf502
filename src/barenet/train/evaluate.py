"""Evaluation in eval mode, in batches of 1000 (fewer when a run's samples would not fit in
memory: ``Run.batch_size``): loss, accuracy, confusion matrix, per-class
scores."""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from ..data.loader import random_split
from ..errors import ConfigError
from ..nn.functional import softmax
from ..nn.module import Module
from .metrics import confusion_matrix, cross_entropy, precision_recall_f1

EVAL_BATCH = 1000


def predict_logits(model: Module, images: np.ndarray,
                   transform: Callable[[np.ndarray], np.ndarray],
                   batch_size: int = EVAL_BATCH) -> np.ndarray:
    """float32 logits (N, C) of ``model`` in eval mode for uint8 ``images`` (N, 28, 28).

    The model's previous train/eval mode is restored afterwards.
    """
    was_training = model.training
    model.eval()
    try:
        out = [model(transform(images[i:i + batch_size]))
               for i in range(0, len(images), batch_size)]
    finally:
        model.train(was_training)
    if not out:
        return np.zeros((0, 0), dtype=np.float32)
    return np.concatenate(out)


def evaluate_arrays(model: Module, images: np.ndarray, labels: np.ndarray,
                    transform: Callable[[np.ndarray], np.ndarray],
                    batch_size: int = EVAL_BATCH) -> tuple[float, float, np.ndarray]:
    """(mean cross-entropy loss, accuracy, logits (N, C)) of ``model`` on a labelled set."""
    logits = predict_logits(model, images, transform, batch_size)
    if len(labels) == 0:
        return float("nan"), float("nan"), logits
    acc = float(np.mean(logits.argmax(axis=1) == labels))
    return cross_entropy(logits, labels), acc, logits


def _scores(preds: np.ndarray, labels: np.ndarray, classes: Sequence[str], loss: float,
            probabilities: np.ndarray) -> dict[str, Any]:
    """The evaluation dict (``summarize``'s keys, in its order) of int64 predictions (N,)
    against labels (N,), with the loss and probabilities given."""
    cm = confusion_matrix(labels, preds, len(classes))
    precision, recall, f1, support = precision_recall_f1(cm)
    per_class = [{"class": str(name), "precision": float(p), "recall": float(r),
                  "f1": float(f), "support": int(s)}
                 for name, p, r, f, s in zip(classes, precision, recall, f1, support)]
    n = int(len(labels))
    return {"accuracy": float(np.mean(preds == labels)) if n else float("nan"), "loss": loss,
            "confusion_matrix": cm, "per_class": per_class, "predictions": preds,
            "probabilities": probabilities, "n": n}


def summarize(logits: np.ndarray, labels: np.ndarray, classes: Sequence[str]) -> dict[str, Any]:
    """The evaluation dict of logits (N, k) against labels (N,): accuracy, loss,
    confusion_matrix (int64 (k, k)), per_class (list of {class, precision, recall, f1,
    support}), predictions (int64 (N,)), probabilities (float32 (N, k)), n."""
    labels = np.asarray(labels, dtype=np.int64)
    preds = logits.argmax(axis=1).astype(np.int64) if len(logits) else np.zeros(0, np.int64)
    n = int(len(labels))
    return _scores(preds, labels, classes,
                   loss=cross_entropy(logits, labels) if n else float("nan"),
                   probabilities=softmax(logits, axis=1).astype(np.float32) if n else logits)


def proba_loss(probs: np.ndarray, labels: np.ndarray) -> float:
    """Mean -log p[label] of probabilities (N, k) (each clipped at the smallest positive
    float64, so a certain mistake costs about 708, not infinity); NaN if N = 0."""
    labels = np.asarray(labels, dtype=np.int64)
    if not len(labels):
        return float("nan")
    picked = np.asarray(probs, dtype=np.float64)[np.arange(len(labels)), labels]
    return float(-np.mean(np.log(np.maximum(picked, np.finfo(np.float64).tiny))))


def summarize_proba(probs: np.ndarray, labels: np.ndarray,
                    classes: Sequence[str]) -> dict[str, Any]:
    """``summarize``'s dict from probabilities (N, k) instead of logits (a committee's mean
    probabilities): the loss is ``proba_loss``, ``probabilities`` float32 (N, k)."""
    labels = np.asarray(labels, dtype=np.int64)
    probs = np.asarray(probs)
    preds = probs.argmax(axis=1).astype(np.int64) if len(probs) else np.zeros(0, np.int64)
    return _scores(preds, labels, classes, loss=proba_loss(probs, labels),
                   probabilities=probs.astype(np.float32))


def run_split(n: int, seed: int, val_split: float) -> tuple[np.ndarray, np.ndarray]:
    """The sorted (train, validation) indices a run with ``seed`` and ``val_split`` draws from
    its first ``n`` training images: the second of the four generators spawned from the seed
    (weights, split, shuffling, augmentation). Training and ``validation_set`` both use it."""
    split_seq = np.random.SeedSequence(seed).spawn(4)[1]
    return random_split(n, val_split, np.random.default_rng(split_seq))


def validation_set(run: Any, data_dir: str | None = None) -> Any:
    """The ``Dataset`` a trained ``run`` validated on (split "val"), drawn again from its
    training set, ``limit_train``, seed and val_split. ConfigError for a run without one."""
    import dataclasses

    from ..data.datasets import load_dataset

    hyper = run.config.get("hyperparameters")
    hyper = hyper if isinstance(hyper, dict) else {}
    seed, frac, limit = run.config.get("seed"), hyper.get("val_split"), hyper.get("limit_train")
    if (not isinstance(seed, int) or isinstance(frac, bool) or not isinstance(frac, (int, float))
            or not 0 < frac < 1 or not (limit is None or isinstance(limit, int))):
        raise ConfigError(f"{run.run_dir}: no validation split to draw again (it needs a seed and "
                          f"a val_split > 0 from `barenet train`); use --split test or train")
    train = load_dataset(run.dataset_spec, "train", data_dir=data_dir)
    images, labels = train.images[:limit], train.labels[:limit]
    _, val_idx = run_split(len(labels), seed, frac)
    return dataclasses.replace(train, split="val", images=images[val_idx],
                               labels=labels[val_idx])


def evaluate_run(run: Any, dataset: Any, limit: int | None = None) -> dict[str, Any]:
    """Evaluate a loaded ``Run`` on a ``Dataset`` (images uint8 (N, 28, 28), labels,
    classes); ``limit`` keeps the first N samples. Returns ``summarize``'s dict plus
    ``dataset`` (name) and ``run`` (path)."""
    images, labels = dataset.images, dataset.labels
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    batch = run.batch_size() if hasattr(run, "batch_size") else EVAL_BATCH
    logits = predict_logits(run.model, images, run.normalize, batch)
    classes = run.classes if len(run.classes) == logits.shape[1] else dataset.classes
    result = summarize(logits, labels, classes)
    result.update(dataset=dataset.name, run=str(run.run_dir))
    return result


__all__ = ["EVAL_BATCH", "evaluate_arrays", "evaluate_run", "predict_logits", "proba_loss",
           "run_split", "summarize", "summarize_proba", "validation_set"]
