"""A committee (or one run with test-time augmentation) evaluated on a labelled set: the
committee's scores, each member's own, and what the committee and the views add.

Runs are evaluated one after another (``average.view_proba``); the float64 (N, K) sums of
their probabilities, with and without the views, are all that is kept of them.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..errors import ConfigError
from ..train.evaluate import proba_loss, summarize_proba
from ..train.fileio import printable
from ..train.metrics import accuracy
from .average import view_proba
from .members import check_committee
from .shifts import tta_shifts


def _accuracy(probs: np.ndarray, labels: np.ndarray) -> float:
    """The accuracy of the classes of highest probability, probs (N, K); NaN if N = 0."""
    return accuracy(labels, probs.argmax(axis=1).astype(np.int64))


def evaluate_committee(runs: Sequence[Any], dataset: Any, tta: int = 1,
                       limit: int | None = None) -> dict[str, Any]:
    """Evaluate the committee of loaded ``runs`` (one run is a committee of one) on a
    ``Dataset`` (images uint8 (N, S, S), labels (N,), classes), each picture seen through
    ``tta`` views (``shifts.SHIFTS``); ``limit`` keeps the first N samples.

    Returns ``summarize_proba``'s dict for the committee's mean probabilities with every view
    (accuracy, loss, confusion_matrix, per_class, predictions, probabilities, n) plus:
    ``dataset`` (name), ``runs`` (paths), ``tta``, ``shifts`` ([dy, dx] per view),
    ``members`` (per run: ``run``, ``accuracy`` and ``loss`` on the pictures alone,
    ``accuracy_tta`` and ``loss_tta`` with the views), ``without_tta`` (the committee's
    ``accuracy`` and ``loss`` on the pictures alone), ``best_member`` (the run with the best
    accuracy on the pictures alone, the first of equals) and ``gain`` (the committee's
    accuracy minus that run's: what the committee and the views add together)."""
    check_committee(runs)
    shifts = tta_shifts(tta)
    images, labels = dataset.images, np.asarray(dataset.labels, dtype=np.int64)
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    k = len(runs[0].classes)
    if len(labels) and (labels.min() < 0 or labels.max() >= k):
        raise ConfigError(f"{printable(dataset.name, 60)}: labels run to {int(labels.max())}, "
                          f"but the runs know {k} classes (0..{k - 1})")
    plain_sum, tta_sum = np.zeros((len(labels), k)), np.zeros((len(labels), k))
    members = []
    for run in runs:
        plain, with_tta = view_proba(run, images, tta)
        plain_sum += plain
        tta_sum += with_tta
        members.append({"run": str(run.run_dir), "accuracy": _accuracy(plain, labels),
                        "loss": proba_loss(plain, labels),
                        "accuracy_tta": _accuracy(with_tta, labels),
                        "loss_tta": proba_loss(with_tta, labels)})
        del plain, with_tta
    plain_sum /= len(runs)
    tta_sum /= len(runs)
    result = summarize_proba(tta_sum, labels, runs[0].classes)
    best = max(members, key=lambda m: -1.0 if np.isnan(m["accuracy"]) else m["accuracy"])
    result.update(dataset=dataset.name, runs=[m["run"] for m in members], tta=len(shifts),
                  shifts=[list(s) for s in shifts], members=members,
                  without_tta={"accuracy": _accuracy(plain_sum, labels),
                               "loss": proba_loss(plain_sum, labels)},
                  best_member=best["run"], gain=result["accuracy"] - best["accuracy"])
    return result


__all__ = ["evaluate_committee"]
