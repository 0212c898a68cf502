"""What a training gives back: ``TrainResult`` when it ends, ``TrainingInterrupted`` on Ctrl-C."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..nn.module import Module


class TrainingInterrupted(KeyboardInterrupt):
    """Ctrl-C during training. ``run_dir`` holds a resumable checkpoint of ``epoch`` (None
    when training had no run directory)."""

    def __init__(self, run_dir: Path | None, epoch: int) -> None:
        super().__init__(f"interrupted after epoch {epoch}")
        self.run_dir, self.epoch = run_dir, epoch


@dataclass
class TrainResult:
    """What a training produced. ``history``: per-epoch dicts (epoch, train_loss, train_acc,
    val_loss, val_acc, lr, seconds; the diagnostics columns when on); ``model``: the best
    weights, eval mode; ``evaluation``: the test-set dict of ``evaluate.summarize`` (None if
    not evaluated)."""

    history: list[dict[str, Any]]
    test_accuracy: float | None
    test_loss: float | None
    run_dir: Path | None
    seconds: float
    model: Module
    config: dict[str, Any]
    best_epoch: int = 0
    best_val_acc: float | None = None
    epochs_completed: int = 0
    stopped_early: bool = False
    resumed_from: int | None = None
    evaluation: dict[str, Any] | None = None
    plots: list[Path] = field(default_factory=list)
    plot_error: str | None = None
