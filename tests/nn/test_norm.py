"""BatchNorm1d/2d: gradient checks in both modes, PyTorch parity over several steps (outputs,
gradients, running statistics), statistics of the output, validation."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_module

CASES = [("BatchNorm1d", (8, 4)), ("BatchNorm1d", (5, 3, 4)), ("BatchNorm2d", (3, 2, 4, 3))]


def make(cls, c, **kw):
    return getattr(nn, cls)(c, **kw).astype(np.float64)


def randomise_affine(layer, seed):
    rng = np.random.default_rng(seed)
    if layer.affine:
        layer.weight.data = rng.uniform(0.5, 1.5, layer.num_features)
        layer.bias.data = rng.standard_normal(layer.num_features)


@pytest.mark.parametrize("cls, shape", CASES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("training", [True, False])
def test_gradcheck(cls, shape, affine, training):
    layer = make(cls, shape[1], affine=affine)
    randomise_affine(layer, 0)
    rng = np.random.default_rng(1)
    layer.running_mean = rng.standard_normal(shape[1])
    layer.running_var = rng.uniform(0.5, 2.0, shape[1])
    layer.train(training)
    x = rng.standard_normal(shape) * 2 + 1
    before = {k: v.copy() for k, v in layer.state_dict().items()}
    result = check_module(layer, x, rng=2)
    assert result.ok, str(result)
    for k, v in layer.state_dict().items():  # the check leaves running statistics alone
        np.testing.assert_array_equal(v, before[k])


@pytest.mark.parametrize("cls, shape", CASES)
def test_gradcheck_without_running_stats(cls, shape):
    layer = make(cls, shape[1], track_running_stats=False).eval()  # batch statistics in eval
    randomise_affine(layer, 3)
    assert layer.buffers() == []
    x = np.random.default_rng(4).standard_normal(shape)
    result = check_module(layer, x, rng=5)
    assert result.ok, str(result)


def test_gradcheck_behind_a_linear_layer():
    # the Linear bias has gradient exactly 0 here (batch norm removes any constant shift)
    m = nn.Sequential(nn.Linear(5, 4, rng=0), nn.BatchNorm1d(4), nn.ReLU(),
                      nn.Linear(4, 3, rng=1)).astype(np.float64)
    x = np.random.default_rng(0).standard_normal((6, 5))
    result = check_module(m, x)
    assert result.ok, str(result)
    assert np.abs(m[0].bias.grad).max() < 1e-12


@pytest.mark.parametrize("cls, shape", CASES)
@pytest.mark.parametrize("affine", [True, False])
@pytest.mark.parametrize("momentum", [0.3, None])
def test_pytorch_parity_over_several_steps(cls, shape, affine, momentum):
    torch = pytest.importorskip("torch")
    c = shape[1]
    t = getattr(torch.nn, cls)(c, momentum=momentum, affine=affine).double()
    b = make(cls, c, momentum=momentum, affine=affine)
    randomise_affine(b, 6)
    t.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in b.state_dict().items()})
    rng = np.random.default_rng(7)
    for step, training in enumerate([True, True, False, True, False, True]):
        t.train(training)
        b.train(training)
        x = rng.standard_normal(shape) * (step + 1) + step
        g = rng.standard_normal(shape)
        tx = torch.tensor(x, requires_grad=True)
        ty = t(tx)
        ty.backward(torch.tensor(g))
        np.testing.assert_allclose(b(x), ty.detach().numpy(), atol=1e-6, rtol=0)
        np.testing.assert_allclose(b.backward(g), tx.grad.numpy(), atol=1e-6, rtol=0)
        if affine:  # both accumulate across steps
            np.testing.assert_allclose(b.weight.grad, t.weight.grad.numpy(), atol=1e-6, rtol=0)
            np.testing.assert_allclose(b.bias.grad, t.bias.grad.numpy(), atol=1e-6, rtol=0)
        np.testing.assert_allclose(b.running_mean, t.running_mean.numpy(), atol=1e-6, rtol=0)
        np.testing.assert_allclose(b.running_var, t.running_var.numpy(), atol=1e-6, rtol=0)
        assert int(b.num_batches_tracked) == int(t.num_batches_tracked)


@pytest.mark.parametrize("cls, shape", CASES)
def test_pytorch_parity_without_running_stats(cls, shape):
    torch = pytest.importorskip("torch")
    t = getattr(torch.nn, cls)(shape[1], track_running_stats=False).double().eval()
    b = make(cls, shape[1], track_running_stats=False).eval()
    assert set(b.state_dict()) == set(t.state_dict()) == {"weight", "bias"}
    x = np.random.default_rng(8).standard_normal(shape)
    g = np.random.default_rng(9).standard_normal(shape)
    tx = torch.tensor(x, requires_grad=True)
    t(tx).backward(torch.tensor(g))
    np.testing.assert_allclose(b(x), t(torch.tensor(x)).detach().numpy(), atol=1e-6, rtol=0)
    np.testing.assert_allclose(b.backward(g), tx.grad.numpy(), atol=1e-6, rtol=0)


def test_state_dict_keys_match_pytorch():
    torch = pytest.importorskip("torch")
    for cls in ("BatchNorm1d", "BatchNorm2d"):
        assert list(getattr(nn, cls)(3).state_dict()) == list(getattr(torch.nn, cls)(3).state_dict())


def test_training_output_is_normalised_per_channel():
    bn = nn.BatchNorm2d(3)
    x = (np.random.default_rng(0).standard_normal((16, 3, 5, 5)) * [[[[5.0]], [[0.1]], [[2.0]]]]
         + 3).astype(np.float32)
    y = bn(x)
    assert y.dtype == np.float32 and bn.running_mean.dtype == np.float32
    np.testing.assert_allclose(y.mean(axis=(0, 2, 3)), 0.0, atol=1e-5)
    var = x.var(axis=(0, 2, 3))
    np.testing.assert_allclose(y.var(axis=(0, 2, 3)), var / (var + 1e-5), rtol=1e-4)
    n = 16 * 25
    np.testing.assert_allclose(bn.running_mean, 0.1 * x.mean(axis=(0, 2, 3)), rtol=1e-4)
    np.testing.assert_allclose(bn.running_var, 0.9 + 0.1 * x.var(axis=(0, 2, 3)) * n / (n - 1),
                               rtol=1e-4)


def test_eval_uses_running_statistics():
    bn = nn.BatchNorm1d(2, eps=0.0 + 1e-5)
    bn.running_mean = np.array([1.0, -1.0], dtype=np.float32)
    bn.running_var = np.array([4.0, 0.25], dtype=np.float32)
    bn.eval()
    x = np.array([[3.0, 0.0]], dtype=np.float32)  # one sample is fine in eval
    np.testing.assert_allclose(bn(x), [[2 / np.sqrt(4 + 1e-5), 1 / np.sqrt(0.25 + 1e-5)]],
                               rtol=1e-6)
    assert int(bn.num_batches_tracked) == 0


def test_one_value_per_channel_in_training_is_an_error():
    bn = nn.BatchNorm1d(3)
    with pytest.raises(ValueError, match="more than 1 value per channel"):
        bn(np.zeros((1, 3), dtype=np.float32))


def test_reset_running_stats_and_parameters():
    bn = nn.BatchNorm1d(3)
    bn(np.random.default_rng(0).standard_normal((4, 3)).astype(np.float32))
    bn.weight.data += 1
    bn.reset_parameters()
    np.testing.assert_array_equal(bn.running_mean, 0)
    np.testing.assert_array_equal(bn.running_var, 1)
    np.testing.assert_array_equal(bn.weight.data, 1)
    assert int(bn.num_batches_tracked) == 0


@pytest.mark.parametrize("kwargs, match", [
    ({"num_features": 0}, "num_features"), ({"num_features": 2, "eps": 0}, "eps"),
    ({"num_features": 2, "momentum": 2.0}, "momentum")])
def test_invalid_arguments(kwargs, match):
    with pytest.raises(ValueError, match=match):
        nn.BatchNorm1d(**kwargs)
