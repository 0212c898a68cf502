"""The CNN architectures: shapes, specs, gradient checks and PyTorch parity of whole models."""
import json

import numpy as np
import pytest

from barenet import nn
from barenet.errors import ConfigError
from barenet.gradcheck import check_module
from barenet.models.cnn import CNN_MODELS


def build(name, rng=0, **settings):
    entry = CNN_MODELS[name]
    spec = {"name": name, **entry["defaults"], **settings}
    return entry["build"](spec, np.random.default_rng(rng))


def torch_copy(model):
    """The same network in PyTorch (float64), with this model's weights."""
    torch = pytest.importorskip("torch")
    tn = torch.nn
    layers = []
    for layer in model:
        if isinstance(layer, nn.Conv2d):
            layers.append(tn.Conv2d(layer.in_channels, layer.out_channels, layer.kernel_size,
                                    layer.stride, layer.padding, bias=layer.bias is not None))
        elif isinstance(layer, nn.Linear):
            layers.append(tn.Linear(layer.in_features, layer.out_features,
                                    bias=layer.bias is not None))
        else:
            simple = {nn.MaxPool2d: lambda m: tn.MaxPool2d(m.kernel_size, m.stride, m.padding),
                      nn.ReLU: lambda m: tn.ReLU(), nn.Flatten: lambda m: tn.Flatten(),
                      nn.Dropout: lambda m: tn.Dropout(m.p),
                      nn.BatchNorm2d: lambda m: tn.BatchNorm2d(m.num_features),
                      nn.BatchNorm1d: lambda m: tn.BatchNorm1d(m.num_features)}
            layers.append(simple[type(layer)](layer))
    ref = tn.Sequential(*layers).double()
    ref.load_state_dict({k: torch.tensor(v) for k, v in model.state_dict().items()})
    return ref


@pytest.mark.parametrize("name, params", [
    ("lenet5", 61706), ("cnn", 225034), ("cnn-large", 871082)])
def test_default_models_shapes_and_sizes(rng, name, params):
    model = build(name)
    assert isinstance(model, nn.Sequential)
    assert model.num_parameters() == params
    model.eval()
    out = model(rng.standard_normal((3, 1, 28, 28)).astype(np.float32))
    assert out.shape == (3, 10) and out.dtype == np.float32
    entry = CNN_MODELS[name]
    assert entry["input"] == "image" and entry["description"]
    json.dumps(entry["defaults"])  # specs are JSON-able


def small_cnn(rng):
    return nn.Sequential(nn.Conv2d(1, 3, 3, padding=1, rng=rng), nn.ReLU(), nn.MaxPool2d(2),
                         nn.Conv2d(3, 4, (3, 2), rng=rng), nn.ReLU(), nn.Flatten(),
                         nn.Linear(4 * 2 * 3, 5, rng=rng)).astype(np.float64)


def test_small_cnn_gradcheck(rng):
    result = check_module(small_cnn(rng), rng.standard_normal((2, 1, 8, 8)), rng=rng)
    assert result.ok, str(result)


def test_small_cnn_matches_torch(rng):
    torch = pytest.importorskip("torch")
    model = small_cnn(rng)
    ref = torch_copy(model)
    x = rng.standard_normal((3, 1, 8, 8))
    y = model(x)
    g = rng.standard_normal(y.shape)
    dx = model.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-6)
    for (name, p), (tname, tp) in zip(model.named_parameters(), ref.named_parameters()):
        assert name == tname
        np.testing.assert_allclose(p.grad, tp.grad.numpy(), atol=1e-6, err_msg=name)


@pytest.mark.parametrize("name, settings", [
    ("lenet5", {"channels": [2, 3], "hidden": [4]}),
    ("cnn", {"channels": [2, 3], "hidden": 4, "dropout": 0.0}),
    ("cnn-large", {"channels": [2], "hidden": 3, "dropout": 0.0}),
])
def test_tiny_versions_gradcheck(rng, name, settings):
    model = build(name, **settings).astype(np.float64)
    x = rng.standard_normal((3, 1, 28, 28))
    result = check_module(model, x, rng=rng, check_input=False)
    assert result.ok, str(result)


@pytest.mark.parametrize("name", CNN_MODELS)
def test_default_models_match_torch(rng, name):
    torch = pytest.importorskip("torch")
    model = build(name).astype(np.float64)
    ref = torch_copy(model)
    model.train()
    ref.train()
    for layer in model:  # dropout off, so both sides compute the same function
        if isinstance(layer, nn.Dropout):
            layer.p = 0.0
    ref.apply(lambda m: setattr(m, "p", 0.0) if isinstance(m, torch.nn.Dropout) else None)
    x = rng.standard_normal((4, 1, 28, 28))
    y = model(x)
    g = rng.standard_normal(y.shape)
    dx = model.backward(g)
    xt = torch.tensor(x, requires_grad=True)
    yt = ref(xt)
    yt.backward(torch.tensor(g))
    np.testing.assert_allclose(y, yt.detach().numpy(), atol=1e-6)
    np.testing.assert_allclose(dx, xt.grad.numpy(), atol=1e-6)
    grads = dict(ref.named_parameters())
    for key, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, grads[key].grad.numpy(), atol=1e-6, err_msg=key)


def test_same_seed_same_model_and_dropout_masks():
    a, b = build("cnn", rng=5), build("cnn", rng=5)
    x = np.ones((2, 1, 28, 28), dtype=np.float32)
    np.testing.assert_array_equal(a(x), b(x))


@pytest.mark.parametrize("name, settings, match", [
    ("cnn", {"channels": []}, "cnn: channels"),
    ("cnn", {"channels": [0, 4]}, "cnn: channels"),
    ("cnn", {"channels": [4, 4, 4, 4]}, "shrink a 28x28 image"),
    ("cnn", {"dropout": 1.0}, "cnn: dropout"),
    ("cnn", {"hidden": "128"}, "cnn: hidden"),
    ("lenet5", {"channels": [6, 16, 32]}, "lenet5: channels must list 2"),
    ("cnn-large", {"channels": [8, 8, 8, 8, 8]}, "shrink a 28x28 image"),
    ("cnn-large", {"channels": [True]}, "cnn-large: channels"),
])
def test_bad_specs_raise_config_error(name, settings, match):
    with pytest.raises(ConfigError, match=match):
        build(name, **settings)


def test_registered_in_the_model_registry():
    from barenet.models import MODEL_NAMES, build_model, model_input
    for name in CNN_MODELS:
        assert name in MODEL_NAMES and model_input(name) == "image"
    assert build_model({"name": "cnn", "hidden": 32}, rng=0).num_parameters() == \
        build("cnn", hidden=32).num_parameters()
