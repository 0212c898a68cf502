"""Fixtures for the server tests: a real run trained on a small MNIST subset, a live server on a
free port, and a tiny JSON client."""
from __future__ import annotations

import io
import json
from pathlib import Path
from typing import Any, Iterator

import numpy as np
import pytest
from http_client import HTTPClient, running

from barenet.serve import make_server

TRAIN = {"dataset": "mnist", "model": "mlp", "hidden": 64, "epochs": 2, "limit_train": 8000,
         "limit_test": 2000, "seed": 0}


@pytest.fixture(scope="session")
def run_dir(tmp_path_factory) -> Path:
    """A run directory written by the training API: a small MLP trained for a few seconds on
    8,000 images of the embedded MNIST."""
    from barenet.train.api import train_model

    out = tmp_path_factory.mktemp("serve") / "run"
    train_model(TRAIN, out, plots=False)
    return out


@pytest.fixture(scope="session")
def run(run_dir: Path) -> Any:
    """The trained run, loaded back from its directory."""
    from barenet.train.checkpoint import load_run

    return load_run(run_dir)


@pytest.fixture(scope="session")
def test_set() -> Any:
    from barenet.data.datasets import load_dataset

    return load_dataset("mnist", "test", download=False)


class Client(HTTPClient):
    """The HTTP client of tests/http_client.py, with the POSTs of /api/predict."""

    def post(self, body: bytes, content_type: str | None) -> tuple[int, Any]:
        headers = {"Content-Type": content_type} if content_type else {}
        status, _, doc = self.request("POST", "/api/predict", body, headers)
        return status, doc

    def post_pixels(self, pixels: Any) -> tuple[int, Any]:
        return self.post(json.dumps({"pixels": pixels}).encode(), "application/json")


@pytest.fixture(scope="session")
def serving() -> Any:
    """``with serving(make_server(...)) as srv:`` runs a server of the test's own for a block."""
    return running


@pytest.fixture(scope="module")
def server(run: Any) -> Iterator[Any]:
    """A live server on a free loopback port, shut down after the module's tests."""
    with running(make_server(run, "127.0.0.1", 0, seed=0)) as srv:
        yield srv


@pytest.fixture(scope="module")
def client(server: Any) -> Client:
    host, port = server.server_address[:2]
    return Client(host, port)


@pytest.fixture(scope="session")
def client_class() -> type[Client]:
    """The ``Client`` class, for a test that starts its own server (a test module cannot
    import it from "conftest": several test folders have a conftest.py)."""
    return Client


def png_bytes(image: np.ndarray, size: int = 140, invert: bool = True) -> bytes:
    """A uint8 (28, 28) MNIST digit as a PNG of ``size`` pixels, dark ink on white if ``invert``."""
    from PIL import Image

    pixels = 255 - image if invert else image
    im = Image.fromarray(np.ascontiguousarray(pixels, dtype=np.uint8), mode="L")
    buf = io.BytesIO()
    im.resize((size, size), Image.Resampling.BILINEAR).save(buf, format="PNG")
    return buf.getvalue()


@pytest.fixture(scope="session")
def make_png() -> Any:
    return png_bytes
