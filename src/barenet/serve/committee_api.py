"""``barenet serve`` for a committee of runs (``barenet.committee``): what /api/predict and
/api/model say when the probabilities are the mean of several runs, each over ``tta`` views.

The layer views, the first layer's weights, /api/explain and /api/learn need one network:
they use the committee's first run, which /api/model names in "run" (the page shows it), and
their answers name it in "note".
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Sequence

import numpy as np

from ..committee import check_committee, tta_shifts, view_proba


def _name(run: Any) -> str:
    return Path(str(getattr(run, "run_dir", "run"))).name


class Committee:
    """The run served and ``members`` (loaded runs of the same dataset, classes and picture
    size: ``check_committee``, ConfigError otherwise), each picture's probabilities averaged
    over ``tta`` views. ``lock`` guards the first run's model (the predictor's)."""

    def __init__(self, run: Any, members: Sequence[Any], tta: int,
                 lock: threading.Lock) -> None:
        self.runs = [run, *members]
        check_committee(self.runs)
        self.tta = len(tta_shifts(tta))
        self.lock = lock
        self.names = [_name(r) for r in self.runs]

    def note(self, what: str) -> str | None:
        """``what`` + the first run's name, for an answer made by the first run alone; None
        when the committee is one run (seen through several views)."""
        return f"{what} the committee's first run alone ({self.names[0]})" \
            if len(self.runs) > 1 else None

    def describe(self, info: dict) -> None:
        """Add the committee to ``GET /api/model``'s answer ``info`` (in place): "run" says
        what the page shows, "committee" lists the runs and their test accuracies, "tta" the
        views; the committee's own test accuracy is not measured (None)."""
        if len(self.runs) > 1:
            info["committee"] = {
                "runs": self.names, "tta": self.tta, "first": self.names[0],
                "test_accuracy": [(getattr(r, "config", {}) or {}).get("test_accuracy")
                                  for r in self.runs]}
            info["test_accuracy"] = None
            info["run"] = (f"{' + '.join(self.names)} (a committee: predictions average its "
                           f"{len(self.runs)} runs; layers, weights, why and teach show "
                           f"{self.names[0]})")
        if self.tta > 1:
            info["tta"] = self.tta
            info["run"] += f", each prediction averaged over {self.tta} views"

    def answer(self, image: np.ndarray, answer: dict, classes: list[str]) -> dict:
        """The first run's ``Predictor.predict`` ``answer`` for ``image`` (S, S), made the
        committee's (in place): "prediction", "label" and "probabilities" become the mean over
        the runs and views; "committee" holds "runs", "tta", "first" (the first run's own
        prediction, label and probabilities on the picture alone: the activations shown are
        its) and "members" (each run's "run", "prediction" and "probabilities" over the
        views)."""
        with self.lock:
            probs = [view_proba(r, image[None], self.tta)[1][0] for r in self.runs]
        mean = sum(probs) / len(probs)
        k = int(np.argmax(mean))
        answer["committee"] = {
            "runs": self.names, "tta": self.tta,
            "first": {key: answer[key] for key in ("prediction", "label", "probabilities")},
            "members": [{"run": name, "prediction": int(np.argmax(p)),
                         "probabilities": [round(float(v), 6) for v in p]}
                        for name, p in zip(self.names, probs)]}
        answer.update(prediction=k, label=classes[k],
                      probabilities=[round(float(v), 6) for v in mean])
        note = self.note("activations and attention of")
        if note:
            answer["note"] = note
        return answer


__all__ = ["Committee"]
