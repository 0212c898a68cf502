"""The one error type of the server's routes: a status, a one-line message, maybe headers."""
from __future__ import annotations


class HTTPError(Exception):
    """An error answered as JSON ``{"error": message}`` with ``status``."""

    def __init__(self, status: int, message: str, headers: dict[str, str] | None = None) -> None:
        super().__init__(message)
        self.status, self.message, self.headers = status, message, headers or {}
