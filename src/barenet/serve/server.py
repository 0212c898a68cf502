"""The HTTP side of ``barenet serve``: a threading ``http.server`` that routes requests to an
``App`` and answers JSON. Standard library only.

Hardening: bodies over ``App.max_body`` bytes get a 413 before anything is read (also on
``Expect: 100-continue``); a client silent for ``App.timeout`` seconds is dropped (408 while a
body is awaited); an unread body closes the connection so it is never parsed as a request;
every error, http.server's own included, is JSON ``{"error": "..."}``; an unexpected exception
is a 500 for that request only.
"""
from __future__ import annotations

import json
import socket
import threading
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Callable
from urllib.parse import parse_qs, urlsplit

from .. import __version__
from .app import MAX_BODY, STATIC_TYPES, App, HTTPError

CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'")


class Handler(BaseHTTPRequestHandler):
    """One request: route, answer JSON or a static file; every failure becomes a JSON error."""

    protocol_version = "HTTP/1.1"
    server_version = f"barenet/{__version__}"
    GET_ROUTES = {"/", "/index.html", "/api/model", "/api/weights", "/api/sample"}
    POST_ROUTES = {"/api/predict"}

    @property
    def app(self) -> App:
        return self.server.app  # type: ignore[attr-defined]

    def version_string(self) -> str:
        return self.server_version

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
        self.close_connection = self._client_wants_close()
        media = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        return media, body

    def _client_wants_close(self) -> bool:
        """Whether the client asked for the connection to close after this answer."""
        conn = self.headers.get("Connection", "").lower()
        return conn == "close" or (self.request_version != "HTTP/1.1" and conn != "keep-alive")

    def handle_expect_100(self) -> bool:
        """Refuse an announced oversized body before the client sends it."""
        try:
            too_big = int(self.headers.get("Content-Length", "0")) > self.app.max_body
        except ValueError:
            too_big = False
        if too_big:
            self.close_connection = True
            self._json(413, {"error": f"body over the limit of {self.app.max_body} bytes"})
            return False
        return super().handle_expect_100()

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


BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        b"Content-Length: 45\r\nConnection: close\r\n\r\n"
        b'{"error":"too many connections, retry later"}')


class Server(ThreadingHTTPServer):
    """A threading HTTP server holding an ``App``: one thread per connection, at most
    ``max_connections`` at once (more get a 503 and are closed); IPv6 when the host has ':'."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: App, max_connections: int = 64) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self._slots = threading.BoundedSemaphore(max_connections)
        super().__init__(address, Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self._slots.acquire(blocking=False):
            try:
                request.settimeout(1.0)
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)
        except BaseException:
            self._slots.release()
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self._slots.release()

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"


def make_server(run: Any, host: str = "127.0.0.1", port: int = 8000, *,
                max_body: int = MAX_BODY, log: Callable[[str], None] | None = None,
                seed: int | None = None, timeout: float = 15.0,
                max_connections: int = 64) -> Server:
    """A ready-to-start server for a loaded run; ``port=0`` picks a free port (see ``.url``).
    ``timeout``: seconds a connection may stay silent before it is closed; ``seed``: for
    ``/api/sample``. Call ``serve_forever()`` (blocks), then ``shutdown()`` from another thread
    and ``server_close()``."""
    app = App(run, max_body=max_body, log=log, seed=seed, timeout=timeout)
    return Server((host, int(port)), app, max_connections=max_connections)
