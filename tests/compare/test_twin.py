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
