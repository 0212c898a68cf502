"""Fixtures for the board tests: a real run (trained for a second with --diagnostics, figures
drawn) and a live board on a free port for a test's own folder."""
from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

import pytest
from board_helpers import Client, running

from barenet.board import make_board_server

TINY = {"model": "mlp", "hidden": 16, "epochs": 3, "limit_train": 600, "limit_test": 200,
        "batch_size": 50, "seed": 0, "diagnostics": True}


@pytest.fixture(scope="session")
def trained(tmp_path_factory) -> Path:
    """A run directory written by the training API: 3 epochs of a small MLP, with diagnostics
    and its figures."""
    from barenet.train.api import train_model

    out = tmp_path_factory.mktemp("board-trained") / "real"
    train_model(TINY, out, plots=True)
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
