"""Fixtures for the board tests: a real run (trained for a second with --diagnostics, figures
drawn), a real run that clipped its gradients (``barenet train --clip-grad-norm 1
--diagnostics`` in a subprocess) and a live board on a free port for a test's own folder."""
from __future__ import annotations

import contextlib
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from board_helpers import Client, running

from barenet.board import make_board_server

TINY = {"model": "mlp", "hidden": 16, "epochs": 3, "limit_train": 600, "limit_test": 200,
        "batch_size": 50, "seed": 0, "diagnostics": True}
CLIPPED = ["train", "--model", "mlp", "--hidden", "32", "--limit-train", "2000", "--limit-test",
           "200", "--epochs", "2", "--clip-grad-norm", "1", "--diagnostics", "--no-plots",
           "--quiet", "--seed", "0"]


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """A run directory written by the training API: 3 epochs of a small MLP, with diagnostics
    and its figures."""
    from barenet.train.api import train_model

    out = tmp_path_factory.mktemp("board-trained") / "real"
    train_model(TINY, out, plots=True)
    return out


@pytest.fixture(scope="session")
def clipped(tmp_path_factory) -> Path:
    """A run directory written by a real ``barenet train --clip-grad-norm 1 --diagnostics``:
    2 epochs of a small MLP on 2,000 images (its metrics.csv has the clip/... columns)."""
    out = tmp_path_factory.mktemp("board-clipped") / "clipped"
    proc = subprocess.run([sys.executable, "-m", "barenet.cli.main", *CLIPPED, "--out", str(out)],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    return out


@pytest.fixture
def board() -> Any:
    """``board(root)`` -> (server, client) of a board on ``root``, stopped after the test."""
    stack = contextlib.ExitStack()

    def start(root: Path, **kwargs: Any) -> tuple[Any, Client]:
        srv = stack.enter_context(running(make_board_server(root, "127.0.0.1", 0, **kwargs)))
        return srv, Client(srv)

    with stack:
        yield start
