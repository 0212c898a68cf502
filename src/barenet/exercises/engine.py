"""The checker of module and loss exercises: one engine for every layer.

For each configuration of a :class:`~barenet.exercises.spec.Spec` it builds the learner's class
and the reference, loads the reference's ``state_dict`` into the learner's, runs both forward
and backward in float64 and compares: the output (or loss), buffers such as ``running_mean``,
dL/dx and every parameter's gradient; then the learner's own gradients against centred
differences of the learner's own forward; then that a second backward adds to the parameter
gradients; and that no input was changed in place. A failed comparison names the quantity, the
worst element and both values, and the catalogued mistake whose numbers the learner's match.
"""
from __future__ import annotations

from typing import Any, Callable, Sequence

import numpy as np

from . import compare
from .result import FAILED, NOT_WRITTEN, PASSED, Check, Result
from .spec import Config, Context, Spec
from .trace import LearnerError, NotWritten, call


class _Checks:
    """Checks by name in order of first appearance; the first failure of each is kept."""

    def __init__(self) -> None:
        self.checks: dict[str, Check] = {}

    def add(self, name: str, failure: str | None) -> None:
        check = self.checks.get(name)
        if check is None:
            self.checks[name] = Check(name, failure is None, failure or "")
        elif check.passed and failure is not None:
            check.passed, check.message = False, failure

    def result(self, exercise: str, status: str | None = None) -> Result:
        checks = list(self.checks.values())
        if status is None:
            status = PASSED if all(c.passed for c in checks) else FAILED
        return Result(exercise, status, checks)


def _recognise(spec: Spec, ctx: Context, quantity: str, mine: Any) -> str:
    """`` Looks like NAME: sentence`` when ``mine`` equals what a catalogued mistake gives."""
    for mistake in spec.mistakes:
        try:
            produced = mistake.produce(ctx)
        except Exception:  # a mistake that does not apply to this configuration
            continue
        if quantity in produced and produced[quantity] is not None \
                and compare.matches(mine, produced[quantity]):
            return f". Looks like the mistake '{mistake.name}': {mistake.explain}"
    return ""


def _set_seed(obj: Any, seed: int | None) -> None:
    if seed is not None:
        obj.rng = np.random.default_rng(seed)


def _forward(obj: Any, spec: Spec, inputs: tuple, seed: int | None, who: str) -> Any:
    _set_seed(obj, seed)
    with np.errstate(all="ignore"):
        if who == "reference":
            return obj.forward(*inputs)
        return call(obj.forward, "forward", *inputs)


def _params(obj: Any) -> dict[str, Any]:
    named = getattr(obj, "named_parameters", None)
    return dict(named()) if named is not None else {}


def _buffers(obj: Any) -> dict[str, np.ndarray]:
    named = getattr(obj, "named_buffers", None)
    if named is None:
        return {}
    return {k: np.array(v, dtype=np.float64) for k, v in named()
            if not k.endswith("num_batches_tracked")}


def _build(cls: type, spec: Spec, cfg: Config, checks: _Checks) -> tuple[Any, Any] | None:
    """(learner, reference) with the reference's parameters loaded; None after a failure."""
    ref = spec.reference(**cfg.kwargs)
    learner = call(lambda: cls(**cfg.kwargs), "the constructor")
    if hasattr(ref, "train"):
        ref.train(cfg.train)
        train = getattr(learner, "train", None)
        if train is None:
            checks.add("class", f"{cls.__name__} has no train()/eval(): derive it from nn.Module")
            return None
        train(cfg.train)
    if hasattr(ref, "state_dict"):
        try:
            learner.load_state_dict({k: np.array(v) for k, v in ref.state_dict().items()})
        except Exception as exc:  # a parameter declared with the wrong name or shape
            checks.add("parameters", f"the reference's state_dict does not load ({cfg.label}): "
                                     f"{exc}. Declare the parameters as the stub does")
            return None
        for p in _params(learner).values():
            p.data = np.ascontiguousarray(p.data, dtype=np.float64)
            p.grad = np.zeros_like(p.data)
    checks.add("parameters", None)
    return learner, ref


def _run_config(cls: type, spec: Spec, cfg: Config, index: int, checks: _Checks) -> None:
    built = _build(cls, spec, cfg, checks)
    if built is None:
        return
    learner, ref = built
    loss = spec.kind == "loss"
    out_name, dx_name = ("loss", "dL/dinput") if loss else ("output", "dL/dx")
    rng = np.random.default_rng(1000 + index)
    inputs = cfg.inputs(rng)
    label = ", ".join(s for s in (cfg.label, f"input {np.shape(inputs[0])}") if s)
    kept = tuple(np.array(a) for a in inputs)
    ref_inputs = tuple(np.array(a) for a in inputs)
    before = _buffers(ref)

    y_ref = _forward(ref, spec, ref_inputs, cfg.seed, "reference")
    y = _forward(learner, spec, inputs, cfg.seed, "learner")
    g = None if loss else rng.standard_normal(np.shape(y_ref))
    g_kept = None if g is None else g.copy()
    dx_ref = ref.backward() if loss else ref.backward(g.copy())
    ref_params = _params(ref)
    grads = {out_name: np.asarray(y_ref, dtype=np.float64), dx_name: dx_ref}
    grads.update({f"dL/d{k}": p.grad.copy() for k, p in ref_params.items()})
    grads.update(_buffers(ref))
    ctx = Context(cfg.kwargs, ref_inputs, g_kept, y_ref, grads,
                  {k: p.data for k, p in ref_params.items()}, before, ref, cfg.train,
                  cfg.seed)

    def compare_to_ref(name: str, mine: Any) -> None:
        diff = compare.difference(mine, grads[name])
        if diff is not None:
            diff = f"{diff} ({label}){_recognise(spec, ctx, name, mine)}"
        checks.add(name, diff)

    compare_to_ref(out_name, y)
    for name, value in _buffers(learner).items():
        if name in grads:
            compare_to_ref(name, value)
    with np.errstate(all="ignore"):
        dx = call(learner.backward, "backward") if loss else \
            call(learner.backward, "backward", g)
    compare_to_ref(dx_name, dx)
    mine_params = _params(learner)
    first = {}
    for name in ref_params:
        p = mine_params[name]
        first[name] = None if p.grad is None else np.array(p.grad, dtype=np.float64)
        compare_to_ref(f"dL/d{name}", first[name])

    if ref_params:
        _check_accumulation(learner, spec, cfg, inputs, g_kept, first, checks, label)
    changed = [i for i, (a, b) in enumerate(zip(inputs, kept)) if not np.array_equal(a, b)]
    checks.add("inputs unchanged", f"forward or backward changed argument {changed[0] + 1} in "
                                   f"place ({label}): work on a copy" if changed else None)
    if g is not None:
        checks.add("grad_out unchanged", None if np.array_equal(g, g_kept) else
                   f"backward changed grad_out in place ({label}): work on a copy")
    if cfg.numeric:
        _check_numeric(learner, spec, cfg, inputs, g_kept, dx, first, rng, checks, label)


def _check_accumulation(learner: Any, spec: Spec, cfg: Config, inputs: tuple, g: Any,
                        first: dict[str, Any], checks: _Checks, label: str) -> None:
    """A second forward and backward without zero_grad must double every parameter gradient."""
    _forward(learner, spec, inputs, cfg.seed, "learner")
    with np.errstate(all="ignore"):
        if spec.kind == "loss":
            call(learner.backward, "backward")
        else:
            call(learner.backward, "backward", g.copy())
    mine = _params(learner)
    for name, g1 in first.items():
        if g1 is None:
            continue
        g2 = mine[name].grad
        if compare.difference(g2, 2 * g1) is None:
            continue
        if compare.matches(g2, g1):
            msg = (f"a second backward replaced dL/d{name} instead of adding to it "
                   f"({label}). Looks like the mistake 'gradient assigned instead of "
                   f"added': gradients from several uses of a layer must add up; write "
                   f"p.grad += ... (or p.accumulate_grad(...)), never p.grad = ...")
        else:
            diff = compare.difference(g2, 2 * g1, expected_name="twice the first")
            msg = f"after a second backward dL/d{name}: {diff} ({label})"
        checks.add("gradients add up", msg)
        return
    checks.add("gradients add up", None)


def _check_numeric(learner: Any, spec: Spec, cfg: Config, inputs: tuple, g: Any, dx: Any,
                   first: dict[str, Any], rng: np.random.Generator, checks: _Checks,
                   label: str) -> None:
    """The learner's dL/dx and parameter gradients against centred differences of its own
    forward, for L = sum(forward(x) * g) (a loss: L itself)."""
    work = [np.array(a) for a in inputs]

    def scalar() -> float:
        y = _forward(learner, spec, tuple(work), cfg.seed, "learner")
        return float(y) if g is None else float(np.sum(np.asarray(y, dtype=np.float64) * g))

    dx_name = "dL/dinput" if spec.kind == "loss" else "dL/dx"
    targets: list[tuple[str, np.ndarray, Any]] = [(dx_name, work[0], dx)]
    mine = _params(learner)
    targets += [(f"dL/d{k}", mine[k].data, v) for k, v in first.items()]
    for name, arr, analytic in targets:
        a = compare.as_array(analytic)
        if a is None or a.size != arr.size:
            checks.add(f"numerical {name}", f"cannot compare: your {name} has the wrong shape")
            continue
        idx = compare.sample_indices(arr.size, rng)
        num = compare.numeric_gradient(scalar, arr, idx)
        diff = compare.difference(a.ravel()[idx], num, compare.NUM_RTOL, compare.NUM_ATOL,
                                  expected_name="centred differences give",
                                  where=(arr.shape, idx))
        if diff is not None:
            diff = (f"your {name} disagrees with your own forward ({label}), sampled "
                    f"elements: {diff}")
        checks.add(f"numerical {name}", diff)


def grade(name: str, configs: Sequence[Any],
          run_one: Callable[[Any, int, _Checks], None]) -> Result:
    """Run ``run_one(config, index, checks)`` for every configuration: "not written" at the
    first NotImplementedError, a failed "runs" check for each configuration that raised."""
    checks = _Checks()
    for index, cfg in enumerate(configs):
        try:
            run_one(cfg, index, checks)
        except NotWritten as exc:
            checks.add("written", str(exc))
            return checks.result(name, NOT_WRITTEN)
        except LearnerError as exc:
            checks.add("runs", f"{exc} ({cfg.label or 'default arguments'})")
    checks.add("runs", None)
    return checks.result(name)


def check_spec(spec: Spec, cls: type) -> Result:
    """Grade ``cls`` against ``spec``: every configuration, every check (see module doc)."""
    return grade(spec.name, spec.configs,
                 lambda cfg, index, checks: _run_config(cls, spec, cfg, index, checks))

