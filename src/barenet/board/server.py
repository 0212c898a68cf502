"""The HTTP side of ``barenet board``: ``barenet serve``'s hardened server (connection slots,
request deadlines, the Host check, JSON errors; see ``serve.server`` and ``serve.handler``)
with the board's routes (``app``)."""
from __future__ import annotations

from pathlib import Path
from typing import Callable

from ..serve.handler import BaseHandler
from ..serve.server import Server
from .app import BoardApp


class BoardHandler(BaseHandler):
    """The board's GET routes; everything else is ``BaseHandler``'s."""

    GET_ROUTES = BaseHandler.GET_ROUTES | {"/api/runs", "/api/curves", "/api/figure"}
    COMMAND = "barenet board"

    @property
    def app(self) -> BoardApp:
        return self.server.app  # type: ignore[attr-defined]

    def _get(self, path: str, query: dict[str, list[str]]) -> None:
        if path == "/api/runs":
            return self._json(200, self.app.runs())
        if path == "/api/curves":
            return self._json(200, self.app.curves(query))
        if path == "/api/figure":
            return self._send(200, self.app.figure(query), "image/png")
        return super()._get(path, query)


def make_board_server(root: str | Path, host: str = "127.0.0.1", port: int = 6006, *,
                      log: Callable[[str], None] | None = None, timeout: float = 15.0,
                      max_connections: int = 64, allow_hosts: list[str] | tuple[str, ...] = (),
                      refresh: float = 3.0) -> Server:
    """A ready-to-start board for the runs in folder ``root``; ``port=0`` picks a free port
    (see ``.url``). ``timeout``: seconds a request may take to arrive whole (and an answer to
    leave); ``allow_hosts``: Host names answered besides loopback names and the listening
    address (``"*"``: any); ``refresh``: seconds between the page's polls. Call
    ``serve_forever()``, then ``shutdown()`` from another thread and ``server_close()``."""
    app = BoardApp(root, timeout=timeout, log=log, refresh=refresh)
    return Server((host, int(port)), app, max_connections=max_connections,
                  allow_hosts=allow_hosts, handler=BoardHandler)


__all__ = ["BoardHandler", "make_board_server"]
