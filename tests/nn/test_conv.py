"""Conv2d: gradient checks, PyTorch parity, memory layouts, init, validation."""
import math

import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module

CASES = [  # (N, C_in, H, W, C_out, kernel, stride, padding, bias)
    (2, 1, 5, 5, 2, 3, 1, 0, True),
    (2, 3, 6, 5, 4, 3, 1, 1, True),
    (2, 2, 7, 7, 3, 3, 2, 0, True),            # odd size, stride 2: floor mode
    (1, 2, 8, 7, 3, 3, 2, 1, False),
    (2, 2, 6, 5, 2, (3, 2), 1, 2, True),       # non-square kernel, padding 2
    (2, 3, 9, 8, 2, (3, 2), (2, 1), (1, 0), True),
    (1, 2, 5, 6, 3, 1, 1, 0, True),            # 1x1 convolution
    (3, 2, 6, 6, 2, 2, 2, 0, False),           # non-overlapping windows
    (2, 2, 5, 4, 2, (2, 3), (2, 2), (1, 1), True),
]
IDS = [f"n{c[0]}c{c[1]}h{c[2]}w{c[3]}o{c[4]}k{c[5]}s{c[6]}p{c[7]}{'b' if c[8] else ''}"
       for c in CASES]


def make(case, rng, dtype=np.float64):
    n, c, h, w, co, k, s, p, bias = case
    conv = nn.Conv2d(c, co, k, stride=s, padding=p, bias=bias, rng=rng).astype(dtype)
    return conv, rng.standard_normal((n, c, h, w)).astype(dtype)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_gradcheck(rng, case):
    conv, x = make(case, rng)
    result = check_module(conv, x, rng=rng)
    assert result.ok, str(result)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_matches_torch(rng, case):
    torch = pytest.importorskip("torch")
    n, c, h, w, co, k, s, p, bias = case
    conv, x = make(case, rng)
    y = conv(x)
    g = rng.standard_normal(y.shape)
    dx = conv.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    wt = torch.tensor(conv.weight.data, requires_grad=True)
    bt = torch.tensor(conv.bias.data, requires_grad=True) if bias else None
    yt = torch.nn.functional.conv2d(xt, wt, bt, stride=s, padding=p)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(dx, xt.grad.numpy(), rtol=0, atol=1e-6)
    np.testing.assert_allclose(conv.weight.grad, wt.grad.numpy(), rtol=0, atol=1e-6)
    if bias:
        np.testing.assert_allclose(conv.bias.grad, bt.grad.numpy(), rtol=0, atol=1e-6)


def test_torch_module_state_dict_loads_and_agrees(rng):
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    ref = torch.nn.Conv2d(3, 5, (3, 2), stride=(1, 2), padding=1).double()
    conv = nn.Conv2d(3, 5, (3, 2), stride=(1, 2), padding=1).astype(np.float64)
    conv.load_state_dict({k: v.detach().numpy() for k, v in ref.state_dict().items()})
    x = rng.standard_normal((2, 3, 7, 6))
    np.testing.assert_allclose(conv(x), ref(torch.tensor(x)).detach().numpy(), atol=1e-6)


def test_a_wrong_gradient_is_caught(rng):
    class Broken(nn.Conv2d):
        def backward(self, grad_out):
            dx = super().backward(grad_out)
            self.weight.grad *= 1.01
            return dx

    conv = Broken(2, 2, 3, rng=0).astype(np.float64)
    assert not check_module(conv, rng.standard_normal((1, 2, 5, 5)), rng=1).ok


def test_float32_in_float32_out_and_grads_accumulate(rng):
    conv = nn.Conv2d(2, 3, 3, padding=1, rng=0)
    x = rng.standard_normal((4, 2, 6, 6)).astype(np.float32)
    y = conv(x)
    assert y.dtype == np.float32 and y.shape == (4, 3, 6, 6)
    g = np.ones(y.shape, dtype=np.float32)
    dx = conv.backward(g)
    assert dx.dtype == np.float32 and dx.shape == x.shape
    first = conv.weight.grad.copy()
    conv(x)
    conv.backward(g)
    np.testing.assert_allclose(conv.weight.grad, 2 * first, rtol=1e-5)


def test_any_memory_layout_gives_the_same_result(rng):
    conv = nn.Conv2d(3, 4, 3, padding=1, rng=0).astype(np.float64)
    x = rng.standard_normal((5, 3, 6, 7))
    g = rng.standard_normal((5, 4, 6, 7))
    layouts = [x, np.asfortranarray(x), np.ascontiguousarray(x.transpose(1, 2, 3, 0))
               .transpose(3, 0, 1, 2), x[:, :, ::-1][:, :, ::-1]]
    results = []
    for xl in layouts:
        conv.zero_grad()
        y = conv(xl)
        results.append((y.copy(), conv.backward(g).copy(), conv.weight.grad.copy()))
    for y, dx, dw in results[1:]:
        np.testing.assert_allclose(y, results[0][0], atol=1e-12)
        np.testing.assert_allclose(dx, results[0][1], atol=1e-12)
        np.testing.assert_allclose(dw, results[0][2], atol=1e-12)


def test_default_init_is_pytorch_uniform_bound():
    conv = nn.Conv2d(4, 64, (3, 5), rng=0)
    bound = 1 / math.sqrt(4 * 3 * 5)
    assert conv.weight.shape == (64, 4, 3, 5) and conv.bias.shape == (64,)
    for p in (conv.weight.data, conv.bias.data):
        assert p.dtype == np.float32 and np.abs(p).max() <= bound
    assert np.abs(conv.weight.data).max() > 0.9 * bound
    np.testing.assert_array_equal(nn.Conv2d(4, 64, 3, rng=7).weight.data,
                                  nn.Conv2d(4, 64, 3, rng=7).weight.data)
    assert nn.Conv2d(1, 2, 3, bias=False).bias is None


def test_backward_before_forward_is_a_clear_error():
    with pytest.raises(RuntimeError, match="Conv2d.backward called before forward"):
        nn.Conv2d(1, 2, 3).backward(np.zeros((1, 2, 3, 3), dtype=np.float32))


@pytest.mark.parametrize("x, match", [
    (np.zeros((2, 3, 8, 8), dtype=np.float32), r"expected input of shape \(N, 2, H, W\)"),
    (np.zeros((2, 8, 8), dtype=np.float32), r"expected input of shape \(N, 2, H, W\)"),
    (np.zeros((2, 2, 2, 8), dtype=np.float32), "smaller than the 3x3 kernel"),
    (np.zeros((2, 2, 8, 8), dtype=np.uint8), "expected a float32 or float64 array"),
])
def test_bad_input_names_the_layer_and_expected_shape(x, match):
    conv = nn.Conv2d(2, 4, 3)
    with pytest.raises((ValueError, TypeError), match=match) as info:
        conv(x)
    assert "Conv2d" in str(info.value)


@pytest.mark.parametrize("kwargs", [
    dict(kernel_size=0), dict(kernel_size=(3, -1)), dict(stride=0), dict(padding=-1),
    dict(kernel_size="3"), dict(in_channels=0),
])
def test_bad_settings_are_rejected(kwargs):
    args = dict(in_channels=1, out_channels=2, kernel_size=3) | kwargs
    with pytest.raises((ValueError, TypeError), match="Conv2d"):
        nn.Conv2d(**args)


def test_repr_names_the_settings():
    assert repr(nn.Conv2d(1, 8, 3, padding=1)) == \
        "Conv2d(1, 8, kernel_size=(3, 3), stride=(1, 1), padding=(1, 1), bias=True)"


def test_gradient_of_the_wrong_shape_is_rejected():
    conv = nn.Conv2d(1, 2, 3)
    conv(np.zeros((2, 1, 5, 5), dtype=np.float32))
    with pytest.raises(ValueError, match=r"expected a gradient of shape \(2, 2, 3, 3\)"):
        conv.backward(np.zeros((2, 2, 4, 4), dtype=np.float32))


def test_training_reuses_work_arrays_and_eval_keeps_none(rng):
    conv = nn.Conv2d(2, 3, 3, rng=0)
    x = rng.standard_normal((4, 2, 6, 6)).astype(np.float32)
    y1 = conv(x)
    y2 = conv(x + 1)
    assert not np.shares_memory(y1, y2)      # outputs are never reused
    np.testing.assert_array_equal(y1, conv.eval()(x))
    assert len(conv._workspace) == 0


def test_backward_params_only_gives_the_same_parameter_gradients(rng):
    conv = nn.Conv2d(1, 3, 3, padding=1, rng=0).astype(np.float64)
    x = rng.standard_normal((2, 1, 6, 6))
    g = rng.standard_normal((2, 3, 6, 6))
    conv(x)
    conv.backward(g)
    full = [p.grad.copy() for p in conv.parameters()]
    conv.zero_grad()
    conv(x)
    assert conv.backward_params_only(g) is None
    for a, p in zip(full, conv.parameters()):
        np.testing.assert_array_equal(a, p.grad)
    with pytest.raises(RuntimeError, match="before forward"):
        nn.Conv2d(1, 2, 3).backward_params_only(g)
