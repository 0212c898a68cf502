"""The HTTP server of ``barenet serve``: one page and a small JSON API, standard library only.

Routes::

    GET  /                 the drawing page (static files come from the package)
    GET  /static/<file>    its script and style sheet
    GET  /api/model        the loaded network: layers, parameter counts, dataset, classes, accuracy
    GET  /api/weights      the first layer's weights as small images (see ``Predictor.weights``)
    GET  /api/sample       a random test image: {"index", "label", "label_name", "pixels": 784 ints}
                           (``?index=N`` picks one)
    POST /api/predict      body ``image/*`` (any picture, preprocessed like ``barenet predict``) or
                           JSON {"pixels": 784 numbers in 0..255, MNIST-style} ->
                           {"prediction", "label", "probabilities", "input", "activations"}

Every error is JSON ``{"error": "..."}`` with a 4xx status; bodies over ``max_body`` bytes get a
413 without being read; slow clients time out instead of holding a thread.
"""
from __future__ import annotations

import json
import socket
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

import numpy as np

from .. import __version__
from ..errors import BarenetError, ImageError
from .inference import Predictor, parse_pixels, png_to_mnist

STATIC_DIR = Path(__file__).parent / "static"
STATIC_TYPES = {".html": "text/html; charset=utf-8", ".js": "text/javascript; charset=utf-8",
                ".css": "text/css; charset=utf-8", ".png": "image/png", ".svg": "image/svg+xml"}
MAX_BODY = 2 * 1024 * 1024
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'")


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
        self._rng = np.random.default_rng(seed)
        self._rng_lock = threading.Lock()
        self._test_set: Any = None
        self._test_lock = threading.Lock()
        self._weights = self.predictor.weights()
        self._model_info = self._describe()

    def _describe(self) -> dict:
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
        config = getattr(self.run, "config", {}) or {}
        name = getattr(self.run, "dataset", None) or config.get("dataset") or "mnist"
        return name if isinstance(name, str) else getattr(name, "name", "mnist")

    def model_info(self) -> dict:
        return self._model_info

    def weights(self) -> dict:
        if self._weights is None:
            raise HTTPError(404, "the first layer has no weights that can be drawn as images")
        return self._weights

    def test_set(self) -> Any:
        """The run's test split, loaded on first use (never downloaded by the server)."""
        with self._test_lock:
            if self._test_set is None:
                from ..data.datasets import load_dataset

                config = getattr(self.run, "config", {}) or {}
                data_dir = (config.get("hyperparameters") or {}).get("data_dir")
                try:
                    self._test_set = load_dataset(self.dataset_name(), "test",
                                                  data_dir=data_dir, download=False)
                except BarenetError as exc:
                    raise HTTPError(503, f"test set not available: {exc}") from exc
            return self._test_set

    def sample(self, query: dict[str, list[str]]) -> dict:
        ds = self.test_set()
        n = len(ds.labels)
        if "index" in query:
            try:
                i = int(query["index"][0])
            except ValueError:
                raise HTTPError(400, f"index must be an integer, got {query['index'][0][:20]!r}")
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
    try:
        doc = json.loads(body.decode("utf-8"), parse_constant=_reject_constant)
    except UnicodeDecodeError:
        raise HTTPError(400, "bad JSON: the body is not UTF-8") from None
    except (json.JSONDecodeError, RecursionError) as exc:
        raise HTTPError(400, f"bad JSON: {str(exc)[:120]}") from None
    if not isinstance(doc, dict) or "pixels" not in doc:
        raise HTTPError(400, "bad JSON: expected an object {\"pixels\": [784 numbers in 0..255]}")
    return doc


class Handler(BaseHTTPRequestHandler):
    """One request: route, answer JSON or a static file; every failure becomes a JSON error."""

    protocol_version = "HTTP/1.1"
    server_version = f"barenet/{__version__}"
    sys_version = ""
    GET_ROUTES = {"/", "/index.html", "/api/model", "/api/weights", "/api/sample"}
    POST_ROUTES = {"/api/predict"}

    @property
    def app(self) -> App:
        return self.server.app  # type: ignore[attr-defined]

    def setup(self) -> None:
        self.timeout = self.app.timeout  # seconds a client may stay silent (socket timeout)
        super().setup()

    # -- answering ----------------------------------------------------------------------------
    def _send(self, status: int, body: bytes, content_type: str,
              headers: dict[str, str] | None = None) -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("Cache-Control", "no-store")
        self.send_header("X-Content-Type-Options", "nosniff")
        if content_type.startswith("text/html"):
            self.send_header("Content-Security-Policy", CSP)
        for k, v in (headers or {}).items():
            self.send_header(k, v)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        if self.command != "HEAD":
            self.wfile.write(body)

    def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        body = json.dumps(doc, allow_nan=False, separators=(",", ":")).encode()
        self._send(status, body, "application/json", headers)

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """http.server's own errors (bad request line, unknown method ...) as JSON too."""
        self.close_connection = True
        try:
            phrase = HTTPStatus(code).phrase
        except ValueError:
            phrase = "error"
        headers = {}
        if code == 501:  # a method without a do_* handler
            code, message = 405, f"method {str(self.command)[:20]!r} not allowed"
            headers = {"Allow": "GET, HEAD, POST"}
        self._json(code, {"error": message or phrase}, headers)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (http.server's name)
        if self.app.log is not None:
            self.app.log(f"{self.address_string()} {format % args}")

    # -- routing ------------------------------------------------------------------------------
    def _handle(self, method: str) -> None:
        self._body_read = False
        if self.headers.get("Content-Length", "0").strip() != "0" or \
                "Transfer-Encoding" in self.headers:
            self.close_connection = True  # unless the body is read, it must not be taken
            # for the next request on this connection; _read_body reopens keep-alive
        try:
            url = urlsplit(self.path)
            path = url.path
            if method in ("GET", "HEAD"):
                self._get(path, parse_qs(url.query))
            elif method == "POST" and path in self.POST_ROUTES:
                self._json(200, self.app.predict(*self._read_body()))
            elif path in self.POST_ROUTES:
                raise HTTPError(405, f"{method} not allowed on {path}: use POST", {"Allow": "POST"})
            elif path in self.GET_ROUTES or self._static_name(path):
                raise HTTPError(405, f"{method} not allowed on {path}", {"Allow": "GET, HEAD"})
            else:
                raise HTTPError(404, f"no such route: {method} {path[:80]}")
        except HTTPError as exc:
            if exc.status >= 500 and self.app.log is not None:
                self.app.log(f"error {exc.status}: {exc.message}")
            self._json(exc.status, {"error": exc.message}, exc.headers)
        except (ConnectionError, socket.timeout):
            self.close_connection = True
        except Exception as exc:  # never let one request take the server down
            if self.app.log is not None:
                self.app.log("internal error:\n" + traceback.format_exc())
            self.close_connection = True
            self._json(500, {"error": f"internal error: {type(exc).__name__}"})

    def _static_name(self, path: str) -> str | None:
        if path in ("/", "/index.html"):
            return "index.html"
        if path.startswith("/static/") and path[8:] in self.app.static:
            return path[8:]
        return None

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        if path == "/api/model":
            return self._json(200, self.app.model_info())
        if path == "/api/weights":
            return self._json(200, self.app.weights())
        if path == "/api/sample":
            return self._json(200, self.app.sample(query))
        if path in self.POST_ROUTES:
            raise HTTPError(405, f"{self.command} not allowed on {path}: use POST",
                            {"Allow": "POST"})
        name = self._static_name(path)
        if name is None:
            raise HTTPError(404, f"no such route: GET {path[:80]}")
        file = self.app.static[name]
        self._send(200, file.read_bytes(), STATIC_TYPES[file.suffix])

    def _read_body(self) -> tuple[str, bytes]:
        """(media type, body) of a POST, enforcing the size limit before reading anything."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            raise HTTPError(411, "chunked bodies are not supported: send a Content-Length")
        length = self.headers.get("Content-Length")
        if length is None:
            self.close_connection = True
            raise HTTPError(411, "Content-Length required")
        try:
            n = int(length)
            if n < 0:
                raise ValueError
        except ValueError:
            self.close_connection = True
            raise HTTPError(400, f"bad Content-Length {length[:20]!r}") from None
        if n > self.app.max_body:
            self.close_connection = True  # the unread body must not be parsed as a request
            raise HTTPError(413, f"body of {n} bytes is over the limit of {self.app.max_body} bytes")
        try:
            body = self.rfile.read(n) if n else b""
        except TimeoutError:
            raise HTTPError(408, f"request timed out after {self.app.timeout:g} s "
                                 "waiting for the body") from None
        if len(body) < n:
            raise HTTPError(400, f"body ended after {len(body)} of {n} bytes")
        self.close_connection = self._keep_alive_wanted()
        media = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return media, body

    def _keep_alive_wanted(self) -> bool:
        """True if the connection should close after this answer (as http.server decides)."""
        conn = self.headers.get("Connection", "").lower()
        return conn == "close" or (self.request_version != "HTTP/1.1" and conn != "keep-alive")

    def do_GET(self) -> None:  # noqa: N802 (http.server's names)
        self._handle("GET")

    def do_HEAD(self) -> None:  # noqa: N802
        self._handle("HEAD")

    def do_POST(self) -> None:  # noqa: N802
        self._handle("POST")

    def do_PUT(self) -> None:  # noqa: N802
        self._handle("PUT")

    def do_DELETE(self) -> None:  # noqa: N802
        self._handle("DELETE")

    def do_PATCH(self) -> None:  # noqa: N802
        self._handle("PATCH")

    def do_OPTIONS(self) -> None:  # noqa: N802
        self._handle("OPTIONS")


class Server(ThreadingHTTPServer):
    """A threading HTTP server holding an ``App``; IPv6 when the host contains ':'."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: App) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        super().__init__(address, Handler)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"


def make_server(run: Any, host: str = "127.0.0.1", port: int = 8000, *,
                max_body: int = MAX_BODY, log: Callable[[str], None] | None = None,
                seed: int | None = None, timeout: float = 15.0) -> Server:
    """A ready-to-start server for a loaded run; ``port=0`` picks a free port (see ``.url``).
    ``timeout``: seconds a connection may stay silent before it is closed; ``seed``: for
    ``/api/sample``. Call ``serve_forever()`` (blocks), then ``shutdown()`` from another thread
    and ``server_close()``."""
    app = App(run, max_body=max_body, log=log, seed=seed, timeout=timeout)
    return Server((host, int(port)), app)
