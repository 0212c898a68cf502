"""Module, Parameter and Sequential: registration, traversal, modes, state_dict, repr, errors."""
import numpy as np
import pytest

from barenet import nn
from barenet.nn.module import IncompatibleKeys, Parameter


class Block(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.fc = nn.Linear(3, 4, rng=0)
        self.scale = nn.Parameter(np.ones(4, dtype=np.float32))
        self.register_buffer("count", np.zeros(2, dtype=np.float32))
        self.act = nn.ReLU()

    def forward(self, x):
        return self.act(self.fc(x)) * self.scale.data


def mlp(rng=0):
    return nn.Sequential(nn.Linear(3, 4, rng=rng), nn.ReLU(), nn.Linear(4, 2, rng=rng + 1))


# every layer, built ready for an input of the given shape
LAYERS = {
    "Linear": (lambda: nn.Linear(3, 4, rng=0), (2, 3)),
    "ReLU": (nn.ReLU, (2, 3)),
    "LeakyReLU": (nn.LeakyReLU, (2, 3)),
    "Sigmoid": (nn.Sigmoid, (2, 3)),
    "Tanh": (nn.Tanh, (2, 3)),
    "Softmax": (nn.Softmax, (2, 3)),
    "Dropout": (lambda: nn.Dropout(0.5, rng=0), (2, 3)),
    "BatchNorm1d": (lambda: nn.BatchNorm1d(3), (2, 3)),
    "BatchNorm2d": (lambda: nn.BatchNorm2d(3), (2, 3, 2, 2)),
    "Flatten": (nn.Flatten, (2, 3, 2)),
    "Identity": (nn.Identity, (2, 3)),
    "Sequential": (mlp, (2, 3)),
}


def test_registration_of_parameters_modules_and_buffers():
    b = Block()
    assert list(b._parameters) == ["scale"]
    assert list(b._modules) == ["fc", "act"]
    assert list(b._buffers) == ["count"]
    b.fc = None  # unregisters
    assert "fc" not in b._modules and b.fc is None
    del b.scale
    assert "scale" not in b._parameters
    b.count = np.ones(2, dtype=np.float32)  # re-assigning an array keeps it a buffer
    assert "count" in b._buffers and b.count[0] == 1


def test_setattr_before_init_is_a_clear_error():
    class Bad(nn.Module):
        def __init__(self):
            self.w = 1

    with pytest.raises(AttributeError, match="super"):
        Bad()


def test_register_buffer_needs_an_array():
    with pytest.raises(TypeError, match="register_buffer"):
        nn.Module().register_buffer("x", [1, 2])


def test_parameters_order_and_named_keys():
    b = Block()
    names = [n for n, _ in b.named_parameters()]
    assert names == ["scale", "fc.weight", "fc.bias"]
    assert [id(p) for p in b.parameters()] == [id(p) for _, p in b.named_parameters()]
    m = mlp()
    assert [n for n, _ in m.named_parameters()] == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert m.parameters()[0] is m[0].weight
    assert m.num_parameters() == 3 * 4 + 4 + 4 * 2 + 2


def test_shared_layer_counted_once():
    shared = nn.Linear(2, 2, rng=0)
    m = nn.Sequential(shared, nn.ReLU(), shared)
    assert len(m.parameters()) == 2
    assert len(list(m.modules())) == 3


def test_buffers_and_named_buffers():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))
    assert [n for n, _ in m.named_buffers()] == [
        "1.running_mean", "1.running_var", "1.num_batches_tracked"]
    assert len(m.buffers()) == 3


def test_zero_grad():
    m = mlp()
    x = np.ones((2, 3), dtype=np.float32)
    m(x)
    m.backward(np.ones((2, 2), dtype=np.float32))
    assert any(np.any(p.grad != 0) for p in m.parameters())
    m.zero_grad()
    assert all(np.all(p.grad == 0) for p in m.parameters())


def test_train_eval_recurse_and_return_self():
    m = nn.Sequential(Block(), nn.Sequential(nn.Dropout(0.5), nn.BatchNorm1d(2)))
    assert m.eval() is m
    assert all(not mod.training for mod in m.modules())
    assert m.train() is m
    assert all(mod.training for mod in m.modules())
    with pytest.raises(TypeError, match="bool"):
        m.train("no")


def test_astype_casts_params_grads_and_float_buffers():
    m = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4)).astype(np.float64)
    assert all(p.data.dtype == np.float64 and p.grad.dtype == np.float64 for p in m.parameters())
    assert m[1].running_mean.dtype == np.float64
    assert m[1].num_batches_tracked.dtype == np.int64


def test_state_dict_copies_and_round_trips():
    m = nn.Sequential(nn.Linear(3, 4, rng=0), nn.BatchNorm1d(4))
    sd = m.state_dict()
    assert list(sd) == ["0.weight", "0.bias", "1.weight", "1.bias", "1.running_mean",
                        "1.running_var", "1.num_batches_tracked"]
    sd["0.weight"][:] = 7  # a copy: the model is untouched
    assert not np.any(m[0].weight.data == 7)
    other = nn.Sequential(nn.Linear(3, 4, rng=5), nn.BatchNorm1d(4))
    result = other.load_state_dict({k: v.astype(np.float64) for k, v in sd.items()})
    assert result == IncompatibleKeys([], [])
    assert other[0].weight.data.dtype == np.float32  # cast to the parameter's dtype
    np.testing.assert_array_equal(other[0].weight.data, sd["0.weight"])
    np.testing.assert_array_equal(other[0].bias.data, m[0].bias.data)


def test_load_state_dict_strict_lists_every_problem_and_changes_nothing():
    m = mlp()
    before = m.state_dict()
    bad = dict(before)
    del bad["2.bias"]  # missing
    bad["9.weight"] = np.zeros(3)  # unexpected
    bad["0.weight"] = np.zeros((4, 5))  # wrong shape
    bad["2.weight"] = np.array([["a", "b", "c", "d"]] * 2)  # not numeric
    bad["0.bias"] = np.full(4, 3.0)  # valid, but must not be applied
    with pytest.raises(ValueError) as info:
        m.load_state_dict(bad)
    msg = str(info.value)
    assert "\n" not in msg
    for piece in ("missing keys: 2.bias", "unexpected keys: 9.weight",
                  "0.weight: expected (4, 3), got (4, 5)", "2.weight: expected a numeric"):
        assert piece in msg
    for k, v in m.state_dict().items():
        np.testing.assert_array_equal(v, before[k])


def test_load_state_dict_non_strict_reports_keys_but_still_rejects_bad_shapes():
    m = mlp()
    sd = m.state_dict()
    del sd["2.bias"]
    sd["extra"] = np.zeros(1)
    result = m.load_state_dict(sd, strict=False)
    assert result.missing_keys == ["2.bias"] and result.unexpected_keys == ["extra"]
    sd["0.bias"] = np.zeros(5)
    with pytest.raises(ValueError, match="0.bias: expected"):
        m.load_state_dict(sd, strict=False)


def test_num_batches_tracked_is_optional_both_ways():
    m = mlp()
    sd = m.state_dict()
    sd["1.num_batches_tracked"] = np.array(3)
    assert m.load_state_dict(sd) == IncompatibleKeys([], [])
    bn = nn.BatchNorm1d(2)
    bn.num_batches_tracked = np.array(5)
    sd = bn.state_dict()
    del sd["num_batches_tracked"]
    bn.load_state_dict(sd)
    assert int(bn.num_batches_tracked) == 5


def test_repr_matches_pytorch_layout():
    m = nn.Sequential(nn.Linear(784, 200), nn.ReLU(), nn.Dropout(0.2), nn.Linear(200, 10))
    assert repr(m) == (
        "Sequential(\n"
        "  (0): Linear(in_features=784, out_features=200, bias=True)\n"
        "  (1): ReLU()\n"
        "  (2): Dropout(p=0.2)\n"
        "  (3): Linear(in_features=200, out_features=10, bias=True)\n"
        ")")
    assert repr(nn.BatchNorm2d(8)) == (
        "BatchNorm2d(8, eps=1e-05, momentum=0.1, affine=True, track_running_stats=True)")
    assert repr(nn.Flatten()) == "Flatten(start_dim=1, end_dim=-1)"
    assert repr(nn.Softmax(dim=1)) == "Softmax(dim=1)"
    assert repr(nn.LeakyReLU(0.2)) == "LeakyReLU(negative_slope=0.2)"


def test_sequential_container_behaviour():
    m = mlp()
    assert len(m) == 3 and isinstance(m[1], nn.ReLU) and m[-1] is m[2]
    head = m[:2]
    assert isinstance(head, nn.Sequential) and len(head) == 2 and head[0] is m[0]
    assert [type(layer).__name__ for layer in m] == ["Linear", "ReLU", "Linear"]
    m.append(nn.Softmax())
    assert [n for n, _ in m.named_modules()][-1] == "3"
    with pytest.raises(TypeError, match="item 1"):
        nn.Sequential(nn.ReLU(), "relu")
    with pytest.raises(TypeError, match="append"):
        m.append(len)


def test_forward_with_activations_matches_forward():
    m = mlp()
    x = np.random.default_rng(0).standard_normal((5, 3)).astype(np.float32)
    out, acts = m.forward_with_activations(x)
    assert len(acts) == 3 and acts[-1] is out
    np.testing.assert_array_equal(out, m(x))
    assert np.all(acts[1] >= 0)


def test_base_module_forward_backward_not_implemented():
    with pytest.raises(NotImplementedError):
        nn.Module()(np.zeros(1))
    with pytest.raises(NotImplementedError):
        nn.Module().backward(np.zeros(1))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_backward_before_forward_is_a_clear_error(name):
    make, shape = LAYERS[name]
    layer = make()
    with pytest.raises(RuntimeError, match="backward called before forward"):
        layer.backward(np.ones(shape, dtype=np.float32))


@pytest.mark.parametrize("name", sorted(LAYERS))
def test_integer_input_names_the_layer(name):
    make, shape = LAYERS[name]
    layer = make()
    with pytest.raises(TypeError, match="expected a float32 or float64 array") as info:
        layer(np.ones(shape, dtype=np.int64))
    if name != "Sequential":
        assert repr(layer) in str(info.value)


@pytest.mark.parametrize("layer, shape, expected", [
    (nn.Linear(3, 4), (2, 5), r"expected input of shape \(N, 3\), got \(2, 5\)"),
    (nn.Linear(3, 4), (3,), r"expected input of shape \(N, 3\), got \(3,\)"),
    (nn.BatchNorm1d(3), (2, 4), r"\(N, 3\) or \(N, 3, L\), got \(2, 4\)"),
    (nn.BatchNorm1d(3), (2, 3, 1, 1), r"\(N, 3\) or \(N, 3, L\)"),
    (nn.BatchNorm2d(3), (2, 3, 4), r"\(N, 3, H, W\), got \(2, 3, 4\)"),
    (nn.BatchNorm2d(3), (2, 1, 4, 4), r"\(N, 3, H, W\), got \(2, 1, 4, 4\)"),
    (nn.Flatten(), (4,), r"cannot flatten dimensions 1..-1"),
    (nn.Softmax(dim=2), (4, 3), r"dim 2 is out of range"),
])
def test_wrong_shape_names_the_layer_and_expected_shape(layer, shape, expected):
    with pytest.raises(ValueError, match=expected) as info:
        layer(np.zeros(shape, dtype=np.float32))
    assert str(info.value).startswith(repr(layer))


@pytest.mark.parametrize("name", sorted(set(LAYERS) - {"Sequential"}))
def test_backward_rejects_a_gradient_of_the_wrong_shape(name):
    make, shape = LAYERS[name]
    layer = make()
    out = layer(np.ones(shape, dtype=np.float32))
    with pytest.raises(ValueError, match="expected a gradient of shape"):
        layer.backward(np.ones(out.shape + (1,), dtype=np.float32))


def test_pytorch_state_dict_loads_into_matching_sequential():
    torch = pytest.importorskip("torch")
    torch.manual_seed(0)
    tm = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
                             torch.nn.Dropout(0.3), torch.nn.Linear(5, 3))
    with torch.no_grad():  # some steps of running statistics, so they are not the defaults
        for _ in range(3):
            tm(torch.randn(8, 6))
    tm.eval()
    bm = nn.Sequential(nn.Linear(6, 5), nn.BatchNorm1d(5), nn.ReLU(), nn.Dropout(0.3),
                       nn.Linear(5, 3)).eval()
    bm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    assert int(bm[1].num_batches_tracked) == 3
    x = np.random.default_rng(0).standard_normal((4, 6)).astype(np.float32)
    expected = tm(torch.from_numpy(x)).detach().numpy()
    np.testing.assert_allclose(bm(x), expected, rtol=1e-5, atol=1e-6)
    # and back: barenet's state_dict loads into PyTorch
    tm2 = torch.nn.Sequential(torch.nn.Linear(6, 5), torch.nn.BatchNorm1d(5), torch.nn.ReLU(),
                              torch.nn.Dropout(0.3), torch.nn.Linear(5, 3)).eval()
    tm2.load_state_dict({k: torch.from_numpy(np.asarray(v)) for k, v in bm.state_dict().items()})
    np.testing.assert_allclose(tm2(torch.from_numpy(x)).detach().numpy(), expected, rtol=1e-6)


def test_zero_grad_is_lazy_but_reads_as_zero():
    p = Parameter(np.ones((2, 3), dtype=np.float32))
    p.grad[...] = 5.0
    p.zero_grad()
    assert np.array_equal(p.grad, np.zeros((2, 3)))  # the read fills it
    p.accumulate_grad(np.ones((2, 3), dtype=np.float32))
    assert np.array_equal(p.grad, np.ones((2, 3)))  # already zeroed: added to the zeros


@pytest.mark.parametrize("order", ["C", "F"])
def test_accumulate_grad_writes_after_zero_grad_then_adds(order):
    rng = np.random.default_rng(0)
    p = Parameter(np.ones((3, 4), dtype=np.float64, order=order))
    p.grad = np.full((3, 4), 100.0, order=order)  # stale values that zero_grad must discard
    a, b = rng.standard_normal((3, 5)), rng.standard_normal((5, 4))
    grad_before = p.grad
    p.zero_grad()
    p.accumulate_grad(a, b)                      # written: a @ b
    np.testing.assert_allclose(p.grad, a @ b)
    p.accumulate_grad(np.ones((3, 4)))           # then added
    np.testing.assert_allclose(p.grad, a @ b + 1)
    p.accumulate_grad(a, b)
    np.testing.assert_allclose(p.grad, 2 * (a @ b) + 1)
    assert p.grad is grad_before                 # always the same array, layout kept
    p.zero_grad()
    p.accumulate_grad(np.arange(12.0))           # a value reshaped to the parameter's shape
    np.testing.assert_array_equal(p.grad, np.arange(12.0).reshape(3, 4))


def test_accumulate_grad_on_a_parameter_without_grad_creates_it():
    p = Parameter(np.ones(3, dtype=np.float32))
    p.grad = None
    p.accumulate_grad(np.full(3, 2.0))
    assert p.grad.dtype == np.float32 and np.array_equal(p.grad, np.full(3, 2.0))


def test_linear_gradients_accumulate_over_two_backwards_after_zero_grad():
    """The first backward after zero_grad overwrites, the second adds: the sum of both."""
    rng = np.random.default_rng(0)
    layer = nn.Linear(5, 3, rng=0, dtype=np.float64)
    x1, x2 = rng.standard_normal((4, 5)), rng.standard_normal((6, 5))
    g1, g2 = rng.standard_normal((4, 3)), rng.standard_normal((6, 3))
    layer.weight.grad[...] = 100.0  # stale values that zero_grad must discard
    layer.bias.grad[...] = 100.0
    layer.zero_grad()
    layer(x1)
    layer.backward(g1)
    layer(x2)
    layer.backward(g2)
    assert np.allclose(layer.weight.grad, g1.T @ x1 + g2.T @ x2)
    assert np.allclose(layer.bias.grad, g1.sum(0) + g2.sum(0))


def test_optimizer_zero_grad_zeroes_an_unused_parameter():
    from barenet import optim
    used, unused = Parameter(np.ones(3)), Parameter(np.ones(3))
    unused.grad[...] = 2.0
    opt = optim.SGD([used, unused], lr=0.1)
    opt.zero_grad()
    opt.step()
    assert np.array_equal(unused.data, np.ones(3))  # read as zeros: no update
