"""im2col/col2im and the window helpers: against a direct loop, adjointness, validation."""
import numpy as np
import pytest

from barenet.nn.kernels.batch_last import (
    col2im,
    from_work,
    im2col,
    pad_work,
    to_work,
    unpad_work,
    window_slice,
)
from barenet.nn.windows import output_size, pair

CASES = [  # (C, Hp, Wp, N, kernel, stride)
    (1, 5, 5, 2, (3, 3), (1, 1)),
    (2, 7, 6, 3, (3, 2), (2, 1)),
    (3, 6, 6, 1, (2, 2), (2, 2)),
    (2, 9, 7, 2, (3, 3), (2, 3)),
    (1, 4, 5, 2, (1, 1), (1, 1)),
]


def naive_im2col(xw, kernel, stride):
    c, hp, wp, n = xw.shape
    kh, kw = kernel
    ho, wo = (hp - kh) // stride[0] + 1, (wp - kw) // stride[1] + 1
    cols = np.zeros((c * kh * kw, ho * wo * n), dtype=xw.dtype)
    for ci in range(c):
        for i in range(kh):
            for j in range(kw):
                for y in range(ho):
                    for x in range(wo):
                        for b in range(n):
                            cols[(ci * kh + i) * kw + j, (y * wo + x) * n + b] = \
                                xw[ci, y * stride[0] + i, x * stride[1] + j, b]
    return cols


@pytest.mark.parametrize("c, hp, wp, n, kernel, stride", CASES)
def test_im2col_matches_a_direct_loop(rng, c, hp, wp, n, kernel, stride):
    xw = rng.standard_normal((c, hp, wp, n))
    np.testing.assert_array_equal(im2col(xw, kernel, stride), naive_im2col(xw, kernel, stride))


@pytest.mark.parametrize("c, hp, wp, n, kernel, stride", CASES)
def test_col2im_is_the_adjoint_of_im2col(rng, c, hp, wp, n, kernel, stride):
    xw = rng.standard_normal((c, hp, wp, n))
    cols = im2col(xw, kernel, stride)
    other = rng.standard_normal(cols.shape)
    # <im2col(x), c> == <x, col2im(c)> for every x and c
    assert np.isclose(np.sum(cols * other), np.sum(xw * col2im(other, xw.shape, kernel, stride)))


def test_im2col_reads_strided_views_and_fills_out(rng):
    x = rng.standard_normal((2, 3, 6, 5))           # NCHW, so its work view is not contiguous
    xw = to_work(x)
    out = np.empty((3 * 4 + 1, 5 * 4 * 2))
    im2col(xw, (2, 2), (1, 1), out=out[:12])
    np.testing.assert_array_equal(out[:12], naive_im2col(np.ascontiguousarray(xw), (2, 2), (1, 1)))


def test_work_view_round_trip_and_padding(rng):
    x = rng.standard_normal((2, 3, 4, 5))
    assert np.shares_memory(to_work(x), x)
    np.testing.assert_array_equal(from_work(to_work(x)), x)
    padded = pad_work(to_work(x), (1, 2), value=-1.0)
    assert padded.shape == (3, 6, 9, 2) and padded.flags.c_contiguous
    assert np.all(padded[:, 0] == -1) and np.all(padded[:, :, :2] == -1)
    np.testing.assert_array_equal(unpad_work(padded, (1, 2)), to_work(x))


def test_window_slice_picks_kernel_offsets(rng):
    xw = rng.standard_normal((1, 7, 7, 1))
    s = window_slice(xw, 1, 2, (3, 2), (2, 3))
    assert s.shape == (1, 3, 2, 1)
    assert s[0, 2, 1, 0] == xw[0, 2 * 2 + 1, 1 * 3 + 2, 0]


@pytest.mark.parametrize("size, k, s, p, expected", [
    (28, 3, 1, 0, 26), (28, 3, 1, 1, 28), (7, 2, 2, 0, 3), (7, 3, 2, 1, 4), (5, 5, 1, 0, 1),
])
def test_output_size_is_floor_mode(size, k, s, p, expected):
    assert output_size(size, k, s, p) == expected


@pytest.mark.parametrize("value, expected", [(3, (3, 3)), ((3, 2), (3, 2)), ([1, 4], (1, 4))])
def test_pair_accepts_ints_and_pairs(value, expected):
    assert pair(value, "kernel_size") == expected


@pytest.mark.parametrize("value, error", [
    (0, ValueError), (-1, ValueError), ((3, 0), ValueError), (True, TypeError),
    ("3", TypeError), ((1, 2, 3), TypeError), (2.0, TypeError),
])
def test_pair_rejects_bad_values_naming_them(value, error):
    with pytest.raises(error, match="kernel_size"):
        pair(value, "kernel_size")
    assert pair(0, "padding", minimum=0) == (0, 0)
