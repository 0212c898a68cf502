"""The server's connections: a deadline for each whole request, and a bounded set of slots in
which a client that is slow to send its request gives way to a new one.

A per-read timeout does not stop a client that sends one byte a second: each read succeeds.
``DeadlineReader`` reads a socket against one deadline for the whole request (request line,
headers and body), so a request that has not fully arrived ``timeout`` seconds after the
server started waiting for it is dropped. ``Slots`` caps the open connections; when they are all
taken, the one that has been waiting longest for its request (at least ``grace`` seconds) is
closed to make room, so slow or idle clients cannot lock everyone else out.
"""
from __future__ import annotations

import io
import socket
import threading
import time
from typing import Any

READING, WORKING, GONE = "reading", "working", "gone"


class DeadlineReader(io.RawIOBase):
    """A socket's receiving side that raises ``TimeoutError`` once ``deadline`` (a
    ``time.monotonic()`` value) has passed, however the bytes trickle in. Wrap it in
    ``io.BufferedReader`` for ``readline``."""

    def __init__(self, sock: socket.socket) -> None:
        super().__init__()
        self.sock = sock
        self.deadline = float("inf")

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        left = self.deadline - time.monotonic()
        if left <= 0:
            raise TimeoutError("request deadline passed")
        self.sock.settimeout(left)
        return self.sock.recv_into(buffer)


class Slot:
    """One connection's place: what it is doing, and since when."""

    __slots__ = ("state", "since")

    def __init__(self) -> None:
        self.state, self.since = READING, time.monotonic()


class Slots:
    """At most ``limit`` open connections, each known by its socket. ``take`` gives a new one a
    slot, closing the connection that has waited longest for its request if all are taken
    (False when every one is working or has waited less than ``grace`` seconds). A handler
    calls ``reading`` when it starts waiting for a request, ``working`` once the request is in
    (from then on it is never closed to make room) and ``free`` when done; ``free`` may be
    called more than once."""

    def __init__(self, limit: int, grace: float = 1.0) -> None:
        if limit < 1:
            raise ValueError(f"max_connections must be at least 1, got {limit}")
        self.limit, self.grace = int(limit), float(grace)
        self._slots: dict[socket.socket, Slot] = {}
        self._cond = threading.Condition()

    def __len__(self) -> int:
        return len(self._slots)

    def take(self, sock: socket.socket) -> bool:
        with self._cond:
            if len(self._slots) >= self.limit and not self._make_room():
                return False
            self._slots[sock] = Slot()
            return True

    def _make_room(self) -> bool:
        """Close the connection waiting longest for its request; the caller holds the lock."""
        now = time.monotonic()
        waiting = [(slot.since, sock) for sock, slot in self._slots.items()
                   if slot.state == READING and now - slot.since >= self.grace]
        if not waiting:
            return False
        victim = min(waiting, key=lambda pair: pair[0])[1]
        self._slots.pop(victim).state = GONE
        _hang_up(victim)  # its handler's read returns at once
        return True

    def _set(self, sock: socket.socket, state: str) -> bool:
        with self._cond:
            slot = self._slots.get(sock)
            if slot is None or slot.state == GONE:
                return False
            slot.state, slot.since = state, time.monotonic()
            return True

    def reading(self, sock: socket.socket) -> bool:
        """The connection waits for (or reads) its next request; False if it was closed."""
        return self._set(sock, READING)

    def working(self, sock: socket.socket) -> bool:
        """The request is in; False if the connection was closed to make room meanwhile."""
        return self._set(sock, WORKING)

    def free(self, sock: socket.socket) -> None:
        with self._cond:
            if self._slots.pop(sock, None) is not None:
                self._cond.notify_all()

    def close_all(self, wait: float = 1.0) -> None:
        """Hang up every connection and wait up to ``wait`` seconds for their handlers to end."""
        end = time.monotonic() + wait
        with self._cond:
            for sock in list(self._slots):
                _hang_up(sock)
            while self._slots and (left := end - time.monotonic()) > 0:
                self._cond.wait(left)


def _hang_up(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:  # already closed
        pass
