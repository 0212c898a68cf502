"""The API of ``barenet serve`` without the HTTP plumbing: what each route answers.

Routes (served by ``server.py``)::

    GET  /                 the drawing page (static files come from the package)
    GET  /static/<file>    its script and style sheet
    GET  /api/model        the loaded network: layers, parameter counts, dataset, classes, accuracy
    GET  /api/weights      the first layer's weights as small images (see ``Predictor.weights``)
    GET  /api/sample       a random test image: {"index", "label", "label_name", "pixels": 784 ints
                           in 0..255}; ``?index=N`` picks one
    POST /api/predict      body ``image/*`` (any picture, preprocessed like ``barenet predict``) or
                           JSON {"pixels": 784 numbers in 0..255, MNIST-style: light ink on black,
                           already centred} -> {"prediction", "label", "probabilities", "input",
                           "activations"} (see ``Predictor.predict``)

Every problem with a request is an ``HTTPError``: a 4xx status and a one-line message.
"""
from __future__ import annotations

import json
import threading
from pathlib import Path
from typing import Any, Callable

import numpy as np

from .. import __version__
from ..errors import BarenetError, ImageError
from ..nn.init import as_generator
from .inference import Predictor, parse_pixels, png_to_mnist

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
MAX_BODY = 2 * 1024 * 1024


class HTTPError(Exception):
    """An error answered as JSON ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}


class App:
    """What the handlers share: the predictor, the page's files, the test set (loaded lazily)."""

    def __init__(self, run: Any, max_body: int = MAX_BODY,
                 log: Callable[[str], None] | None = None, seed: int | None = None,
                 timeout: float = 15.0) -> None:
        self.run = run
        self.predictor = Predictor(run)
        self.max_body = int(max_body)
        self.timeout = float(timeout)
        self.log = log
        self.static = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in STATIC_TYPES}
        self._rng = as_generator(seed, "serve")
        self._rng_lock = threading.Lock()
        self._test_set: Any = None
        self._test_lock = threading.Lock()
        self._weights = self.predictor.weights()
        self._model_info = self._describe()

    def _describe(self) -> dict:
        """The answer of ``GET /api/model``, computed once."""
        config = getattr(self.run, "config", {}) or {}
        layers = self.predictor.describe()
        return {"run": Path(str(getattr(self.run, "run_dir", "run"))).name,
                "barenet_version": __version__,
                "model": config.get("model"), "dataset": self.dataset_name(),
                "classes": self.predictor.classes,
                "test_accuracy": config.get("test_accuracy"),
                "parameters": int(sum(layer["parameters"] for layer in layers)),
                "layers": layers, "repr": repr(self.predictor.model),
                "preprocessing": config.get("preprocessing")}

    def dataset_name(self) -> str:
        """The run's dataset name ("mnist", "fashion-mnist")."""
        config = getattr(self.run, "config", {}) or {}
        name = getattr(self.run, "dataset", None) or config.get("dataset") or "mnist"
        return name if isinstance(name, str) else getattr(name, "name", "mnist")

    def model_info(self) -> dict:
        """``GET /api/model``: run name, model spec, dataset, classes, test accuracy, layers
        (name, type, repr, parameters, output_shape), total parameters, preprocessing."""
        return self._model_info

    def weights(self) -> dict:
        """``GET /api/weights``: see ``Predictor.weights``; 404 if nothing can be drawn."""
        if self._weights is None:
            raise HTTPError(404, "the first layer has no weights that can be drawn as images")
        return self._weights

    def test_set(self) -> Any:
        """The run's test split, loaded on first use (never downloaded by the server)."""
        with self._test_lock:
            if self._test_set is None:
                from ..data.datasets import load_dataset

                try:
                    self._test_set = load_dataset(self.dataset_name(), "test",
                                                  data_dir=self.run.data_dir(), download=False)
                except BarenetError as exc:
                    raise HTTPError(503, f"test set not available: {exc}") from exc
            return self._test_set

    def sample(self, query: dict[str, list[str]]) -> dict:
        """``GET /api/sample[?index=N]``: a test image as 784 ints in 0..255 with its label."""
        ds = self.test_set()
        n = len(ds.labels)
        if "index" in query:
            try:
                i = int(query["index"][0])
            except ValueError:
                raise HTTPError(400, f"index must be an integer, got {query['index'][0][:20]!r}") \
                    from None
            if not 0 <= i < n:
                raise HTTPError(400, f"index must be in 0..{n - 1}, got {i}")
        else:
            with self._rng_lock:
                i = int(self._rng.integers(n))
        label = int(ds.labels[i])
        return {"index": i, "label": label, "label_name": self.predictor.classes[label],
                "pixels": ds.images[i].reshape(-1).astype(int).tolist()}

    def predict(self, content_type: str, body: bytes) -> dict:
        """Decode a request body (picture or JSON pixels) and predict; bad input -> HTTPError 400."""
        if not body:
            raise HTTPError(400, "empty body: send a picture (image/png) or JSON {\"pixels\": [...]}")
        try:
            if content_type.startswith("image/"):
                image = _decode_picture(body, self.log)
            elif content_type == "application/json":
                image = parse_pixels(_parse_json(body).get("pixels"))
            else:
                raise HTTPError(415, f"unsupported Content-Type {content_type or '(none)'!r}: "
                                     "use image/png or application/json")
        except ImageError as exc:
            raise HTTPError(400, str(exc)) from exc
        return self.predictor.predict(image)


def _decode_picture(body: bytes, log: Callable[[str], None] | None) -> np.ndarray:
    """A picture's bytes -> uint8 (28, 28); anything the decoder chokes on is the client's fault."""
    try:
        return png_to_mnist(body)
    except ImageError:
        raise
    except Exception as exc:  # image decoders raise many types on hostile input
        if log is not None:
            log(f"picture rejected: {type(exc).__name__}: {exc}")
        raise ImageError(f"upload: not a readable picture ({type(exc).__name__})") from exc


def _reject_constant(name: str) -> None:
    raise HTTPError(400, f"bad JSON: {name} is not allowed")


def _parse_json(body: bytes) -> dict:
    """A JSON object with a "pixels" key, or HTTPError 400 (NaN/Infinity literals refused)."""
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise HTTPError(400, "bad JSON: the body is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise HTTPError(400, f"bad JSON: {str(exc)[:120]}") from None
    if not isinstance(doc, dict) or "pixels" not in doc:
        raise HTTPError(400, "bad JSON: expected an object {\"pixels\": [784 numbers in 0..255]}")
    return doc
