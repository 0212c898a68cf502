"""Every fast kernel equals the textbook code it replaces, and a planted bug is caught.

Each case runs one layer's forward and backward twice on the same input and upstream gradient:
with the fast kernels (the default) and inside ``kernels.textbook()``, then compares the output,
dL/dx and every parameter gradient. Inputs cover odd sizes, strides, padding, both float
dtypes and non-contiguous layouts (strided slices, Fortran order, the batch-last view that a
conv output has). The planted-bug tests copy a kernel's source, change one detail as a real
slip would (an off-by-one, a dropped term, a tie broken the wrong way), and show that the same
comparison fails.
"""
from __future__ import annotations

import inspect
import types
from contextlib import nullcontext

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from barenet import nn
from barenet.nn import kernels
from barenet.nn.kernels import batch_last, conv2d, pool2d
from barenet.nn.windows import col2im, im2col

TOL = {np.float32: dict(rtol=2e-5, atol=2e-5), np.float64: dict(rtol=1e-11, atol=1e-11)}


def layouts(x: np.ndarray) -> dict[str, np.ndarray]:
    """The same values of an (N, C, H, W) array in several memory layouts."""
    strided = np.zeros(x.shape[:3] + (2 * x.shape[3],), dtype=x.dtype)[..., ::2]
    strided[...] = x
    return {"C": np.ascontiguousarray(x), "F": np.asfortranarray(x),
            "batch-last": batch_last.from_work(np.ascontiguousarray(batch_last.to_work(x))),
            "strided": strided}


def run(layer: nn.Module, x: np.ndarray, g_seed: int) -> tuple[np.ndarray, np.ndarray, list]:
    """(y, dL/dx, parameter grads) of one forward/backward with a random upstream gradient."""
    layer.zero_grad()
    y = layer(x)
    g = np.random.default_rng(g_seed).standard_normal(y.shape).astype(y.dtype)
    dx = layer.backward(g)
    return np.array(y), np.array(dx), [np.array(p.grad) for p in layer.parameters()]


def assert_kernel_matches_textbook(layer: nn.Module, x: np.ndarray) -> None:
    fast = run(layer, x, 1)
    with kernels.textbook():
        plain = run(layer, x, 1)
    tol = TOL[x.dtype.type]
    np.testing.assert_allclose(fast[0], plain[0], **tol, err_msg="forward")
    np.testing.assert_allclose(fast[1], plain[1], **tol, err_msg="dL/dx")
    for a, b in zip(fast[2], plain[2]):
        np.testing.assert_allclose(a, b, **tol, err_msg="parameter gradient")


CONV_CASES = [  # (N, C_in, H, W, C_out, kernel, stride, padding, bias)
    (2, 1, 7, 7, 3, 3, 1, 0, True),
    (3, 2, 9, 6, 4, (3, 2), (2, 1), (1, 0), True),
    (1, 3, 8, 8, 2, 2, 2, 0, False),
    (5, 2, 11, 7, 3, (1, 3), (1, 2), (0, 1), True),
    (2, 4, 6, 6, 5, 3, 1, 1, False),
    (1, 1, 5, 9, 1, 5, 3, 2, True),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_kernel_equals_textbook(case, dtype):
    n, c, h, w, c_out, k, s, p, bias = case
    layer = nn.Conv2d(c, c_out, k, stride=s, padding=p, bias=bias, rng=0).astype(dtype)
    x = np.random.default_rng(2).standard_normal((n, c, h, w)).astype(dtype)
    for name, xs in layouts(x).items():
        assert_kernel_matches_textbook(layer, xs)
        layer.eval()  # eval mode: the kernel keeps no work arrays
        assert_kernel_matches_textbook(layer, xs)
        layer.train()


def test_conv2d_kernel_params_only_equals_textbook():
    layer = nn.Conv2d(2, 3, 3, padding=1, rng=0).astype(np.float64)
    x = np.random.default_rng(0).standard_normal((4, 2, 7, 5))
    g = np.random.default_rng(1).standard_normal((4, 3, 7, 5))
    grads = []
    for mode in (nullcontext, kernels.textbook):
        with mode():
            layer.zero_grad()
            layer(x)
            assert layer.backward_params_only(g) is None
            grads.append([p.grad.copy() for p in layer.parameters()])
    for a, b in zip(*grads):
        np.testing.assert_allclose(a, b, rtol=1e-12, atol=1e-12)


@pytest.mark.parametrize("block_bytes", [1, 200])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CONV_CASES)
def test_conv2d_dx_in_blocks_of_rows_equals_textbook(monkeypatch, case, dtype, block_bytes):
    """dL/dx made block of output rows by block (one row per block at 1 byte, a few at 200)
    equals the textbook gradient, windows overlapping across blocks included."""
    monkeypatch.setattr(conv2d, "DCOLS_BLOCK_BYTES", block_bytes)
    n, c, h, w, c_out, k, s, p, bias = case
    layer = nn.Conv2d(c, c_out, k, stride=s, padding=p, bias=bias, rng=0).astype(dtype)
    x = np.random.default_rng(2).standard_normal((n, c, h, w)).astype(dtype)
    assert_kernel_matches_textbook(layer, x)


POOL_CASES = [  # (N, C, H, W, kernel, stride, padding)
    (2, 3, 8, 8, 2, None, 0),      # the 2x2 block kernel
    (3, 2, 9, 7, 2, None, 0),      # 2x2 on odd sizes: the last row/column is dropped
    (2, 2, 7, 7, 3, 2, 1),         # overlapping windows with padding
    (1, 3, 10, 6, (3, 2), (1, 2), (1, 1)),
    (4, 1, 5, 5, 3, 3, 0),
]


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", POOL_CASES)
@pytest.mark.parametrize("cls", [nn.MaxPool2d, nn.AvgPool2d])
def test_pool_kernel_equals_textbook(cls, case, dtype):
    n, c, h, w, k, s, p = case
    layer = cls(k, stride=s, padding=p)
    rng = np.random.default_rng(3)
    x = rng.standard_normal((n, c, h, w)).astype(dtype)
    ties = rng.integers(0, 3, (n, c, h, w)).astype(dtype)  # many equal maxima per window
    for xs in [*layouts(x).values(), *layouts(ties).values()]:
        assert_kernel_matches_textbook(layer, xs)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_flatten_after_conv_equals_textbook_and_keeps_the_layout(dtype):
    model = nn.Sequential(nn.Conv2d(2, 3, 3, rng=0), nn.MaxPool2d(2), nn.ReLU(), nn.Flatten(),
                          nn.Linear(3 * 3 * 3, 4, rng=1)).astype(dtype)
    x = np.random.default_rng(0).standard_normal((5, 2, 8, 8)).astype(dtype)
    assert_kernel_matches_textbook(model, x)
    flat = model[3]
    feature_map = model[:3](x)
    flat(feature_map)
    g = flat.backward(np.ones((5, 27), dtype=dtype))
    assert g.strides == feature_map.strides  # batch-last in, batch-last gradient out


@pytest.mark.parametrize("case", CONV_CASES)
def test_batch_last_im2col_is_the_textbook_im2col_transposed(case):
    n, c, h, w, _, k, s, _, _ = case
    k = (k, k) if isinstance(k, int) else k
    s = (s, s) if isinstance(s, int) else s
    x = np.random.default_rng(0).standard_normal((n, c, h, w))
    plain = im2col(x, k, s)                                       # (N*Ho*Wo, K)
    fast = batch_last.im2col(np.ascontiguousarray(batch_last.to_work(x)), k, s)  # (K, Ho*Wo*N)
    ho, wo = (h - k[0]) // s[0] + 1, (w - k[1]) // s[1] + 1
    fast_rows = fast.reshape(-1, ho, wo, n).transpose(3, 1, 2, 0).reshape(n * ho * wo, -1)
    np.testing.assert_array_equal(fast_rows, plain)
    back = col2im(plain, x.shape, k, s)
    fast_back = batch_last.col2im(fast, (c, h, w, n), k, s)
    np.testing.assert_allclose(batch_last.from_work(fast_back), back, rtol=1e-12, atol=1e-12)


# -- planted bugs: the equality tests above must catch each of these ----------------------------

def mutated(module: types.ModuleType, old: str, new: str) -> types.ModuleType:
    """A copy of ``module`` with one piece of its source changed (which must be present)."""
    src = inspect.getsource(module)
    assert src.count(old) == 1, f"the planted change {old!r} no longer fits {module.__name__}"
    copy = types.ModuleType(module.__name__ + "_planted")
    copy.__package__ = module.__package__
    exec(compile(src.replace(old, new), module.__file__, "exec"), copy.__dict__)
    return copy


PLANTED = [
    # (kernel module, what a slip would change, layer to test, input shape)
    ("conv2d", "cols[k] = 1", "cols[k] = 0",                     # the bias term dropped
     lambda: nn.Conv2d(2, 3, 3, rng=0), (2, 2, 6, 6)),
    ("conv2d", "dw[:, k] if cache.has_bias", "dw[:, k - 1] if cache.has_bias",  # off by one
     lambda: nn.Conv2d(2, 3, 3, rng=0), (2, 2, 6, 6)),
    ("batch_last", "    for i in range(kh):\n        for j in range(kw):\n            target",
     "    for i in range(kh):\n        for j in range(kw - 1):\n            target",  # col2im
     lambda: nn.Conv2d(1, 2, 3, rng=0), (2, 1, 6, 6)),
    ("batch_last", "below = out[:, first_row * stride[0]:]",          # block rows misplaced
     "below = out[:, first_row:]", lambda: nn.Conv2d(1, 2, 3, stride=2, rng=0), (2, 1, 9, 9)),
    ("conv2d", "cut = slice(first * per_row, min(ho, first + rows) * per_row)",  # a row lost
     "cut = slice(first * per_row, min(ho, first + rows - 1) * per_row)",
     lambda: nn.Conv2d(1, 2, 3, rng=0), (2, 1, 9, 9)),
    ("pool2d", "np.greater(right, left, out=right_won[b])",           # ties go to the right
     "np.greater_equal(right, left, out=right_won[b])", lambda: nn.MaxPool2d(2), "ties"),
    ("pool2d", "out *= out.dtype.type(1.0 / len(offsets))",           # the mean off by one
     "out *= out.dtype.type(1.0 / (len(offsets) + 1))", lambda: nn.AvgPool2d(3, 1), (2, 2, 6, 6)),
]


@pytest.mark.parametrize("which, old, new, make, shape", PLANTED)
def test_a_planted_kernel_bug_is_caught(monkeypatch, which, old, new, make, shape):
    import barenet.nn.conv as conv_layer
    import barenet.nn.pooling as pool_layer

    monkeypatch.setattr(conv2d, "DCOLS_BLOCK_BYTES", 1)  # dL/dx one output row at a time

    modules = {"conv2d": conv2d, "batch_last": batch_last, "pool2d": pool2d}
    rng = np.random.default_rng(0)
    x = (rng.integers(0, 3, (2, 2, 6, 6)) if shape == "ties" else rng.standard_normal(shape))
    x = x.astype(np.float64)
    assert_kernel_matches_textbook(make().astype(np.float64), x)  # the real kernel passes
    bad = mutated(modules[which], old, new)
    if which == "conv2d":
        monkeypatch.setattr(conv_layer, "fast", bad)
    elif which == "pool2d":
        monkeypatch.setattr(pool_layer, "fast", bad)
    else:  # the batch-last helpers, as the conv kernel uses them
        monkeypatch.setattr(conv2d, "col2im", bad.col2im)
    with pytest.raises(AssertionError):
        assert_kernel_matches_textbook(make().astype(np.float64), x)


# -- random shapes: hypothesis draws sizes, strides and padding ---------------------------------

@st.composite
def window_cases(draw):
    k = (draw(st.integers(1, 4)), draw(st.integers(1, 4)))
    s = (draw(st.integers(1, 3)), draw(st.integers(1, 3)))
    p = (draw(st.integers(0, k[0] // 2)), draw(st.integers(0, k[1] // 2)))
    h = draw(st.integers(max(1, k[0] - 2 * p[0]), 9))
    w = draw(st.integers(max(1, k[1] - 2 * p[1]), 9))
    n, c = draw(st.integers(1, 4)), draw(st.integers(1, 3))
    layout = draw(st.sampled_from(["C", "F", "batch-last", "strided"]))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    return n, c, h, w, k, s, p, layout, dtype


@settings(max_examples=40, deadline=None)
@given(case=window_cases(), c_out=st.integers(1, 4), bias=st.booleans(),
       kind=st.sampled_from(["conv", "max", "avg"]))
def test_kernels_equal_textbook_on_random_shapes(case, c_out, bias, kind):
    n, c, h, w, k, s, p, layout, dtype = case
    x = np.random.default_rng(0).standard_normal((n, c, h, w)).astype(dtype)
    if kind == "conv":
        layer = nn.Conv2d(c, c_out, k, stride=s, padding=p, bias=bias, rng=0).astype(dtype)
    else:
        layer = (nn.MaxPool2d if kind == "max" else nn.AvgPool2d)(k, stride=s, padding=p)
    assert_kernel_matches_textbook(layer, layouts(x)[layout])
