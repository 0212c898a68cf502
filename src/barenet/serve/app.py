"""The API of ``barenet serve`` without the HTTP plumbing: what each route answers.

Routes (served by ``server.py``)::

    GET  /                 the drawing page (static files come from the package)
    GET  /static/<file>    its script and style sheet
    GET  /api/model        the loaded network: layers, parameter counts, dataset, classes, accuracy
    GET  /api/weights      the first layer's weights as small images (see ``Predictor.weights``)
    GET  /api/sample       a random test image: {"index", "label", "label_name", "pixels": 784 ints
                           in 0..255}; ``?index=N`` picks one
    GET  /favicon.ico      the page's icon (static/favicon.png)
    POST /api/predict      body ``image/*`` (any picture, preprocessed like ``barenet predict``),
                           ``multipart/form-data`` with one file, that picture (``curl -F``), or
                           JSON {"pixels": 784 numbers in 0..255, MNIST-style: light ink on black,
                           already centred} -> {"prediction", "label", "probabilities", "input",
                           "activations"} (see ``Predictor.predict``)
    POST /api/explain      the same bodies, with JSON fields (or query parameters for a picture)
                           "target" (a class, default: the prediction) and "smooth" (noisy
                           copies averaged, 0..50) -> the fields of ``barenet explain --json``:
                           {"prediction", "label", "probabilities", "target", "input_gradient"}
    POST /api/learn        JSON {"pixels", "label", "steps", "lr", "token"}: SGD steps on a
                           private copy of the model (see ``learn_api``)
    POST /api/learn/reset  JSON {"token"}: that copy gets the run's weights back

A committee (``App(..., committee=[run2, ...], tta=N)`` or ``set_committee``) answers
/api/predict with the mean of its runs' probabilities, each over N views; what needs one
network uses the first run and says so (``committee_api``).

At most ``max_decoding`` pictures are preprocessed at once (each may take tens of MB for a
moment); the others wait their turn, for at most ``timeout`` seconds (then 503).

Every problem with a request is an ``HTTPError``: a 4xx status and a one-line message.
"""
from __future__ import annotations

import threading
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from .. import __version__
from ..errors import BarenetError, ImageError
from ..nn.init import as_generator
from .committee_api import Committee
from .errors import HTTPError
from .explain_api import MAX_SMOOTH, Explainer
from .inference import Predictor, parse_pixels, png_to_mnist
from .jsonbody import int_field, parse_object, query_fields
from .learn_api import Learning
from .multipart import FormError, file_from_form

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
MAX_BODY = 2 * 1024 * 1024
PIXELS = '{"pixels": [784 numbers in 0..255]}'


class App:
    """What the handlers share: the predictor, the explainer, the learning sessions, the page's
    files, the test set (loaded lazily). ``max_sessions``, ``max_session_bytes`` and
    ``session_ttl`` (seconds idle) bound the learning sessions, ``max_learning`` the learning
    calls run at once (see ``learn_api``); ``committee`` and ``tta``: see ``set_committee``."""

    def __init__(self, run: Any, max_body: int = MAX_BODY,
                 log: Callable[[str], None] | None = None, seed: int | None = None,
                 timeout: float = 15.0, max_decoding: int = 2, max_sessions: int = 32,
                 max_session_bytes: int = 256 * 2**20, session_ttl: float = 900.0,
                 max_learning: int = 2, clock: Callable[[], float] | None = None,
                 committee: Sequence[Any] = (), tta: int = 1) -> None:
        if max_decoding < 1:
            raise ValueError(f"max_decoding must be at least 1, got {max_decoding}")
        self.run = run
        self.predictor = Predictor(run)
        self.max_body = int(max_body)
        self.timeout = float(timeout)
        self.log = log
        self.static = {p.name: p for p in STATIC_DIR.iterdir() if p.suffix in STATIC_TYPES}
        self._decoding = threading.BoundedSemaphore(max_decoding)
        self._rng = as_generator(seed, "serve")
        self._rng_lock = threading.Lock()
        self._test_set: Any = None
        self._test_lock = threading.Lock()
        self._weights = self.predictor.weights()
        self._model_info = self._describe()
        self.learning = Learning(run, self.test_set, self.timeout, max_sessions,
                                 max_session_bytes, session_ttl, max_learning, clock)
        self.explainer = Explainer(run, self.learning.teacher.copy(), self.timeout)
        self.committee: Committee | None = None
        if committee or tta != 1:
            self.set_committee(committee, tta)

    def set_committee(self, members: Sequence[Any], tta: int = 1) -> None:
        """Predict with the committee of the run and the loaded runs ``members`` (the same
        dataset, classes and picture size), each picture's probabilities averaged over
        ``tta`` views (``committee.SHIFTS``); see ``committee_api``. No members and one view:
        the run alone again. ConfigError in one line."""
        committee = Committee(self.run, members, tta, self.predictor.lock)
        alone = len(committee.runs) == 1 and committee.tta == 1
        self.committee = None if alone else committee
        self._model_info = self._describe()
        if self.committee is not None:
            self.committee.describe(self._model_info)

    def _noted(self, answer: dict, what: str) -> dict:
        """``answer`` with a "note" naming the run that made it, in a committee."""
        note = self.committee.note(what) if self.committee else None
        if note:
            answer["note"] = note
        return answer

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
                    source = getattr(self.run, "dataset_spec", None) or self.dataset_name()
                    self._test_set = load_dataset(source, "test", data_dir=self.run.data_dir(),
                                                  download=False)
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

    def post(self, path: str, content_type: str, body: bytes,
             query: dict[str, list[str]]) -> dict:
        """Answer a POST route (the body is whole and within the size limit)."""
        if path == "/api/predict":
            return self.predict(content_type, body)
        if path == "/api/explain":
            return self.explain(content_type, body, query)
        if path == "/api/learn/reset":
            answer = self.learning.reset(self._json_body(content_type, body, '{"token": "..."}'))
        else:
            last = len(self.predictor.classes) - 1
            doc = self._json_body(content_type, body, PIXELS[:-1] + f', "label": 0..{last}}}')
            answer = self.learning.learn(doc, self._pixels(doc))
        return self._noted(answer, "learning on")

    def predict(self, content_type: str, body: bytes) -> dict:
        """Decode a request body (picture, form with a picture, or JSON pixels) and predict;
        ``content_type`` is the whole header (a form's boundary is in it). Bad input -> 4xx.
        A committee's answer: see ``Committee.answer``."""
        image = self.decode(content_type, body)[0]
        answer = self.predictor.predict(image)
        if self.committee is None:
            return answer
        return self.committee.answer(image, answer, self.predictor.classes)

    def explain(self, content_type: str, body: bytes, query: dict[str, list[str]]) -> dict:
        """``POST /api/explain``: a body as for ``predict``; options "target" and "smooth" from
        a JSON body, or from the query string for a picture."""
        image, doc = self.decode(content_type, body)
        if doc is None:
            doc = query_fields(query, ("target", "smooth"))
        target = doc.get("target")
        if target is not None:
            target = int_field(doc, "target", 0, len(self.predictor.classes) - 1)
        smooth = int_field(doc, "smooth", 0, MAX_SMOOTH, default=0)
        return self._noted(self.explainer.explain(image, target, smooth), "explained with")

    def decode(self, content_type: str, body: bytes) -> tuple[np.ndarray, dict | None]:
        """A request body -> (uint8 (28, 28) picture, the JSON object or None for a picture)."""
        if not body:
            raise HTTPError(400, "empty body: send a picture (image/png) or JSON {\"pixels\": [...]}")
        media = content_type.split(";")[0].strip().lower()
        try:
            if media.startswith("image/"):
                return self.decode_picture(body), None
            if media == "multipart/form-data":
                return self.decode_picture(file_from_form(content_type, body).data), None
            if media == "application/json":
                doc = _parse_json(body)
                return self._pixels(doc), doc
            raise HTTPError(415, f"unsupported Content-Type {media or '(none)'!r}: use "
                                 "image/png, multipart/form-data or application/json")
        except (ImageError, FormError) as exc:
            raise HTTPError(400, str(exc)) from exc

    @staticmethod
    def _json_body(content_type: str, body: bytes, expected: str) -> dict:
        """A JSON object body (415 for another Content-Type, 400 for an empty or bad one)."""
        media = content_type.split(";")[0].strip().lower()
        if media != "application/json":
            raise HTTPError(415, f"unsupported Content-Type {media or '(none)'!r}: send "
                                 f"application/json {expected}")
        if not body:
            raise HTTPError(400, f"empty body: send JSON {expected}")
        return parse_object(body, expected)

    def _pixels(self, doc: dict) -> np.ndarray:
        try:
            return parse_pixels(doc.get("pixels"), self.predictor.size)
        except ImageError as exc:
            raise HTTPError(400, str(exc)) from exc

    def decode_picture(self, data: bytes) -> np.ndarray:
        """A picture's bytes -> uint8 (28, 28), at most ``max_decoding`` at once."""
        if not self._decoding.acquire(timeout=self.timeout):
            raise HTTPError(503, "busy preprocessing other pictures, retry later",
                            {"Retry-After": "1"})
        try:
            return _decode_picture(data, self.log, self.predictor.style, self.predictor.size)
        finally:
            self._decoding.release()


def _decode_picture(body: bytes, log: Callable[[str], None] | None, style: str = "digit",
                    size: int = 28) -> np.ndarray:
    """A picture's bytes -> uint8 (size, size) in the dataset's picture ``style``; anything the
    decoder chokes on is the client's fault."""
    try:
        return png_to_mnist(body, style, size)
    except ImageError:
        raise
    except Exception as exc:  # image decoders raise many types on hostile input
        if log is not None:
            log(f"picture rejected: {type(exc).__name__}: {exc}")
        raise ImageError(f"upload: not a readable picture ({type(exc).__name__})") from exc


def _parse_json(body: bytes) -> dict:
    """A JSON object with a "pixels" key, or HTTPError 400 (NaN/Infinity literals refused)."""
    doc = parse_object(body, PIXELS)
    if "pixels" not in doc:
        raise HTTPError(400, f"bad JSON: expected an object {PIXELS}")
    return doc
