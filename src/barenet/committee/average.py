"""A committee's probabilities: the arithmetic mean of its runs' softmax outputs, each run's
being itself the mean over the test-time views of a picture (``shifts.py``).

For M runs and V views of a picture x::

    p(k | x) = 1/M sum_m 1/V sum_v softmax(f_m(shift_v(x)))_k

Runs are evaluated one after another, each in batches of ``Run.batch_size()`` pictures (its own
memory bound), and their probabilities are added into one float64 (N, K) array: whatever the
number of runs, a committee holds at most a few N x K arrays besides one run's batch.
"""
from __future__ import annotations

from typing import Any, Sequence

import numpy as np

from ..nn.functional import softmax
from .members import check_committee
from .shifts import shift_images, tta_shifts


def view_proba(run: Any, images: np.ndarray, tta: int = 1) -> tuple[np.ndarray, np.ndarray]:
    """One run's probabilities for uint8 ``images`` (N, S, S): (those of the pictures
    themselves, the mean over the first ``tta`` views), float64 (N, K) each; the same array
    twice when ``tta`` is 1."""
    shifts = tta_shifts(tta)
    images = np.asarray(images)
    n, k = len(images), len(run.classes)
    plain = np.zeros((n, k))
    total = np.zeros((n, k)) if len(shifts) > 1 else plain
    batch = max(1, int(run.batch_size()))
    for start in range(0, n, batch):
        chunk = images[start:start + batch]
        for i, (dy, dx) in enumerate(shifts):
            view = chunk if i == 0 else shift_images(chunk, dy, dx)
            p = softmax(run.logits(view, batch).astype(np.float64), axis=1)
            if i == 0:
                plain[start:start + batch] = p
            if total is not plain:
                total[start:start + batch] += p
    if total is not plain:
        total /= len(shifts)
    return plain, total


def committee_proba(runs: Sequence[Any], images: np.ndarray, tta: int = 1) -> np.ndarray:
    """float64 (N, K): the mean over ``runs`` (checked by ``check_committee``) of each one's
    probabilities averaged over ``tta`` views, for uint8 ``images`` (N, S, S)."""
    check_committee(runs)
    tta_shifts(tta)
    total = np.zeros((len(images), len(runs[0].classes)))
    for run in runs:
        total += view_proba(run, images, tta)[1]
    return total / len(runs)


__all__ = ["committee_proba", "view_proba"]
