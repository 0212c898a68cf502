"""The server of ``barenet serve``: a threading ``http.server`` holding an ``App``, one
``handler.Handler`` per connection. Standard library only. ``barenet board`` runs the same
server with its own app and handler class (a ``handler.BaseHandler``).

At most ``max_connections`` connections at once; when all are taken, the one waiting longest
for its request makes room (``connections.Slots``), else the newcomer gets a 503. Only Host
names ``hosts.HostCheck`` allows are answered. ``server_close`` hangs up every connection, so
one Ctrl-C (or SIGTERM) stops ``barenet serve`` at once, however busy it is.
"""
from __future__ import annotations

import socket
import sys
from http.server import ThreadingHTTPServer
from typing import Any, Callable

from .app import MAX_BODY, App
from .connections import Slots
from .handler import BaseHandler, Handler
from .hosts import HostCheck

BUSY = (b"HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
        b"Content-Length: 45\r\nConnection: close\r\n\r\n"
        b'{"error":"too many connections, retry later"}')


class Server(ThreadingHTTPServer):
    """A threading HTTP server holding an ``App``: one thread per connection, at most
    ``max_connections`` at once (see ``connections.Slots``; a new connection that finds no
    room gets a 503); IPv6 when the host has ':'; answers to the names ``hosts`` allows.
    ``handler``: the request handler class (another server's app goes with its own)."""

    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 64

    def __init__(self, address: tuple[str, int], app: App | Any, max_connections: int = 64,
                 allow_hosts: list[str] | tuple[str, ...] = (),
                 handler: type[BaseHandler] = Handler) -> None:
        if ":" in address[0]:
            self.address_family = socket.AF_INET6
        self.app = app
        self.slots = Slots(max_connections)
        self._closing = False
        super().__init__(address, handler)
        self.hosts = HostCheck([address[0], self.server_address[0]], allow_hosts)

    def process_request(self, request: Any, client_address: Any) -> None:
        if not self.slots.take(request):
            try:
                request.settimeout(1.0)
                request.sendall(BUSY)
            except OSError:
                pass
            self.shutdown_request(request)
            return
        try:
            super().process_request(request, client_address)  # starts its thread
        except BaseException:
            self.slots.free(request)  # a no-op if its thread has already freed it
            raise

    def process_request_thread(self, request: Any, client_address: Any) -> None:
        try:
            super().process_request_thread(request, client_address)
        finally:
            self.slots.free(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        """An exception a handler let through: one log line (socketserver would print a
        traceback); nothing for a dropped connection or while closing."""
        exc = sys.exc_info()[1]
        if self._closing or isinstance(exc, OSError) or self.app.log is None:
            return
        self.app.log(f"error: {type(exc).__name__}: {str(exc)[:200]}")

    def server_close(self) -> None:
        """Stop listening, hang up every connection and give their threads a second to end."""
        self._closing = True
        super().server_close()
        self.slots.close_all(wait=1.0)

    @property
    def url(self) -> str:
        host, port = self.server_address[:2]
        host = f"[{host}]" if ":" in host else host
        return f"http://{host}:{port}/"


def make_server(run: Any, host: str = "127.0.0.1", port: int = 8000, *,
                max_body: int = MAX_BODY, log: Callable[[str], None] | None = None,
                seed: int | None = None, timeout: float = 15.0, max_connections: int = 64,
                allow_hosts: list[str] | tuple[str, ...] = (), max_decoding: int = 2,
                max_sessions: int = 32, max_session_bytes: int = 256 * 2**20,
                session_ttl: float = 900.0, max_learning: int = 2) -> Server:
    """A ready-to-start server for a loaded run; ``port=0`` picks a free port (see ``.url``).
    ``timeout``: seconds a request may take to arrive whole (and an answer to leave);
    ``allow_hosts``: Host names answered besides loopback names and the listening address
    (``"*"``: any); ``max_decoding``: pictures preprocessed at once; ``seed``: for
    ``/api/sample``; ``max_sessions``, ``max_session_bytes``, ``session_ttl`` (seconds idle):
    bounds on the learning sessions, ``max_learning``: learning calls run at once. Call
    ``serve_forever()`` (blocks), then ``shutdown()`` from another thread and
    ``server_close()``."""
    app = App(run, max_body=max_body, log=log, seed=seed, timeout=timeout,
              max_decoding=max_decoding, max_sessions=max_sessions,
              max_session_bytes=max_session_bytes, session_ttl=session_ttl,
              max_learning=max_learning)
    return Server((host, int(port)), app, max_connections=max_connections,
                  allow_hosts=allow_hosts)
