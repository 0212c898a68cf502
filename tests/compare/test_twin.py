"""barenet beside PyTorch: layer mapping, weight copy, and agreement of the training curves."""
from __future__ import annotations

import sys

import numpy as np
import pytest

from barenet import nn
from barenet.compare import import_torch, numpy_threads, to_torch
from barenet.errors import ConfigError

torch = pytest.importorskip("torch")


def _zoo(rng: np.random.Generator) -> nn.Sequential:
    """Every supported layer once, nested Sequential included."""
    features = nn.Sequential(
        nn.Conv2d(1, 4, 3, stride=1, padding=1, rng=rng), nn.BatchNorm2d(4), nn.ReLU(),
        nn.MaxPool2d(2), nn.Conv2d(4, 6, (3, 2), stride=2, rng=rng), nn.LeakyReLU(0.1),
        nn.AvgPool2d(2))
    return nn.Sequential(features, nn.Flatten(), nn.Linear(6 * 1 * 1, 8, rng=rng),
                         nn.BatchNorm1d(8), nn.Tanh(), nn.Dropout(0.3, rng=rng),
                         nn.Linear(8, 5, rng=rng), nn.Sigmoid())


def test_to_torch_same_keys_and_same_outputs(rng):
    model = _zoo(rng)
    x = rng.standard_normal((3, 1, 12, 12)).astype(np.float32)
    model.train()
    model(x)  # move the BatchNorm running statistics away from their initial values
    tmodel = to_torch(model)
    def keys(state):
        return [k for k in state if not k.endswith("num_batches_tracked")]

    assert keys(model.state_dict()) == keys(tmodel.state_dict())
    model.eval()
    tmodel.eval()
    with torch.no_grad():
        out_t = tmodel(torch.from_numpy(x)).numpy()
    np.testing.assert_allclose(model(x), out_t, rtol=1e-5, atol=1e-6)


def test_unmappable_layer_is_named():
    class Odd(nn.Module):
        def forward(self, x):
            return x

    with pytest.raises(ConfigError, match="no PyTorch equivalent for layer Odd"):
        to_torch(nn.Sequential(nn.ReLU(), Odd()))


def test_missing_torch_gives_the_install_hint(monkeypatch):
    monkeypatch.setitem(sys.modules, "torch", None)
    with pytest.raises(ConfigError, match=r'pip install "barenet\[torch\]"'):
        import_torch()


def test_numpy_threads_reads_the_environment(monkeypatch):
    monkeypatch.setenv("OPENBLAS_NUM_THREADS", "3")
    assert numpy_threads() == 3


@pytest.mark.parametrize("name", ["rnn", "lstm", "gru", "vit"])
def test_sequence_models_have_a_twin_with_the_same_outputs_and_gradients(name):
    """The twins of the recurrent and attention layers, the patch embedding and the heads
    give the same logits and the same gradients in float64."""
    from barenet.models import build_model, default_spec

    spec = {**default_spec(name), **({"depth": 2, "dim": 16, "mlp": 24} if name == "vit" else
                                      {"hidden": 12, "layers": 2, "bidirectional": True})}
    model = build_model(spec, rng=0).astype(np.float64)
    rng = np.random.default_rng(1)
    model.load_state_dict({k: rng.standard_normal(v.shape) * 0.3
                           for k, v in model.state_dict().items()})
    tmodel = to_torch(model).double()
    tmodel.load_state_dict({k: torch.from_numpy(v) for k, v in model.state_dict().items()})
    x = rng.standard_normal((3, 1, 28, 28))
    g = rng.standard_normal((3, 10))
    tx = torch.tensor(x, requires_grad=True)
    ty = tmodel(tx)
    (ty * torch.tensor(g)).sum().backward()
    np.testing.assert_allclose(model(x), ty.detach().numpy(), atol=1e-8, rtol=0)
    np.testing.assert_allclose(model.backward(g), tx.grad.numpy(), atol=1e-8, rtol=0)
    grads = dict(tmodel.named_parameters())
    for k, p in model.named_parameters():
        np.testing.assert_allclose(p.grad, grads[k].grad.numpy(), atol=1e-8, rtol=0, err_msg=k)


def test_embedding_layer_norm_gelu_and_mean_have_twins():
    model = nn.Sequential(nn.Embedding(9, 6, rng=0), nn.LayerNorm(6), nn.GELU("tanh"),
                          nn.MultiheadAttention(6, 2, rng=1), nn.MeanOverTime())
    tmodel = to_torch(model)
    ids = np.random.default_rng(2).integers(0, 9, (4, 5))
    with torch.no_grad():
        np.testing.assert_allclose(model(ids), tmodel(torch.from_numpy(ids)).numpy(),
                                   rtol=1e-5, atol=1e-6)


def test_every_registered_built_in_layer_has_a_pytorch_twin():
    """Read from the registry: a new built-in layer without a twin fails here."""
    from barenet.compare import twin
    from barenet.nn.registry import is_builtin, registered

    missing = sorted(n for n, c in registered().items() if is_builtin(c) and n not in twin._LAYERS)
    assert missing == []
