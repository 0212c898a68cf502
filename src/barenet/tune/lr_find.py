"""The learning-rate range test (Smith, "Cyclical learning rates for training neural networks",
2017): one short run whose learning rate grows exponentially, batch after batch, from tiny to
large, recording the training loss; the rate to train with is read off the loss curve.

- the schedule: ``lr_k = start * (end / start) ** (k / (n - 1))`` for batch k = 0 .. n-1 (a
  straight line on a log axis), every parameter group set to it before the step;
- the curve: the loss of each batch (computed before that batch's step), smoothed by an
  exponentially weighted mean with bias correction,
  ``m_k = beta m_{k-1} + (1 - beta) loss_k``, ``smoothed_k = m_k / (1 - beta ** (k + 1))``;
- the run stops early once the smoothed loss exceeds ``diverge`` times the best smoothed loss
  so far, or a loss is not finite (inf or NaN: that batch is not recorded);
- the suggestion (``suggest``), by one of two rules, both computed on every run:
  ``"steepest"``: the rate where the smoothed loss falls fastest against log lr, i.e. the
  minimum of d smoothed / d ln lr (``np.gradient``) between the end of the smoothing's
  warm-up (the first tenth of the batches) and the lowest smoothed loss;
  ``"min/10"``: a tenth of the rate at the lowest smoothed loss.
  The default, ``"min/10"``, is the rule that agrees with ``barenet tune``'s sweep: for the
  default MLP the sweep's best rate was 0.03; over five seeds "min/10" suggested 0.019 to
  0.041, "steepest" 0.010 to 0.014 (``benchmarks/lr_find_check.py``; docs/lr-finder.md).

``lr_find`` leaves the model and the optimizer exactly as it found them: parameters, gradients,
buffers (BatchNorm's running statistics), each module's training flag, the state of the
model's random generators (dropout) and the optimizer's state and learning rates are saved
before the run and written back afterwards, also when the run fails or is interrupted.
The batches are drawn in an order from ``seed`` (or a Generator): no global RNG.
"""
from __future__ import annotations

import copy
import math
from dataclasses import dataclass, field
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from ..nn.init import RNGLike, as_generator, find_generators
from ..nn.module import Module
from ..optim import Optimizer

START_LR, END_LR = 1e-7, 10.0
NUM_BATCHES = 300        # about 37 batches per factor of 10 from 1e-7 to 10
MIN_BATCHES = 20         # fewer cannot show a curve through the smoothing
BETA = 0.98              # smoothing: a memory of about 1 / (1 - beta) = 50 batches
DIVERGE = 4.0            # stop once the smoothed loss exceeds this multiple of its best
RULES = ("min/10", "steepest")
DEFAULT_RULE = "min/10"


@dataclass
class LRFindResult:
    """One range test. ``lrs``, ``losses``, ``smoothed``: (K,) float64, one per batch run
    (K <= ``num_batches``); ``suggestion`` by ``rule`` (None when the curve has no descent to
    read); ``candidates``: every rule's suggestion; ``stop``: why the run ended."""

    lrs: np.ndarray
    losses: np.ndarray
    smoothed: np.ndarray
    suggestion: float | None
    rule: str
    candidates: dict[str, float | None]
    stop: str
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def min_loss_lr(self) -> float | None:
        """The learning rate at the lowest smoothed loss (None if no batch was recorded)."""
        return float(self.lrs[int(np.argmin(self.smoothed))]) if len(self.lrs) else None

    def to_dict(self) -> dict[str, Any]:
        """JSON-able: the settings, the curve (per batch: lr, loss, smoothed), the outcome."""
        return {**self.settings, "rule": self.rule, "suggestion": self.suggestion,
                "candidates": dict(self.candidates), "min_loss_lr": self.min_loss_lr,
                "stop": self.stop, "batches_run": int(len(self.lrs)),
                "curve": [{"lr": float(a), "loss": float(b), "smoothed": float(c)}
                          for a, b, c in zip(self.lrs, self.losses, self.smoothed)]}


def check_range(start_lr: float, end_lr: float, num_batches: int, beta: float = BETA,
                diverge: float = DIVERGE, rule: str = DEFAULT_RULE) -> None:
    """ConfigError in one line unless 0 < start_lr < end_lr (finite), num_batches >=
    MIN_BATCHES, 0 <= beta < 1, diverge > 1 and ``rule`` is one of RULES."""
    for name, v in (("start-lr", start_lr), ("end-lr", end_lr)):
        if isinstance(v, bool) or not isinstance(v, (int, float)) or not math.isfinite(v) \
                or v <= 0:
            raise ConfigError(f"lr_find: --{name} must be a positive number, got {v!r}")
    if start_lr >= end_lr:
        raise ConfigError(f"lr_find: --start-lr {start_lr:g} must be below --end-lr {end_lr:g}")
    if isinstance(num_batches, bool) or not isinstance(num_batches, (int, np.integer)) \
            or num_batches < MIN_BATCHES:
        raise ConfigError(f"lr_find: --num-batches must be an integer >= {MIN_BATCHES} (the "
                          f"smoothed curve needs them), got {num_batches!r}")
    if not (isinstance(beta, (int, float)) and 0 <= beta < 1):
        raise ConfigError(f"lr_find: the smoothing beta must be in [0, 1), got {beta!r}")
    if not (isinstance(diverge, (int, float)) and math.isfinite(diverge) and diverge > 1):
        raise ConfigError(f"lr_find: the divergence factor must be a number > 1, "
                          f"got {diverge!r}")
    if rule not in RULES:
        raise ConfigError(f"lr_find: unknown rule {rule!r}; expected one of {', '.join(RULES)}")


def lr_schedule(start_lr: float, end_lr: float, num_batches: int) -> np.ndarray:
    """(num_batches,) float64: the rates from ``start_lr`` to ``end_lr``, a constant factor
    ``(end / start) ** (1 / (num_batches - 1))`` apart."""
    steps = np.arange(num_batches, dtype=np.float64) / (num_batches - 1)
    return start_lr * (end_lr / start_lr) ** steps


def smooth(losses: np.ndarray, beta: float = BETA) -> np.ndarray:
    """(K,) exponentially weighted means of ``losses`` (K,), bias-corrected: the k-th is
    ``m_k / (1 - beta ** (k + 1))`` with ``m_k = beta m_{k-1} + (1 - beta) loss_k``, m_-1 = 0."""
    out = np.empty(len(losses), dtype=np.float64)
    m = 0.0
    for k, loss in enumerate(np.asarray(losses, dtype=np.float64)):
        m = beta * m + (1 - beta) * loss
        out[k] = m / (1 - beta ** (k + 1))
    return out


def suggest(lrs: np.ndarray, smoothed: np.ndarray, rule: str = DEFAULT_RULE) -> float | None:
    """The learning rate ``rule`` reads off a curve (see the module docstring); None when the
    smoothed loss never falls (its lowest point is in the first tenth of the batches)."""
    lrs, smoothed = np.asarray(lrs, np.float64), np.asarray(smoothed, np.float64)
    warm = max(1, len(lrs) // 10)
    low = int(np.argmin(smoothed))
    if low < warm:
        return None
    if rule == "min/10":
        return float(lrs[low] / 10)
    if rule == "steepest":
        slope = np.gradient(smoothed, np.log(lrs))
        return float(lrs[warm + int(np.argmin(slope[warm:low + 1]))])
    raise ConfigError(f"lr_find: unknown rule {rule!r}; expected one of {', '.join(RULES)}")


def lr_find(model: Module, dataset: Any, optimizer: Optimizer | str = "sgd", *,
            criterion: Any = None, transform: Callable[[np.ndarray], np.ndarray] | None = None,
            batch_size: int = 64, start_lr: float = START_LR, end_lr: float = END_LR,
            num_batches: int = NUM_BATCHES, beta: float = BETA, diverge: float = DIVERGE,
            rule: str = DEFAULT_RULE, seed: RNGLike = 0,
            indices: np.ndarray | None = None) -> LRFindResult:
    """Run the learning-rate range test on ``model``; return the curve and the suggestion.

    Args:
        model: the network, trained in training mode during the test and restored afterwards.
        dataset: a ``barenet.data`` Dataset (uint8 images, its mean/std for ``Normalize``) or
            ``(images (N, ...), labels (N,))`` arrays; float images are used as they are.
        optimizer: an Optimizer over ``model``'s parameters (its momentum, weight decay and
            state are used, then restored) or a name (sgd, adam, adamw, rmsprop: ``barenet
            train``'s defaults for it).
        criterion: the loss (default ``nn.CrossEntropyLoss()``).
        transform: uint8 batch -> model input (default for a Dataset: ``Normalize`` with its
            statistics, flat or as images as the model's first layer takes them).
        batch_size, num_batches: the run, repeating the data as often as needed.
        start_lr, end_lr, beta, diverge, rule: see the module docstring.
        seed: int or Generator for the order of the batches.
        indices: (M,) ints: use only these samples (e.g. without the validation split).
    Raises ConfigError on bad settings, before anything changes.
    """
    from ..data.loader import DataLoader
    from ..nn import CrossEntropyLoss

    check_range(start_lr, end_lr, num_batches, beta, diverge, rule)
    images, labels, transform = _data(model, dataset, transform)
    n = len(labels) if indices is None else len(indices)
    if n == 0:
        raise ConfigError("lr_find: the dataset has no samples")
    if isinstance(optimizer, str):
        optimizer = _named_optimizer(optimizer, model)
    criterion = CrossEntropyLoss() if criterion is None else criterion
    loader = DataLoader(images, labels, batch_size=batch_size, shuffle=True,
                        rng=as_generator(seed, "lr_find"), transform=transform, indices=indices)
    schedule = lr_schedule(start_lr, end_lr, num_batches)
    settings = {"start_lr": float(start_lr), "end_lr": float(end_lr),
                "num_batches": int(num_batches), "batch_size": int(batch_size),
                "beta": float(beta), "diverge": float(diverge),
                "optimizer": type(optimizer).__name__.lower()}
    saved = _Snapshot(model, optimizer)
    try:
        losses, stop = _run(model, optimizer, criterion, loader, schedule, beta, diverge)
    finally:
        saved.restore()
    lrs = schedule[:len(losses)]
    losses = np.asarray(losses, dtype=np.float64)
    smoothed = smooth(losses, beta)
    candidates = {r: (suggest(lrs, smoothed, r) if len(losses) else None) for r in RULES}
    return LRFindResult(lrs, losses, smoothed, candidates[rule], rule, candidates, stop,
                        settings)


def _run(model: Module, opt: Optimizer, criterion: Any, loader: Any, schedule: np.ndarray,
         beta: float, diverge: float) -> tuple[list[float], str]:
    """Step through ``schedule``; the losses recorded and why the run stopped."""
    losses: list[float] = []
    m, best = 0.0, math.inf
    model.train()
    batches = iter(())
    with np.errstate(over="ignore", invalid="ignore", divide="ignore"):
        for k, lr in enumerate(schedule):
            batch = next(batches, None)
            if batch is None:       # the data is used up: another pass, a new order
                batches = iter(loader)
                batch = next(batches)
            x, y = batch
            for group in opt.param_groups:
                group["lr"] = float(lr)
            loss = float(criterion(model(x), y))
            if not math.isfinite(loss):
                return losses, f"the loss became {loss} at batch {k + 1} (lr {lr:.3g})"
            losses.append(loss)
            m = beta * m + (1 - beta) * loss
            smoothed = m / (1 - beta ** (k + 1))
            best = min(best, smoothed)
            if smoothed > diverge * best:
                return losses, (f"the smoothed loss exceeded {diverge:g} x its lowest at batch "
                                f"{k + 1} (lr {lr:.3g})")
            opt.zero_grad()
            model.backward_params_only(criterion.backward())
            opt.step()
    return losses, f"reached --end-lr after {len(schedule)} batches"


class _Snapshot:
    """Everything a training step changes in a model and its optimizer, copied, and written
    back in place by ``restore()``."""

    def __init__(self, model: Module, opt: Optimizer) -> None:
        self.model, self.opt = model, opt
        self.params = [(p, p.data.copy(), None if p.grad is None else p.grad.copy())
                       for _, p in model.named_parameters()]
        self.buffers = {k: np.array(v, copy=True) for k, v in model.named_buffers()}
        self.modes = [(m, m.training) for m in model.modules()]
        self.generators = {k: copy.deepcopy(g.bit_generator.state)
                           for k, g in find_generators({"model": model}).items()}
        self.opt_state = opt.state_dict()

    def restore(self) -> None:
        for p, data, grad in self.params:
            np.copyto(p.data, data)
            if grad is None or p.grad is None or p.grad.shape != grad.shape:
                p.grad = None if grad is None else grad.copy()
            else:
                np.copyto(p.grad, grad)
        for k, v in self.model.named_buffers():
            np.copyto(v, self.buffers[k])
        for m, mode in self.modes:      # parents first: a child's own flag is set after
            m.train(mode)
        for k, g in find_generators({"model": self.model}).items():
            g.bit_generator.state = self.generators[k]
        self.opt.load_state_dict(self.opt_state)


def _named_optimizer(name: str, model: Module) -> Optimizer:
    from ..train.config import OPTIMIZER_DEFAULTS, OPTIMIZERS
    from ..train.factories import make_optimizer

    if name not in OPTIMIZERS:
        raise ConfigError(f"lr_find: unknown optimizer {name!r}; expected one of "
                          f"{', '.join(OPTIMIZERS)}")
    d = OPTIMIZER_DEFAULTS[name]
    return make_optimizer(name, model.parameters(), START_LR, d["momentum"], d["weight_decay"])


def _data(model: Module, dataset: Any, transform: Callable | None
          ) -> tuple[np.ndarray, np.ndarray, Callable | None]:
    """(images, labels, transform) of a Dataset or an (images, labels) pair."""
    if isinstance(dataset, (tuple, list)) and len(dataset) == 2:
        images, labels = (np.asarray(a) for a in dataset)
        if transform is None and images.dtype == np.uint8:
            raise ConfigError("lr_find: uint8 images need a transform to the model's input "
                              "(e.g. barenet.data.Normalize), or pass a Dataset")
        return images, labels, transform
    if not all(hasattr(dataset, a) for a in ("images", "labels", "mean", "std")):
        raise ConfigError(f"lr_find: dataset must be a barenet Dataset or an (images, labels) "
                          f"pair, got {type(dataset).__name__}")
    if transform is None:
        from ..data.transforms import Normalize

        transform = Normalize(dataset.mean, dataset.std, flatten=_takes_flat(model, dataset))
    return dataset.images, dataset.labels, transform


def _takes_flat(model: Module, dataset: Any) -> bool:
    """Whether ``model``'s first layer that says takes flat vectors (else images)."""
    from ..nn.architecture import ArchitectureError, describe
    from ..nn.architecture_shapes import infer_input_shape

    try:
        shape = infer_input_shape(describe(model), tuple(dataset.images.shape[1:3]))
    except ArchitectureError:
        shape = None
    if shape is None:
        raise ConfigError("lr_find: cannot tell the input this model takes; pass transform= "
                          "(e.g. barenet.data.Normalize(mean, std, flatten=...))")
    return len(shape) == 1


__all__ = ["BETA", "DEFAULT_RULE", "DIVERGE", "END_LR", "LRFindResult", "MIN_BATCHES",
           "NUM_BATCHES", "RULES", "START_LR", "check_range", "lr_find", "lr_schedule",
           "smooth", "suggest"]
