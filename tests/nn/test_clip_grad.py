"""Gradient clipping (``nn.utils.clip_grad_norm_``, ``clip_grad_value_``) against PyTorch's:
random parameter sets (shapes, dtypes, grads of None), every kind of norm, thresholds above and
below the total, non-finite gradients, the return value; and planted bugs that must fail."""
import math
import warnings

import numpy as np
import pytest

from barenet import nn
from barenet.nn.utils import (
    NonFiniteNormError,
    clip_grad_norm_,
    clip_grad_value_,
    clip_grads_with_norm_,
    get_total_norm,
)
from barenet.nn.utils import clip_grad as clip_module

torch = pytest.importorskip("torch")
from torch.nn.utils import clip_grad_norm_ as torch_clip_norm  # noqa: E402
from torch.nn.utils import clip_grad_value_ as torch_clip_value  # noqa: E402

SHAPES = [(5, 3), (7,), (2, 3, 4), (1,), (4, 1, 3, 3), (200,)]
NORMS = [2.0, 1.0, math.inf, "inf", 0.5, 3.0]
DTYPES = {"float32": [np.float32], "float64": [np.float64], "mixed": [np.float32, np.float64]}
RTOL = {np.float32: 3e-6, np.float64: 1e-12}


def make_pair(seed, dtypes, scale=1.0, none_every=3):
    """The same gradients as barenet Parameters and as torch leaf tensors; every
    ``none_every``-th parameter (from a seeded offset) has no gradient."""
    rng = np.random.default_rng(seed)
    skip = int(rng.integers(none_every)) if none_every else -1
    ours, theirs = [], []
    for i, shape in enumerate(SHAPES):
        dtype = dtypes[i % len(dtypes)]
        g = (rng.standard_normal(shape) * scale * 10 ** rng.uniform(-1, 1)).astype(dtype)
        p = nn.Parameter(np.zeros(shape, dtype))
        t = torch.zeros(shape, dtype=getattr(torch, np.dtype(dtype).name), requires_grad=True)
        if none_every and i % none_every == skip:
            p.grad = None
        else:
            p.grad, t.grad = g.copy(), torch.from_numpy(g.copy())
        ours.append(p)
        theirs.append(t)
    return ours, theirs


def torch_total(seed, dtypes, norm):
    _, theirs = make_pair(seed, dtypes)
    return torch.nn.utils.get_total_norm([t.grad for t in theirs if t.grad is not None],
                                         norm).item()


def compare(seed, dtypes, norm, factor):
    """Clip the same random set with both libraries at ``factor`` times the total norm;
    returns what differs (empty when they agree)."""
    ours, theirs = make_pair(seed, dtypes)
    max_norm = factor * torch_total(seed, dtypes, norm)
    got = clip_grad_norm_(ours, max_norm, norm_type=norm)
    want = torch_clip_norm(theirs, max_norm, norm_type=norm)
    rtol = max(RTOL[d] for d in dtypes)
    problems = []
    if not isinstance(got, np.floating) or got.dtype != want.numpy().dtype:
        problems.append(f"return {type(got).__name__} {getattr(got, 'dtype', None)}")
    if not np.isclose(got, want.item(), rtol=rtol, atol=0):
        problems.append(f"total {got} vs {want.item()}")
    for i, (p, t) in enumerate(zip(ours, theirs)):
        if (p.grad is None) != (t.grad is None):
            problems.append(f"grad {i} None on one side")
        elif p.grad is not None and not np.allclose(p.grad, t.grad.numpy(), rtol=rtol, atol=0):
            problems.append(f"grad {i}")
    return problems


CASES = [(seed, kind, norm, factor) for seed, kind in enumerate(DTYPES)
         for norm in NORMS for factor in (0.3, 0.999, 2.0)]


def failures():
    return [(case, bad) for case in CASES
            if (bad := compare(case[0], DTYPES[case[1]], case[2], case[3]))]


def test_clip_grad_norm_matches_pytorch():
    assert failures() == []


@pytest.mark.parametrize("seed", range(4))
@pytest.mark.parametrize("norm", [2.0, 1.0, math.inf, 0.5])
def test_clipped_norm_is_max_norm_and_direction_kept(seed, norm):
    ours, _ = make_pair(seed, [np.float64], scale=100.0)
    before = [None if p.grad is None else p.grad.copy() for p in ours]
    total = clip_grad_norm_(ours, 1.0, norm_type=norm)
    assert total > 1.0
    after = get_total_norm([p.grad for p in ours if p.grad is not None], norm)
    assert after == pytest.approx(1.0 / (1 + 1e-6 / total), rel=1e-12)
    for b, p in zip(before, ours):
        if b is None:
            assert p.grad is None
        else:
            np.testing.assert_allclose(p.grad * (total + 1e-6), b, rtol=1e-12)


@pytest.mark.parametrize("dtypes", DTYPES.values(), ids=DTYPES.keys())
def test_given_the_same_total_the_clipped_grads_are_pytorchs_bit_for_bit(dtypes):
    """The coefficient is evaluated as PyTorch does, (1 / (total + 1e-6)) * max_norm in the
    total's dtype, and cast to each gradient's dtype: identical bits, not only close."""
    for seed in range(40):
        ours, theirs = make_pair(seed, dtypes, none_every=0)
        max_norm = float(10 ** np.random.default_rng(seed).uniform(-2, 1))
        want = torch_clip_norm(theirs, max_norm)
        clip_grads_with_norm_(ours, max_norm, want.numpy()[()])
        for p, t in zip(ours, theirs):
            assert np.array_equal(p.grad, t.grad.numpy()), seed


def test_a_coefficient_of_one_leaves_every_bit_and_array():
    ours, theirs = make_pair(0, [np.float32, np.float64])
    grads = [p.grad for p in ours]
    before = [None if g is None else g.copy() for g in grads]
    total = clip_grad_norm_(ours, 1e9)
    torch_clip_norm(theirs, 1e9)
    for p, g, b, t in zip(ours, grads, before, theirs):
        assert p.grad is g
        if g is not None:
            assert np.array_equal(g, b) and np.array_equal(g, t.grad.numpy())
    assert total < 1e9


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
@pytest.mark.parametrize("norm", [2.0, 1.0, math.inf])
def test_non_finite_gradients_as_pytorch(bad, norm):
    ours, theirs = make_pair(1, [np.float32], none_every=0)
    ours[2].grad[0, 1, 2] = bad
    theirs[2].grad[0, 1, 2] = bad
    kept = [p.grad.copy() for p in ours]
    with pytest.raises(NonFiniteNormError, match=f"order {norm:g} .* is (nan|inf)") as info:
        clip_grad_norm_(ours, 1.0, norm_type=norm, error_if_nonfinite=True)
    assert isinstance(info.value, RuntimeError) and "\n" not in str(info.value)
    assert "error_if_nonfinite=False" in str(info.value)
    with pytest.raises(RuntimeError, match="non-finite"):
        torch_clip_norm(theirs, 1.0, norm_type=norm, error_if_nonfinite=True)
    for p, k in zip(ours, kept):   # an error changes nothing
        np.testing.assert_array_equal(p.grad, k)
    with warnings.catch_warnings():
        warnings.simplefilter("error")   # no NumPy warning escapes for NaN or inf
        got = clip_grad_norm_(ours, 1.0, norm_type=norm)
    want = torch_clip_norm(theirs, 1.0, norm_type=norm)
    np.testing.assert_array_equal(got, want.numpy())
    for p, t in zip(ours, theirs):   # NaN everywhere, or 0 (and NaN for the inf entry)
        np.testing.assert_array_equal(p.grad, t.grad.numpy())


def test_return_value_and_what_parameters_may_be():
    ours, theirs = make_pair(2, [np.float64])
    total = clip_grad_norm_((p for p in ours), 0.1)        # a generator: read once
    want = torch_clip_norm((t for t in theirs), 0.1)
    assert isinstance(total, np.float64) and np.ndim(total) == 0
    assert total == pytest.approx(want.item(), rel=1e-12)
    for p, t in zip(ours, theirs):
        if p.grad is not None:
            np.testing.assert_allclose(p.grad, t.grad.numpy(), rtol=1e-12)
    one = nn.Parameter(np.zeros(3, np.float32))
    one.grad = np.array([3.0, 4.0, 0.0], np.float32)
    assert clip_grad_norm_(one, 1.0) == np.float32(5.0)          # one Parameter alone
    np.testing.assert_allclose(one.grad, [0.6, 0.8, 0.0], rtol=1e-6)
    assert clip_grad_norm_(one, 10.0, "inf") == pytest.approx(0.8, rel=1e-6)
    empty = clip_grad_norm_([], 1.0)
    assert empty == 0 and empty.dtype == torch_clip_norm([], 1.0).numpy().dtype
    nothing = nn.Parameter(np.ones(2))
    nothing.grad = None
    assert clip_grad_norm_([nothing], 1.0) == 0 and nothing.grad is None
    with pytest.warns(UserWarning, match="empty generator"):
        clip_grad_norm_((p for p in []), 1.0)
    with pytest.raises(ValueError, match="norm_type must be a number or 'inf', got 'fro'"):
        clip_grad_norm_(ours, 1.0, norm_type="fro")
    model = nn.Sequential(nn.Linear(3, 2, rng=0))
    model(np.ones((4, 3), np.float32))
    model.backward(np.ones((4, 2), np.float32))
    assert clip_grad_norm_(model.parameters(), 1.0) > 1   # a model's parameters


@pytest.mark.parametrize("clip", [0.05, 0.5, 2.0, -0.5])
@pytest.mark.parametrize("dtypes", [[np.float32], [np.float32, np.float64]])
def test_clip_grad_value_matches_pytorch(clip, dtypes):
    ours, theirs = make_pair(3, dtypes)
    ours[0].grad.flat[0] = theirs[0].grad.view(-1)[0] = np.nan
    assert clip_grad_value_(ours, clip) is None
    torch_clip_value(theirs, clip)
    for p, t in zip(ours, theirs):
        assert (p.grad is None) == (t.grad is None)
        if p.grad is not None:
            np.testing.assert_array_equal(p.grad, t.grad.numpy())
    one = nn.Parameter(np.zeros(3))
    one.grad = np.array([-3.0, 0.2, 5.0])
    clip_grad_value_(one, 1)
    np.testing.assert_array_equal(one.grad, [-1.0, 0.2, 1.0])


def _unclamped(max_norm, total_norm):
    dt = np.asarray(total_norm).dtype.type
    return dt(1) / (total_norm + dt(1e-6)) * dt(max_norm)


def _sum_of_norms(tensors, norm_type=2.0, error_if_nonfinite=False, foreach=None):
    tensors = list(tensors)
    p = float(norm_type)
    return np.float64(sum(clip_module.vector_norm(t, p) for t in tensors)) if tensors \
        else np.float32(0)


def _norm_of_sum(x, p):
    return np.abs(np.sum(x)).astype(np.asarray(x).dtype)


@pytest.mark.parametrize("where, planted", [
    ("clip_coefficient", _unclamped),            # grads scaled up when below the threshold
    ("get_total_norm", _sum_of_norms),           # total = sum of the norms, not their norm
    ("vector_norm", _norm_of_sum),               # |sum g| instead of the p-norm of g
])
def test_a_planted_bug_fails_the_parity_test(monkeypatch, where, planted):
    assert failures() == []
    monkeypatch.setattr(clip_module, where, planted)
    assert failures(), f"a wrong {where} passed the parity test"


def test_plain_division_fails_the_bit_for_bit_test(monkeypatch):
    """max_norm / (total + eps) in one division differs from PyTorch in the last bit now
    and then: the bit-for-bit test sees it."""
    def divided(max_norm, total_norm):
        dt = np.asarray(total_norm).dtype.type
        return np.minimum(dt(max_norm) / (total_norm + dt(1e-6)), dt(1))

    monkeypatch.setattr(clip_module, "clip_coefficient", divided)
    with pytest.raises(AssertionError):
        test_given_the_same_total_the_clipped_grads_are_pytorchs_bit_for_bit([np.float32])
