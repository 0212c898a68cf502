"""Small trained runs for the explain tests: an MLP and a narrow CNN (the default CNN's layers
with fewer channels), trained briefly on 1,000 images so that gradients and attacks act on a
model that has learnt something."""
from __future__ import annotations

import pytest

from barenet.data.datasets import load_dataset
from barenet.train import train_model
from barenet.train.checkpoint import load_run


@pytest.fixture(scope="session")
def mlp_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("explain") / "mlp"
    train_model({"limit_train": 1000, "limit_test": 100, "epochs": 2, "hidden": 32,
                 "batch_size": 50}, out, plots=False)
    return load_run(out)


@pytest.fixture(scope="session")
def cnn_run(tmp_path_factory):
    out = tmp_path_factory.mktemp("explain") / "cnn"
    train_model({"model": {"name": "cnn", "channels": [8, 16], "hidden": 16},
                 "limit_train": 1000, "limit_test": 100, "epochs": 1, "batch_size": 50},
                out, plots=False)
    return load_run(out)


@pytest.fixture(scope="session")
def mnist_test():
    return load_dataset("mnist", "test")
