"""One HTTP exchange of ``barenet serve``: read a request against its deadline, check its
framing and Host, route it to the ``App``, answer JSON or a static file.

Hardening: every request must arrive whole within ``App.timeout`` seconds (a deadline, not a
per-read timeout, see ``connections``; 408 while a body is awaited); bodies over
``App.max_body`` bytes get a 413 before anything is read (also on ``Expect: 100-continue``);
ambiguous framing (two Content-Lengths, Content-Length with Transfer-Encoding, anything but
digits) is a 400 and closes the connection, and so does any unread body, so no body is ever
parsed as a request; the ``Host`` header must name this server (``hosts``); every error,
http.server's own included, is JSON ``{"error": "..."}``; an unexpected exception is a 500 for
that request only.

``BaseHandler`` is that plumbing with the page's static files as its only routes; ``Handler``
adds the routes of ``barenet serve``. Another server (``barenet board``) subclasses
``BaseHandler`` with its own ``GET_ROUTES``, ``_get`` and ``COMMAND``; its app needs only
``timeout``, ``max_body``, ``log`` and ``static`` (file name -> path).
"""
from __future__ import annotations

import io
import re
import socket
import time
import traceback
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs, urlsplit

from .. import __version__
from ..train.fileio import dumps_strict
from .app import STATIC_TYPES, App
from .connections import DeadlineReader
from .errors import HTTPError

_DIGITS = re.compile(r"[0-9]{1,18}")  # a Content-Length: plain digits, no sign, no "_"
CSP = ("default-src 'self'; img-src 'self' data: blob:; style-src 'self'; script-src 'self'; "
       "connect-src 'self'; frame-ancestors 'none'")


class BaseHandler(BaseHTTPRequestHandler):
    """One request: route, answer JSON or a static file; every failure becomes a JSON error.
    Subclasses add routes (``GET_ROUTES``, ``POST_ROUTES``, ``_get``); ``COMMAND`` names the
    command in the Host error's hint."""

    protocol_version = "HTTP/1.1"
    server_version = f"barenet/{__version__}"
    GET_ROUTES: set[str] = {"/", "/index.html", "/favicon.ico"}
    POST_ROUTES: set[str] = set()
    COMMAND = "barenet serve"

    @property
    def app(self) -> Any:
        return self.server.app  # type: ignore[attr-defined]

    def version_string(self) -> str:
        return self.server_version

    def setup(self) -> None:
        self.timeout = self.app.timeout  # for writing an answer (socket timeout)
        super().setup()
        self.rfile.close()  # the socket's own reader, replaced by one with a deadline
        self._reader = DeadlineReader(self.connection)
        self.rfile = io.BufferedReader(self._reader)

    def handle_one_request(self) -> None:
        """Wait for a request and answer it, the whole request due within ``App.timeout``."""
        if not self.server.slots.reading(self.connection):  # type: ignore[attr-defined]
            self.close_connection = True  # closed to make room for another connection
            return
        self._reader.deadline = time.monotonic() + self.app.timeout
        super().handle_one_request()

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
        try:
            self.connection.settimeout(self.app.timeout)  # reads left it at what was left
            self.end_headers()
            if self.command != "HEAD":
                self.wfile.write(body)
        except OSError as exc:  # gone, too slow to take the answer, or closed while stopping
            raise ConnectionAbortedError(f"answer not sent: {exc}") from None

    def _json(self, status: int, doc: Any, headers: dict[str, str] | None = None) -> None:
        body = dumps_strict(doc, separators=(",", ":")).encode()   # NaN as null, never NaN
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
        self.close_connection = True  # until the body is read: it must never pass for a request
        try:
            length = self._framing()
            self._check_host()
            url = urlsplit(self.path)
            path = url.path
            body = self._read_body(length) if method == "POST" and path in self.POST_ROUTES \
                else None
            if not self.server.slots.working(self.connection):  # type: ignore[attr-defined]
                raise ConnectionAbortedError("closed to make room for another connection")
            if not length or body is not None:  # nothing left unread
                self.close_connection = self._client_wants_close()
            if method in ("GET", "HEAD"):
                self._get(path, parse_qs(url.query))
            elif body is not None:
                self._json(200, self.app.post(path, self.headers.get("Content-Type", ""), body,
                                              parse_qs(url.query)))
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

    def _framing(self) -> int | None:
        """The body's length from an unambiguous Content-Length (None when there is none);
        anything a proxy could read differently is a 400 (the connection then closes)."""
        lengths = self.headers.get_all("Content-Length") or []
        if len(lengths) > 1:
            raise HTTPError(400, f"{len(lengths)} Content-Length headers: send exactly one")
        if "Transfer-Encoding" in self.headers:
            if lengths:
                raise HTTPError(400, "both Content-Length and Transfer-Encoding: send only one")
            raise HTTPError(411, "chunked bodies are not supported: send a Content-Length")
        if not lengths:
            return None
        if not _DIGITS.fullmatch(lengths[0].strip()):
            raise HTTPError(400, f"bad Content-Length {lengths[0][:20]!r}: expected digits")
        return int(lengths[0].strip())

    def _check_host(self) -> None:
        """403 unless the Host header names this server (see ``hosts``)."""
        hosts = self.headers.get_all("Host") or []
        if len(hosts) > 1:
            raise HTTPError(400, f"{len(hosts)} Host headers: send exactly one")
        if not hosts:
            if self.request_version == "HTTP/1.1":
                raise HTTPError(400, "Host header required in HTTP/1.1")
            return
        if not self.server.hosts.allowed(hosts[0]):  # type: ignore[attr-defined]
            raise HTTPError(403, f"Host {hosts[0][:80]!r} is not allowed: this server answers to "
                                 f"localhost and its own address ({self.COMMAND} --allow-host "
                                 "NAME adds a name)")

    def _static_name(self, path: str) -> str | None:
        if path in ("/", "/index.html"):
            return "index.html"
        if path == "/favicon.ico":
            return "favicon.png"
        if path.startswith("/static/") and path[8:] in self.app.static:
            return path[8:]
        return None

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        """A static file (a subclass answers its own GET routes first, then calls this)."""
        if path in self.POST_ROUTES:
            raise HTTPError(405, f"{self.command} not allowed on {path}: use POST",
                            {"Allow": "POST"})
        name = self._static_name(path)
        if name is None:
            raise HTTPError(404, f"no such route: GET {path[:80]}")
        file = self.app.static[name]
        self._send(200, file.read_bytes(), STATIC_TYPES[file.suffix])

    def _read_body(self, length: int | None) -> bytes:
        """A POST's body, enforcing the size limit before reading anything."""
        if length is None:
            raise HTTPError(411, "Content-Length required")
        if length > self.app.max_body:
            raise HTTPError(413, f"body of {length} bytes is over the limit of "
                                 f"{self.app.max_body} bytes")
        try:
            body = self.rfile.read(length) if length else b""
        except TimeoutError:
            raise HTTPError(408, f"request timed out: not all of it arrived within "
                                 f"{self.app.timeout:g} s") from None
        except OSError as exc:
            raise ConnectionAbortedError(f"body not read: {exc}") from None
        if len(body) < length:
            raise HTTPError(400, f"body ended after {len(body)} of {length} bytes")
        return body

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


class Handler(BaseHandler):
    """The routes of ``barenet serve`` (see ``app``)."""

    GET_ROUTES = BaseHandler.GET_ROUTES | {"/api/model", "/api/weights", "/api/sample"}
    POST_ROUTES = {"/api/predict", "/api/explain", "/api/learn", "/api/learn/reset"}

    @property
    def app(self) -> App:
        return self.server.app  # type: ignore[attr-defined]

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        if path == "/api/model":
            return self._json(200, self.app.model_info())
        if path == "/api/weights":
            return self._json(200, self.app.weights())
        if path == "/api/sample":
            return self._json(200, self.app.sample(query))
        return super()._get(path, query)
