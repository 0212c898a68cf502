"""Learning sessions: each page that teaches gets a private copy of the model, known by a token.

A copy costs about twice the model's parameters (values and gradients) plus its buffers, so the
store is bounded three ways: at most ``max_sessions`` copies, at most ``max_bytes`` bytes in all,
and a copy idle for ``ttl`` seconds expires. Making room drops the session idle longest first.
The run's own model is never handed out: a session's copy is built fresh and loaded from it.
"""
from __future__ import annotations

import secrets
import threading
import time
from collections import OrderedDict
from typing import Callable

import numpy as np

from ..nn.module import Module


def model_bytes(model: Module) -> int:
    """Bytes a model copy holds: every parameter's values and gradient, and every buffer."""
    total = 0
    for p in model.parameters():
        total += p.data.nbytes + (p.grad.nbytes if p.grad is not None else p.data.nbytes)
    return total + sum(np.asarray(b).nbytes for b in model.buffers())


def new_token() -> str:
    """A fresh unguessable session token: 24 URL-safe characters (144 random bits)."""
    return secrets.token_urlsafe(18)


class Session:
    """One page's private model copy: ``model`` (eval mode), ``steps`` taken so far,
    ``accuracy`` on the test subset after the last step (None: unknown or never measured),
    ``lock`` (one learning call at a time), ``used`` (a ``clock`` time) and ``nbytes``."""

    def __init__(self, token: str, model: Module, now: float) -> None:
        self.token, self.model = token, model
        self.steps = 0
        self.accuracy: float | None = None
        self.lock = threading.Lock()
        self.created = self.used = now
        self.nbytes = model_bytes(model)


class SessionStore:
    """Sessions by token, least recently used first. ``make()`` builds a model copy (outside
    the store's lock); ``create`` makes room for it by dropping expired sessions, then the ones
    idle longest, until both the count and the byte limits hold. ``clock`` gives seconds
    (``time.monotonic``; tests pass their own)."""

    def __init__(self, make: Callable[[], Module], max_sessions: int = 32,
                 max_bytes: int = 256 * 2**20, ttl: float = 900.0,
                 clock: Callable[[], float] = time.monotonic) -> None:
        if max_sessions < 1:
            raise ValueError(f"max_sessions must be at least 1, got {max_sessions}")
        if not ttl > 0:
            raise ValueError(f"session ttl must be positive seconds, got {ttl}")
        self.make, self.clock = make, clock
        self.max_sessions, self.max_bytes, self.ttl = int(max_sessions), int(max_bytes), float(ttl)
        self._sessions: OrderedDict[str, Session] = OrderedDict()
        self._lock = threading.Lock()
        self.dropped = 0   # sessions dropped to make room (expired ones are not counted)

    def __len__(self) -> int:
        with self._lock:
            return len(self._sessions)

    @property
    def nbytes(self) -> int:
        """Bytes held by the model copies of the sessions in the store."""
        with self._lock:
            return sum(s.nbytes for s in self._sessions.values())

    def _expire(self, now: float) -> None:
        """Drop sessions idle for ``ttl`` seconds or more; the caller holds the lock."""
        while self._sessions:
            token, oldest = next(iter(self._sessions.items()))
            if now - oldest.used < self.ttl:
                return
            del self._sessions[token]

    def create(self) -> Session:
        """A new session with a fresh model copy. ValueError if one copy alone is over
        ``max_bytes``."""
        model = self.make()
        now = self.clock()
        session = Session(new_token(), model, now)
        if session.nbytes > self.max_bytes:
            raise ValueError(f"a model copy takes {session.nbytes} bytes, over the session "
                             f"memory limit of {self.max_bytes} bytes")
        with self._lock:
            self._expire(now)
            held = sum(s.nbytes for s in self._sessions.values())
            while self._sessions and (len(self._sessions) >= self.max_sessions
                                      or held + session.nbytes > self.max_bytes):
                _, victim = self._sessions.popitem(last=False)
                held -= victim.nbytes
                self.dropped += 1
            self._sessions[session.token] = session
        return session

    def get(self, token: str) -> Session | None:
        """The live session of ``token`` (now marked used), or None if unknown or expired."""
        now = self.clock()
        with self._lock:
            self._expire(now)
            session = self._sessions.get(token)
            if session is not None:
                session.used = now
                self._sessions.move_to_end(token)
            return session

    def expires_in(self, session: Session) -> float:
        """Seconds until ``session`` expires if left idle."""
        return max(0.0, self.ttl - (self.clock() - session.used))
