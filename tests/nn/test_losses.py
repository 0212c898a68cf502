"""Losses: gradient checks, PyTorch parity, extreme logits, dtype, validation messages."""
import numpy as np
import pytest

from barenet import nn
from barenet.gradcheck import check_loss

REDUCTIONS = ["mean", "sum"]


def logits_and_labels(n=6, c=5, scale=2.0, seed=0):
    rng = np.random.default_rng(seed)
    return rng.standard_normal((n, c)) * scale, rng.integers(0, c, n)


def regression_pair(shape=(4, 3), seed=0):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape)
    t = x + rng.choice([-1, 1], shape) * rng.uniform(0.1, 1.0, shape)  # |x - t| >= 0.1
    return x, t


def probability_pair(shape=(4, 3), seed=0):
    rng = np.random.default_rng(seed)
    return rng.uniform(0.1, 0.9, shape), rng.uniform(0, 1, shape)


# ---------------------------------------------------------------------- gradient checks
@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.1, 0.5])
@pytest.mark.parametrize("n, c", [(1, 2), (6, 5), (10, 10)])
def test_cross_entropy_gradcheck(reduction, smoothing, n, c):
    x, y = logits_and_labels(n, c, seed=n + c)
    result = check_loss(nn.CrossEntropyLoss(reduction, label_smoothing=smoothing), x, y)
    assert result.ok, str(result)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("shape", [(5,), (4, 3), (2, 3, 2)])
@pytest.mark.parametrize("loss_cls", [nn.MSELoss, nn.L1Loss, nn.BCEWithLogitsLoss, nn.BCELoss])
def test_elementwise_loss_gradcheck(loss_cls, shape, reduction):
    if loss_cls is nn.BCEWithLogitsLoss:
        x, t = np.random.default_rng(1).standard_normal(shape) * 3, probability_pair(shape)[1]
    elif loss_cls is nn.BCELoss:
        x, t = probability_pair(shape)
    else:
        x, t = regression_pair(shape)
    result = check_loss(loss_cls(reduction), x, t)
    assert result.ok, str(result)


def test_cross_entropy_gradient_is_softmax_minus_onehot_over_n():
    x, y = logits_and_labels(4, 3)
    ce = nn.CrossEntropyLoss()
    ce(x, y)
    p = np.exp(x) / np.exp(x).sum(axis=1, keepdims=True)
    np.testing.assert_allclose(ce.backward(), (p - np.eye(3)[y]) / 4, atol=1e-15)
    np.testing.assert_array_equal(ce.backward(), ce.backward())  # repeatable


# ---------------------------------------------------------------------- PyTorch parity
def torch_loss_and_grad(torch, fn, x, t):
    tx = torch.tensor(x, requires_grad=True)
    loss = fn(tx, torch.as_tensor(t))
    loss.backward()
    return loss.item(), tx.grad.numpy()


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("smoothing", [0.0, 0.2])
def test_cross_entropy_pytorch_parity(reduction, smoothing):
    torch = pytest.importorskip("torch")
    x, y = logits_and_labels(8, 10, scale=4.0, seed=3)
    ours = nn.CrossEntropyLoss(reduction, label_smoothing=smoothing)
    theirs = torch.nn.CrossEntropyLoss(reduction=reduction, label_smoothing=smoothing)
    loss, grad = torch_loss_and_grad(torch, theirs, x, y)
    assert abs(ours(x, y) - loss) < 1e-6
    np.testing.assert_allclose(ours.backward(), grad, atol=1e-6, rtol=0)


@pytest.mark.parametrize("reduction", REDUCTIONS)
@pytest.mark.parametrize("name", ["MSELoss", "L1Loss", "BCEWithLogitsLoss", "BCELoss"])
def test_elementwise_pytorch_parity(name, reduction):
    torch = pytest.importorskip("torch")
    if name == "BCELoss":
        x, t = probability_pair((5, 4), seed=2)
        x[0, :2] = [0.0, 1.0]  # clamped logs: finite loss, PyTorch's gradient formula
    elif name == "BCEWithLogitsLoss":
        x, t = np.random.default_rng(2).standard_normal((5, 4)) * 5, probability_pair((5, 4))[1]
        x[0, :2] = [-1e4, 1e4]
    else:
        x, t = regression_pair((5, 4), seed=2)
    ours = getattr(nn, name)(reduction)
    loss, grad = torch_loss_and_grad(torch, getattr(torch.nn, name)(reduction=reduction), x, t)
    assert abs(ours(x, t) - loss) < 1e-6 * max(1.0, abs(loss))
    np.testing.assert_allclose(ours.backward(), grad, atol=1e-6, rtol=1e-7)


# ---------------------------------------------------------------------- numerics and dtype
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_cross_entropy_with_huge_logits_is_finite_and_exact(dtype):
    x = np.array([[1e4, -1e4, 0.0], [-1e4, 1e4, 0.0]], dtype=dtype)
    ce = nn.CrossEntropyLoss(reduction="sum")
    assert ce(x, np.array([0, 1])) == 0.0  # the right class by a huge margin
    g = ce.backward()
    assert g.dtype == dtype and np.all(np.isfinite(g)) and not g.any()
    loss = ce(x, np.array([1, 0]))  # the wrong class by a huge margin
    assert np.isfinite(loss) and loss == pytest.approx(4e4)
    np.testing.assert_allclose(ce.backward(), [[1, -1, 0], [-1, 1, 0]])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_bce_with_logits_huge_logits(dtype):
    x = np.array([1e4, -1e4, 1e4, -1e4], dtype=dtype)
    t = np.array([1.0, 0.0, 0.0, 1.0])
    crit = nn.BCEWithLogitsLoss(reduction="sum")
    assert crit(x, t) == pytest.approx(2e4)
    g = crit.backward()
    assert g.dtype == dtype
    np.testing.assert_array_equal(g, [0.0, 0.0, 1.0, -1.0])


def test_bce_clamps_log_at_minus_100():
    crit = nn.BCELoss(reduction="sum")
    assert crit(np.array([0.0, 1.0]), np.array([1.0, 0.0])) == pytest.approx(200.0)
    assert np.all(np.isfinite(crit.backward()))
    assert crit(np.array([0.0, 1.0]), np.array([0.0, 1.0])) == 0.0


@pytest.mark.parametrize("make, x, t", [
    (nn.CrossEntropyLoss, np.ones((4, 3), np.float32), np.array([0, 1, 2, 0])),
    (nn.MSELoss, np.ones((4, 3), np.float32), np.zeros((4, 3))),
    (nn.L1Loss, np.ones((4, 3), np.float32), np.zeros((4, 3), np.int64)),
    (nn.BCEWithLogitsLoss, np.ones((4, 3), np.float32), np.zeros((4, 3))),
    (nn.BCELoss, np.full((4, 3), 0.5, np.float32), np.zeros((4, 3))),
])
def test_gradient_keeps_the_prediction_dtype(make, x, t):
    crit = make()
    assert isinstance(crit(x, t), float)
    assert crit.backward().dtype == np.float32


# ---------------------------------------------------------------------- validation
@pytest.mark.parametrize("crit", [nn.CrossEntropyLoss(), nn.MSELoss(), nn.L1Loss(),
                                  nn.BCEWithLogitsLoss(), nn.BCELoss()])
def test_backward_before_forward(crit):
    with pytest.raises(RuntimeError, match=rf"{type(crit).__name__}\.backward called before"):
        crit.backward()


@pytest.mark.parametrize("labels, match", [
    ([0, 10, 3], "label 10 is out of range for 10 classes"),
    ([-1, 0, 3], "label -1 is out of range for 10 classes"),
])
def test_cross_entropy_label_out_of_range(labels, match):
    with pytest.raises(ValueError, match=match):
        nn.CrossEntropyLoss()(np.zeros((3, 10)), np.array(labels))


@pytest.mark.parametrize("x, y, err, match", [
    (np.zeros((3, 10)), np.array([0.0, 1.0, 2.0]), TypeError, "integer class labels"),
    (np.zeros((3, 10)), np.array([0, 1]), ValueError, r"labels of shape \(3,\)"),
    (np.zeros((3, 10)), np.array([[0], [1], [2]]), ValueError, r"labels of shape \(3,\)"),
    (np.zeros(10), np.array([0]), ValueError, r"logits of shape \(N, C\)"),
    (np.zeros((3, 10), np.int64), np.array([0, 1, 2]), TypeError, "float32 or float64"),
    (np.zeros((0, 10)), np.array([], np.int64), ValueError, "non-empty"),
])
def test_cross_entropy_bad_inputs(x, y, err, match):
    with pytest.raises(err, match=match):
        nn.CrossEntropyLoss()(x, y)


@pytest.mark.parametrize("crit, x, t, err, match", [
    (nn.MSELoss(), np.zeros((3, 1)), np.zeros(3), ValueError, r"target shape \(3,\) does not match"),
    (nn.L1Loss(), np.zeros(3), np.array(["a", "b", "c"]), TypeError, "numeric target"),
    (nn.BCEWithLogitsLoss(), np.zeros(3), np.array([0.0, 2.0, 1.0]), ValueError, r"targets in \[0, 1\]"),
    (nn.BCELoss(), np.array([0.5, 1.5]), np.zeros(2), ValueError, "probabilities in"),
    (nn.BCELoss(), np.array([0.5, 0.5]), np.array([0.0, -1.0]), ValueError, r"targets in \[0, 1\]"),
])
def test_elementwise_bad_inputs(crit, x, t, err, match):
    with pytest.raises(err, match=match):
        crit(x, t)


def test_invalid_options_and_repr():
    with pytest.raises(ValueError, match="reduction must be"):
        nn.MSELoss(reduction="none")
    with pytest.raises(ValueError, match="label_smoothing"):
        nn.CrossEntropyLoss(label_smoothing=1.5)
    assert repr(nn.CrossEntropyLoss()) == (
        "CrossEntropyLoss(reduction='mean', label_smoothing=0.0)")
    assert repr(nn.L1Loss("sum")) == "L1Loss(reduction='sum')"
