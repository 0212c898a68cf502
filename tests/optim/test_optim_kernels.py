"""optim/kernels.py: every in-place step equals its optimizer's textbook ``_update``, exactly.

The kernels do the textbook arithmetic in the same order, so parameters and state must agree
bit for bit, over every option, float32 and float64, odd shapes and non-contiguous parameters.
A planted bug in a copy of a kernel shows the same check catches a wrong kernel.
"""
from __future__ import annotations

import inspect
import itertools
import textwrap
from typing import Any, Callable

import numpy as np
import pytest

from barenet import nn, optim
from barenet.optim import kernels

SHAPES = [(7, 5), (13,), (3, 4, 5), (1,)]
LAYOUTS = ["C", "F", "strided"]
DTYPES = [np.float32, np.float64]
STEPS = 5


def _sgd_cases() -> list[dict]:
    cases = []
    for mom, damp, nest, wd, maxi in itertools.product(
            (0.0, 0.9), (0.0, 0.1), (False, True), (0.0, 1e-2), (False, True)):
        if not nest or (mom > 0 and damp == 0):
            cases.append(dict(lr=0.1, momentum=mom, dampening=damp, nesterov=nest,
                              weight_decay=wd, maximize=maxi))
    return cases


def _adam_cases() -> list[dict]:
    return [dict(lr=0.01, betas=betas, amsgrad=ams, weight_decay=wd, maximize=maxi)
            for betas, ams, wd, maxi in itertools.product(
                ((0.9, 0.999), (0.3, 0.6)), (False, True), (0.0, 1e-2), (False, True))]


def _rmsprop_cases() -> list[dict]:
    return [dict(lr=0.01, alpha=alpha, centered=cen, momentum=mom, weight_decay=wd,
                 maximize=maxi)
            for alpha, cen, mom, wd, maxi in itertools.product(
                (0.99, 0.3), (False, True), (0.0, 0.9), (0.0, 1e-2), (False, True))]


CASES = ([("SGD", kw) for kw in _sgd_cases()] + [("Adam", kw) for kw in _adam_cases()]
         + [("AdamW", kw) for kw in _adam_cases()]
         + [("RMSprop", kw) for kw in _rmsprop_cases()])


def _ids(case: tuple[str, dict]) -> str:
    name, kw = case
    return name + "-" + "-".join(f"{k}={v}" for k, v in kw.items() if k != "lr")


def _param(shape: tuple[int, ...], dtype: type, layout: str,
           rng: np.random.Generator) -> nn.Parameter:
    """A parameter whose data is C-ordered, Fortran-ordered, or a strided view."""
    values = rng.standard_normal(shape).astype(dtype)
    if layout == "F":
        return nn.Parameter(np.asfortranarray(values))
    if layout == "strided":
        base = np.zeros(tuple(2 * n + 1 for n in shape), dtype)
        view = base[tuple(slice(1, None, 2) for _ in shape)]
        view[...] = values
        assert not view.flags.c_contiguous or view.size == 1
        return nn.Parameter(view)
    return nn.Parameter(values)


def _run(name: str, kw: dict, dtype: type, layout: str, fast: bool) -> tuple[list, list]:
    """Parameters' data and state after STEPS steps (the same seeds every call)."""
    rng = np.random.default_rng(11)
    params = [_param(s, dtype, layout, rng) for s in SHAPES]
    opt = getattr(optim, name)(params, **kw)
    for _ in range(STEPS):
        for p in params:
            p.grad[...] = rng.standard_normal(p.shape)
        if fast:
            opt.step()
        else:
            with kernels.textbook():
                opt.step()
    return [p.data.copy() for p in params], [opt.state.get(p, {}) for p in params]


def _assert_same(a: tuple[list, list], b: tuple[list, list], dtype: type) -> None:
    """Parameters and every state entry identical (values and dtypes)."""
    for i, (da, db) in enumerate(zip(a[0], b[0])):
        np.testing.assert_array_equal(da, db, err_msg=f"parameter {i}")
        assert da.dtype == db.dtype == dtype
    for i, (sa, sb) in enumerate(zip(a[1], b[1])):
        assert set(sa) == set(sb), f"parameter {i} state names"
        for key in sa:
            np.testing.assert_array_equal(sa[key], sb[key], err_msg=f"parameter {i} {key}")
            if isinstance(sa[key], np.ndarray):
                assert sa[key].dtype == sb[key].dtype == dtype, key


@pytest.mark.parametrize("case", CASES, ids=_ids)
def test_kernel_equals_textbook(case: tuple[str, dict]) -> None:
    name, kw = case
    for dtype, layout in itertools.product(DTYPES, LAYOUTS):
        fast = _run(name, kw, dtype, layout, fast=True)
        slow = _run(name, kw, dtype, layout, fast=False)
        _assert_same(fast, slow, dtype)


def _planted(kernel: Callable[..., Any], old: str, new: str) -> Callable[..., Any]:
    """A copy of ``kernel`` with ``old`` replaced by ``new`` in its source (one occurrence)."""
    source = textwrap.dedent(inspect.getsource(kernel))
    assert source.count(old) == 1, old
    namespace = dict(vars(kernels))
    exec(compile(source.replace(old, new), f"<planted {kernel.__name__}>", "exec"), namespace)
    return namespace[kernel.__name__]


PLANTED = [
    ("dampening dropped", "sgd_step_", "np.multiply(g, 1 - dampening, out=update)",
     "np.multiply(g, 1.0, out=update)",
     ("SGD", dict(lr=0.1, momentum=0.9, dampening=0.1))),
    ("nesterov steps along b only", "sgd_step_", "update += g", "pass",
     ("SGD", dict(lr=0.1, momentum=0.9, nesterov=True))),
    ("bias correction with step + 1", "adam_step_", "1 - beta1 ** step",
     "1 - beta1 ** (step + 1)", ("Adam", dict(lr=0.01))),
    ("AdamW decay without lr", "adam_step_", "p.data *= 1 - lr * weight_decay",
     "p.data *= 1 - weight_decay", ("AdamW", dict(lr=0.01))),
    ("centred variance v + a^2", "rmsprop_step_", "np.subtract(v, work, out=work)",
     "np.add(v, work, out=work)", ("RMSprop", dict(lr=0.01, centered=True))),
    ("eps inside the square root", "rmsprop_step_", "np.sqrt(v, out=work)\n    work += eps",
     "np.add(v, eps, out=work)\n    np.sqrt(work, out=work)", ("RMSprop", dict(lr=0.01))),
]


@pytest.mark.parametrize("what,kernel,old,new,case", PLANTED, ids=[p[0] for p in PLANTED])
def test_a_planted_bug_is_caught(monkeypatch, what: str, kernel: str, old: str, new: str,
                                 case: tuple[str, dict]) -> None:
    name, kw = case
    slow = _run(name, kw, np.float64, "C", fast=False)
    _assert_same(_run(name, kw, np.float64, "C", fast=True), slow, np.float64)
    monkeypatch.setattr(kernels, kernel, _planted(getattr(kernels, kernel), old, new))
    with pytest.raises(AssertionError):
        _assert_same(_run(name, kw, np.float64, "C", fast=True), slow, np.float64)


def test_textbook_switch_restores_and_scratch_is_reused() -> None:
    assert kernels.enabled()
    with kernels.textbook():
        assert not kernels.enabled()
        with pytest.raises(RuntimeError):
            with kernels.textbook():
                raise RuntimeError("inside")
        assert not kernels.enabled()
    assert kernels.enabled()
    p = nn.Parameter(np.asfortranarray(np.ones((3, 2), np.float32)))
    scratch = kernels.Scratch()
    work = scratch(p, "work")
    assert work.shape == (3, 2) and work.dtype == np.float32 and work.flags.f_contiguous
    assert scratch(p, "work") is work and scratch(p, "grad") is not work
    p.data = np.ones(4)
    assert scratch(p, "work").shape == (4,) and scratch(p, "work").dtype == np.float64


def test_fast_path_updates_state_in_place() -> None:
    """The fast path updates state arrays in place; the textbook path replaces them."""
    p = nn.Parameter(np.ones((4, 3)))
    opt = optim.Adam([p], lr=0.1, amsgrad=True)
    p.grad[...] = 0.5
    opt.step()
    before = dict(opt.state[p])
    p.grad[...] = -0.25
    opt.step()
    assert all(opt.state[p][k] is before[k] for k in ("exp_avg", "exp_avg_sq", "max_exp_avg_sq"))
    with kernels.textbook():
        opt.step()
    assert opt.state[p]["exp_avg"] is not before["exp_avg"]
