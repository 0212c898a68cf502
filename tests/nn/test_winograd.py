"""Winograd's F(2x2, 3x3) kernel equals the textbook convolution, and planted bugs are caught.

Each case runs a Conv2d forward and backward with Winograd forced (``kernels.conv_algorithm``)
and again on the textbook code (``kernels.textbook()``), then compares the output, dL/dx and
the weight and bias gradients: odd and even sizes (an odd output leaves half-empty tiles),
padding 0 to 2, images smaller than a tile, 1 to 16 channels, float32 and float64, inputs and
upstream gradients in several memory layouts, tile rows in blocks, and a workspace reused
across input sizes. The planted bugs change one detail of the kernel's source, as a slip would
(a wrong matrix entry, a tile one row off, a border left unset), and must fail the comparison.
"""
from __future__ import annotations

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from test_kernels import TOL, layouts, mutated

from barenet import nn
from barenet.gradcheck import check_module
from barenet.nn import kernels
from barenet.nn.kernels import conv2d, winograd, winograd_transforms
from barenet.nn.kernels.batch_last import from_work, to_work

CASES = [  # (N, C_in, H, W, C_out, padding, bias)
    (2, 1, 3, 3, 1, 0, True),      # one output pixel: a single tile, three quarters unused
    (1, 3, 8, 8, 4, 1, True),      # even output, whole tiles
    (3, 2, 7, 9, 5, 1, False),     # odd H and W
    (2, 4, 6, 5, 3, 0, True),      # no padding, odd output width
    (1, 2, 1, 1, 3, 1, True),      # a 1x1 image: the tile is nearly all padding
    (2, 3, 5, 4, 2, 2, True),      # padding 2
    (4, 16, 6, 6, 16, 1, False),   # channels that the automatic choice sends to Winograd
]
IDS = [f"n{c[0]}c{c[1]}h{c[2]}w{c[3]}o{c[4]}p{c[5]}{'b' if c[6] else ''}" for c in CASES]


def grad_layouts(g: np.ndarray) -> list[np.ndarray]:
    """The upstream gradient as C order, batch-last view and Fortran order."""
    return [np.ascontiguousarray(g), from_work(np.ascontiguousarray(to_work(g))),
            np.asfortranarray(g)]


def run(layer: nn.Conv2d, x: np.ndarray, g: np.ndarray) -> list[np.ndarray]:
    """y, dL/dx and every parameter gradient of one forward/backward."""
    layer.zero_grad()
    y = np.array(layer(x))
    dx = np.array(layer.backward(g))
    return [y, dx, *(np.array(p.grad) for p in layer.parameters())]


def assert_winograd_matches_textbook(layer: nn.Conv2d, x: np.ndarray, g_seed: int = 1) -> None:
    n, ho, wo = x.shape[0], *layer.output_shape(*x.shape[2:])
    g = np.random.default_rng(g_seed).standard_normal((n, layer.out_channels, ho, wo))
    g = g.astype(x.dtype)
    with kernels.textbook():
        plain = run(layer, x, g)
    tol = TOL[x.dtype.type]
    for gl in grad_layouts(g):
        with kernels.conv_algorithm("winograd"):
            fast = run(layer, x, gl)
            assert isinstance(layer._cache[1], conv2d.winograd.WinogradCache)
        for what, a, b in zip(["forward", "dL/dx", "weight grad", "bias grad"], fast, plain):
            np.testing.assert_allclose(a, b, **tol, err_msg=what)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_winograd_equals_textbook(case, dtype):
    n, c, h, w, c_out, p, bias = case
    layer = nn.Conv2d(c, c_out, 3, padding=p, bias=bias, rng=0).astype(dtype)
    x = np.random.default_rng(2).standard_normal((n, c, h, w)).astype(dtype)
    for xs in layouts(x).values():
        assert_winograd_matches_textbook(layer, xs)
        layer.eval()  # eval mode: no workspace, fresh arrays
        assert_winograd_matches_textbook(layer, xs)
        layer.train()


@pytest.mark.parametrize("block_bytes", [1, 3000])
@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_winograd_in_blocks_of_tile_rows_equals_textbook(monkeypatch, case, block_bytes):
    """Products made one tile row (1 byte) or a few rows (3000 bytes) at a time."""
    monkeypatch.setattr(winograd, "BLOCK_BYTES", block_bytes)
    n, c, h, w, c_out, p, bias = case
    layer = nn.Conv2d(c, c_out, 3, padding=p, bias=bias, rng=0).astype(np.float64)
    assert_winograd_matches_textbook(layer, np.random.default_rng(2).standard_normal((n, c, h, w)))


def test_a_reused_workspace_follows_the_input_size():
    """Inputs of 8 and 7 rows give the same tile grid, hence the same work arrays: the borders
    left by the larger one must not leak into the smaller one's results."""
    layer = nn.Conv2d(2, 3, 3, padding=1, rng=0).astype(np.float64)
    rng = np.random.default_rng(0)
    for h, w in [(8, 8), (7, 7), (8, 7), (7, 8), (8, 8), (3, 5)]:
        assert_winograd_matches_textbook(layer, rng.standard_normal((2, 2, h, w)))


@st.composite
def winograd_cases(draw):
    p = draw(st.integers(0, 2))
    h, w = draw(st.integers(max(1, 3 - 2 * p), 10)), draw(st.integers(max(1, 3 - 2 * p), 10))
    return (draw(st.integers(1, 3)), draw(st.integers(1, 4)), h, w, draw(st.integers(1, 4)), p,
            draw(st.booleans()), draw(st.sampled_from([np.float32, np.float64])),
            draw(st.sampled_from(["C", "F", "batch-last", "strided"])))


@settings(max_examples=40, deadline=None)
@given(case=winograd_cases())
def test_winograd_equals_textbook_on_random_shapes(case):
    n, c, h, w, c_out, p, bias, dtype, layout = case
    layer = nn.Conv2d(c, c_out, 3, padding=p, bias=bias, rng=0).astype(dtype)
    x = np.random.default_rng(0).standard_normal((n, c, h, w)).astype(dtype)
    assert_winograd_matches_textbook(layer, layouts(x)[layout])


def test_a_conv2d_on_winograd_passes_gradcheck_behind_another_layer():
    model = nn.Sequential(nn.Conv2d(2, 3, 3, padding=1, rng=0), nn.Tanh(),
                          nn.Conv2d(3, 2, 3, rng=1)).astype(np.float64)
    x = np.random.default_rng(0).standard_normal((2, 2, 7, 6))
    with kernels.conv_algorithm("winograd"):
        result = check_module(model, x, rng=1)
        assert isinstance(model[2]._cache[1], winograd.WinogradCache)
    assert result.ok, str(result)


def test_float32_error_is_that_of_im2col():
    """Against float64 on the same float32 numbers, Winograd's float32 error stays within a
    few times im2col's (measured: about 1-2x, see the kernel's docstring)."""
    rng = np.random.default_rng(0)
    layer = nn.Conv2d(32, 32, 3, padding=1, rng=0)
    x = rng.standard_normal((8, 32, 14, 14)).astype(np.float32)
    g = rng.standard_normal((8, 32, 14, 14)).astype(np.float32)
    errors = {}
    for algorithm in ("im2col", "winograd"):
        with kernels.conv_algorithm(algorithm):
            errors[algorithm] = run(layer, x, g)
    with kernels.textbook():
        ref = run(layer.astype(np.float64), x.astype(np.float64), g.astype(np.float64))
    for i, what in enumerate(["y", "dx", "dW", "db"]):
        scale = np.abs(ref[i]).max()
        im2col, wino = (np.abs(errors[a][i] - ref[i]).max() / scale for a in errors)
        assert wino < 1e-5 and wino < 4 * im2col + 1e-7, (what, wino, im2col)


def test_a_second_backward_after_one_forward_is_refused():
    layer = nn.Conv2d(2, 2, 3, rng=0)
    x = np.random.default_rng(0).standard_normal((1, 2, 5, 5)).astype(np.float32)
    with kernels.conv_algorithm("winograd"):
        g = np.ones_like(layer(x))
        layer.backward_params_only(g)        # keeps V: a full backward may follow
        layer.backward(g)
        with pytest.raises(RuntimeError, match="run forward again"):
            layer.backward(g)


@pytest.mark.parametrize("choice, args, expected", [  # args: C_in, C_out, k, s, p, H (= W)
    ("auto", (16, 16, 3, 1, 1, 8), "winograd"),
    ("auto", (64, 64, 3, 1, 0, 14), "winograd"),     # 12x12 output
    ("auto", (32, 32, 3, 1, 1, 28), "winograd"),
    ("auto", (64, 32, 3, 1, 1, 14), "winograd"),
    ("auto", (32, 64, 3, 1, 1, 14), "im2col"),       # more output than input channels
    ("auto", (64, 64, 3, 1, 0, 13), "im2col"),       # 11x11: too much of the tile grid wasted
    ("auto", (8, 16, 3, 1, 1, 8), "im2col"),         # too few channels to pay
    ("auto", (1, 32, 3, 1, 1, 28), "im2col"),
    ("auto", (16, 16, 3, 2, 1, 8), "im2col"),        # stride 2: not F(2x2, 3x3)
    ("auto", (16, 16, 5, 1, 2, 8), "im2col"),        # 5x5
    ("winograd", (1, 2, 3, 1, 0, 9), "winograd"),
    ("winograd", (2, 2, 3, 2, 0, 9), "im2col"),      # forced, but it does not apply
    ("im2col", (16, 16, 3, 1, 1, 8), "im2col"),
])
def test_the_kernel_is_chosen_per_shape_and_can_be_forced(choice, args, expected):
    c_in, c_out, k, s, p, h = args
    layer = nn.Conv2d(c_in, c_out, k, stride=s, padding=p, rng=0)
    with kernels.conv_algorithm(choice):
        layer(np.zeros((2, c_in, h, h), np.float32))
    cache = layer._cache[1]
    assert isinstance(cache, winograd.WinogradCache if expected == "winograd" else conv2d.ConvCache)


def test_waste_counts_the_tile_grid_per_output_number():
    assert winograd.waste(28, 28) == 4 * 14 * 15 / 784                 # even: the junk column
    assert winograd.waste(11, 11) == 4 * 6 * 7 / 121                   # odd: half-empty tiles
    assert winograd.waste(12, 12) <= winograd.MAX_WASTE < winograd.waste(11, 11)


def test_textbook_mode_and_the_switch_itself():
    layer = nn.Conv2d(16, 16, 3, padding=1, rng=0)
    x = np.zeros((1, 16, 6, 6), np.float32)
    with kernels.conv_algorithm("winograd"), kernels.textbook():
        layer(x)
    assert layer._cache[0] == "textbook"
    assert kernels.conv_choice() == "auto"
    with pytest.raises(ValueError, match="auto, im2col, winograd"):
        kernels.set_conv_choice("fft")
    with pytest.raises(KeyError), kernels.conv_algorithm("im2col"):
        assert kernels.conv_choice() == "im2col"
        raise KeyError("the choice is restored on the way out")
    assert kernels.conv_choice() == "auto"


# -- planted bugs: the equality test above must catch each of these ----------------------------

PLANTED = [
    # (module, what a slip would change, input shape (N, C, H, W), padding)
    ("winograd_transforms", "[0.5, -0.5, 0.5], [0, 0, 1]", "[0.5, -0.5, -0.5], [0, 0, 1]",
     (2, 2, 6, 6), 1),                                     # a wrong entry of G
    ("winograd_transforms", "(np.add, q[:rcut], r[down:])", "(np.add, q[down:], r[down:])",
     (2, 2, 6, 6), 1),                                     # a tile row one off in B^T d B
    ("winograd_transforms", "np.subtract(g11, g10, out=dm[3, 2])",
     "np.subtract(g10, g11, out=dm[3, 2])", (2, 2, 6, 6), 1),   # a sign of A gY A^T
    ("winograd_transforms", "        r[rcut:] = 0\n", "", (2, 2, 6, 6), 0),  # a row left unset
    ("winograd_transforms", "            rows[:, :, c0 + nc:] = 0\n", "",
     (2, 2, 6, 6), 1),                                     # the right border left unzeroed
    ("winograd", "last = min(stop, (ho - a + 1) // 2)", "last = min(stop, (ho - a) // 2)",
     (2, 2, 7, 7), 1),                                     # an odd output loses its last row
    ("winograd", "m[1, 1] += b", "m[1, 2] += b", (2, 2, 6, 6), 1),  # bias in the wrong place
]


@pytest.mark.parametrize("which, old, new, shape, padding", PLANTED)
def test_a_planted_winograd_bug_is_caught(monkeypatch, which, old, new, shape, padding):
    monkeypatch.setattr(winograd, "BLOCK_BYTES", 1)       # one tile row per block
    x = np.random.default_rng(0).standard_normal(shape)

    def layer() -> nn.Conv2d:
        return nn.Conv2d(shape[1], 3, 3, padding=padding, rng=0).astype(np.float64)

    assert_winograd_matches_textbook(layer(), x)           # the real kernel passes
    if which == "winograd":
        monkeypatch.setattr(conv2d, "winograd", mutated(winograd, old, new))
    else:  # the transforms, as the kernel imported them
        bad = mutated(winograd_transforms, old, new)
        for name in ("split_grid", "merge_grid", "input_transform", "input_adjoint",
                     "output_transform", "output_adjoint", "filter_transform", "filter_adjoint"):
            monkeypatch.setattr(winograd, name, getattr(bad, name))
    with pytest.raises(AssertionError, match="Not equal to tolerance"):
        assert_winograd_matches_textbook(layer(), x)
