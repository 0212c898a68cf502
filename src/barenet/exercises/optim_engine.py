"""The checker of optimizer exercises.

For each configuration (hyper-parameters) it gives the learner's optimizer and barenet's the
same parameters (a matrix, a vector, and one whose ``grad`` is None) and the same gradients for
several steps, and compares after every step each parameter and each state entry
(``momentum_buffer``, ``exp_avg``, ...). A mistake is a variant of the update rule: the
checker simulates it on the same gradients and names it when the learner's numbers match.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

from ..nn.module import Parameter
from . import compare
from .engine import _Checks, grade
from .result import Result
from .trace import call

#: rule(p, g, state, hyper): one parameter's update, in place on ``p`` and ``state``
Rule = Callable[[np.ndarray, np.ndarray, dict[str, Any], dict[str, Any]], None]


@dataclass(frozen=True)
class OptimMistake:
    """A known mistake: its name, one sentence with a hint, and the mistaken update rule."""

    name: str
    explain: str
    rule: Rule


@dataclass(frozen=True)
class OptimConfig:
    """Hyper-parameters given to both constructors, and how many steps to compare."""

    hyper: dict[str, Any]
    steps: int = 4

    @property
    def label(self) -> str:
        return ", ".join(f"{k}={v!r}" for k, v in self.hyper.items())


@dataclass(frozen=True)
class OptimSpec:
    """An optimizer exercise: the reference class, configurations, mistakes and stub."""

    name: str
    reference: Callable[..., Any]
    configs: tuple[OptimConfig, ...]
    mistakes: tuple[OptimMistake, ...]
    stub: str
    kind: str = "optimizer"


SHAPES = ((3, 4), (5,), (2,))  # the last one's grad is None: it must not move


def _problem(index: int) -> tuple[list[np.ndarray], list[list[np.ndarray]]]:
    """Initial parameters and, per step, one gradient per parameter (None for the last)."""
    rng = np.random.default_rng(500 + index)
    params = [rng.standard_normal(s) for s in SHAPES]
    grads = [[rng.standard_normal(s) for s in SHAPES[:-1]] for _ in range(12)]
    return params, grads


def simulate(rule: Rule, hyper: dict[str, Any], params: list[np.ndarray],
             grads: list[list[np.ndarray]], steps: int) -> list[tuple[list, list]]:
    """Per step: (parameters, states) after ``rule`` ran on every parameter with a gradient."""
    ps = [p.copy() for p in params]
    states: list[dict[str, Any]] = [{} for _ in params]
    out = []
    for t in range(steps):
        for i, g in enumerate(grads[t]):
            rule(ps[i], g.copy(), states[i], hyper)
        out.append(([p.copy() for p in ps],
                    [{k: (v.copy() if isinstance(v, np.ndarray) else v) for k, v in s.items()}
                     for s in states]))
    return out


def _recognise(spec: OptimSpec, cfg: OptimConfig, params: list[np.ndarray],
               grads: list[list[np.ndarray]], step: int, what: tuple, mine: Any) -> str:
    """`` Looks like ...`` when simulating a catalogued mistake gives the learner's value."""
    for mistake in spec.mistakes:
        try:
            ps, states = simulate(mistake.rule, cfg.hyper, params, grads, step + 1)[step]
        except Exception:  # the variant does not apply to these hyper-parameters
            continue
        i, key = what
        value = ps[i] if key is None else states[i].get(key)
        if value is not None and compare.matches(mine, value):
            return f". Looks like the mistake '{mistake.name}': {mistake.explain}"
    return ""


def _run(spec: OptimSpec, cls: type, cfg: OptimConfig, index: int, checks: _Checks) -> None:
    params0, grads = _problem(index)
    mine = [Parameter(p.copy()) for p in params0]
    ref = [Parameter(p.copy()) for p in params0]
    learner = call(lambda: cls(mine, **cfg.hyper), "the constructor")
    reference = spec.reference(ref, **cfg.hyper)
    for p in mine[-1:] + ref[-1:]:
        p.grad = None
    for t in range(cfg.steps):
        for ps in (mine, ref):
            for p, g in zip(ps, grads[t]):
                p.grad = g.copy()
        with np.errstate(all="ignore"):
            call(learner.step, "step")
        reference.step()
        at = f"after step {t + 1} ({cfg.label})"
        unchanged = all(np.array_equal(p.grad, g) for p, g in zip(mine, grads[t]))
        checks.add("gradients unchanged", None if unchanged else
                   f"step changed p.grad in place {at}: work on a copy")
        failed = False
        for i, (pm, pr) in enumerate(zip(mine, ref)):
            diff = compare.difference(pm.data, pr.data)
            if diff is not None:
                what = "the parameter whose grad is None moved" if pr.grad is None else \
                    f"parameter {i} {tuple(pr.shape)}"
                diff = f"{what} {at}: {diff}" + _recognise(spec, cfg, params0, grads, t,
                                                           (i, None), pm.data)
                failed = True
            checks.add("parameters", diff)
            ref_state = reference.state.get(pr, {})
            my_state = learner.state.get(pm, {}) if isinstance(learner.state, dict) else {}
            for key, value in ref_state.items():
                name = f"state '{key}'"
                if key not in my_state:
                    checks.add(name, f"self.state[p] has no {key!r} {at}: keep it there")
                    failed = True
                    continue
                diff = compare.difference(my_state[key], np.asarray(value, dtype=np.float64))
                if diff is not None:
                    diff = f"parameter {i} {at}: {diff}" + _recognise(
                        spec, cfg, params0, grads, t, (i, key), my_state[key])
                    failed = True
                checks.add(name, diff)
        if failed:
            return


def check_optimizer(spec: OptimSpec, cls: type) -> Result:
    """Grade the optimizer class ``cls`` against ``spec`` (see the module docstring)."""
    return grade(spec.name, spec.configs,
                 lambda cfg, index, checks: _run(spec, cls, cfg, index, checks))
