"""Fixtures shared by the run-directory tests: one small trained run, and a fresh copy of it."""
from __future__ import annotations

import shutil

import pytest

from barenet.train import train_model


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory):
    """A one-epoch MLP run (hidden 8, 300 images): config, weights, resume state, metrics."""
    out = tmp_path_factory.mktemp("run") / "run"
    train_model({"limit_train": 300, "limit_test": 100, "epochs": 1, "hidden": 8,
                 "batch_size": 100}, out, plots=False)
    return out


@pytest.fixture
def copy(run_dir, tmp_path):
    """A copy of ``run_dir`` that a test may damage."""
    dst = tmp_path / "run"
    shutil.copytree(run_dir, dst)
    return dst
