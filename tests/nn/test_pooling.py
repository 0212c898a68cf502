"""MaxPool2d and AvgPool2d: gradient checks, PyTorch parity, ties, layouts, validation."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module

CASES = [  # (N, C, H, W, kernel, stride, padding)
    (2, 3, 6, 6, 2, None, 0),            # the 2x2 fast path
    (2, 2, 7, 5, 2, None, 0),            # fast path, odd sizes: last row/column dropped
    (2, 2, 7, 7, 3, 2, 1),               # overlapping, padded
    (1, 3, 6, 7, (3, 2), (2, 1), (1, 1)),
    (2, 2, 5, 5, 3, 1, 0),               # stride 1
    (2, 1, 8, 6, 2, 1, 0),               # 2x2 kernel, stride 1: overlapping
    (1, 2, 9, 9, 3, None, 1),
    (2, 2, 7, 8, (1, 3), (2, 3), 0),     # non-overlapping, gaps between windows
]
IDS = [f"n{c[0]}c{c[1]}h{c[2]}w{c[3]}k{c[4]}s{c[5]}p{c[6]}" for c in CASES]
POOLS = {"max": (nn.MaxPool2d, "max_pool2d"), "avg": (nn.AvgPool2d, "avg_pool2d")}


def distinct(rng, shape):
    """Values at least 0.01 apart, so finite differences never cross a max-pool tie."""
    return rng.permutation(int(np.prod(shape))).reshape(shape) * 0.01 - 1.0


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(rng, kind, case):
    n, c, h, w, k, s, p = case
    layer = POOLS[kind][0](k, s, p)
    result = check_module(layer, distinct(rng, (n, c, h, w)), rng=rng)
    assert result.ok, str(result)


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch_including_ties(rng, kind, case):
    torch = pytest.importorskip("torch")
    n, c, h, w, k, s, p = case
    layer = POOLS[kind][0](k, s, p)
    fn = getattr(torch.nn.functional, POOLS[kind][1])
    for x in (rng.standard_normal((n, c, h, w)),
              rng.integers(0, 3, (n, c, h, w)).astype(np.float64)):  # many ties
        y = layer(x)
        g = rng.standard_normal(y.shape)
        dx = layer.backward(g)
        xt = torch.tensor(x, requires_grad=True)
        yt = fn(xt, k, s, p)
        yt.backward(torch.tensor(g))
        np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-6)
        np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-6)


@pytest.mark.parametrize("k, s", [(2, None), (3, 3), (2, 1)])
def test_max_pool_tie_goes_to_the_first_maximum_only(k, s):
    x = np.ones((1, 1, 6, 6))
    layer = nn.MaxPool2d(k, s)
    y = layer(x)
    dx = layer.backward(np.ones_like(y))
    assert dx.sum() == y.size  # each window's gradient lands once: no double counting
    stride = k if s is None else s
    expected = np.zeros((6, 6))
    for oy in range(y.shape[2]):
        for ox in range(y.shape[3]):
            expected[oy * stride, ox * stride] += 1  # the window's top-left element
    np.testing.assert_array_equal(dx[0, 0], expected)


def test_max_pool_picks_the_first_maximum_in_row_major_order():
    layer = nn.MaxPool2d(2)
    x = np.array([[[[0.0, 5.0], [5.0, 5.0]]]])
    layer(x)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 1)))[0, 0], [[0, 1], [0, 0]])
    x = np.array([[[[0.0, 1.0], [5.0, 5.0]]]])
    layer(x)
    np.testing.assert_array_equal(layer.backward(np.ones((1, 1, 1, 1)))[0, 0], [[0, 0], [1, 0]])


def test_avg_pool_counts_padding_in_the_divisor():
    y = nn.AvgPool2d(3, 1, 1)(np.ones((1, 1, 3, 3)))
    assert y[0, 0, 0, 0] == pytest.approx(4 / 9) and y[0, 0, 1, 1] == pytest.approx(1.0)


@pytest.mark.parametrize("kind", POOLS)
def test_layouts_dtypes_and_default_stride(rng, kind):
    layer = POOLS[kind][0](2)
    assert layer.stride == (2, 2)
    x = rng.standard_normal((3, 4, 6, 6)).astype(np.float32)
    work = np.ascontiguousarray(x.transpose(1, 2, 3, 0)).transpose(3, 0, 1, 2)  # a conv's layout
    y = layer(x)
    assert y.dtype == np.float32 and y.shape == (3, 4, 3, 3)
    g = rng.standard_normal(y.shape).astype(np.float32)
    dx = layer.backward(g)
    np.testing.assert_array_equal(layer(work), y)
    np.testing.assert_array_equal(layer.backward(g), dx)
    assert dx.dtype == np.float32


@pytest.mark.parametrize("kind", POOLS)
def test_backward_before_forward_is_a_clear_error(kind):
    cls = POOLS[kind][0]
    with pytest.raises(RuntimeError, match=f"{cls.__name__}.backward called before forward"):
        cls(2).backward(np.zeros((1, 1, 2, 2)))


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("x, match", [
    (np.zeros((2, 8, 8)), r"expected input of shape \(N, C, H, W\)"),
    (np.zeros((1, 1, 1, 5)), "smaller than the kernel"),
    (np.zeros((1, 1, 4, 4), dtype=np.int64), "expected a float32 or float64 array"),
])
def test_bad_input_names_the_layer(kind, x, match):
    cls = POOLS[kind][0]
    with pytest.raises((ValueError, TypeError), match=match) as info:
        cls(2)(x)
    assert cls.__name__ in str(info.value)


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("kwargs", [dict(kernel_size=0), dict(kernel_size=2, stride=0),
                                    dict(kernel_size=2, padding=2), dict(kernel_size=(2, 2.5))])
def test_bad_settings_are_rejected(kind, kwargs):
    cls = POOLS[kind][0]
    with pytest.raises((ValueError, TypeError), match=cls.__name__):
        cls(**kwargs)


@pytest.mark.parametrize("kind", POOLS)
@pytest.mark.parametrize("k, s", [(2, None), (3, 2)])
def test_gradient_of_the_wrong_shape_is_rejected(kind, k, s):
    layer = POOLS[kind][0](k, s)
    layer(np.zeros((2, 3, 8, 8)))
    with pytest.raises(ValueError, match="expected a gradient of shape"):
        layer.backward(np.zeros((2, 3, 5, 5)))
