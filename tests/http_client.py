"""A minimal HTTP client for the servers the tests start (serve, board): one request per
connection, JSON bodies decoded strictly (NaN and Infinity are errors: the servers never
send them)."""
from __future__ import annotations

import contextlib
import http.client
import json
import threading
from typing import Any, Iterator


def strict_json(data: bytes) -> Any:
    """JSON as a strict parser reads it: NaN and Infinity are errors."""
    def refuse(name: str) -> None:
        raise ValueError(f"{name} in JSON")
    return json.loads(data, parse_constant=refuse)


class HTTPClient:
    """(status, headers, JSON or bytes) for one request to ``host:port``."""

    def __init__(self, host: str, port: int) -> None:
        self.host, self.port = host, port

    def request(self, method: str, path: str, body: bytes | None = None,
                headers: dict[str, str] | None = None) -> tuple[int, dict[str, str], Any]:
        conn = http.client.HTTPConnection(self.host, self.port, timeout=20)
        try:
            conn.request(method, path, body=body, headers=headers or {})
            res = conn.getresponse()
            data = res.read()
            hdrs = {k.lower(): v for k, v in res.getheaders()}
        finally:
            conn.close()
        if hdrs.get("content-type", "").startswith("application/json"):
            return res.status, hdrs, strict_json(data)
        return res.status, hdrs, data

    def get(self, path: str) -> tuple[int, Any]:
        status, _, doc = self.request("GET", path)
        return status, doc


@contextlib.contextmanager
def running(srv: Any) -> Iterator[Any]:
    """Serve ``srv`` from a thread for the duration of the block, then shut it down."""
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05},
                              daemon=True)
    thread.start()
    try:
        yield srv
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
