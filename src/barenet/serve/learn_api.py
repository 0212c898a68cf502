"""The requests of "Teach it": ``POST /api/learn`` and ``POST /api/learn/reset``.

``POST /api/learn`` takes JSON ``{"pixels": [784 numbers in 0..255], "label": 0..9,
"steps": 1..MAX_STEPS (default 1), "lr": (0, MAX_LR] (default 0.01), "token": a session token
or null}``. Without a token a new session (a private model copy) is started; its token comes
back in the answer and is sent with the next calls. An unknown or expired token is a 404: the
page then starts a new session. ``POST /api/learn/reset`` ``{"token"}`` puts the run's weights
back into that session's copy.

At most ``max_learning`` calls run at once (each holds a model copy and measures accuracy on
the test subset); the others wait their turn for at most ``timeout`` seconds (then 503), and
so does a second call on a session that is busy.
"""
from __future__ import annotations

import threading
from typing import Any, Callable

import numpy as np

from .errors import HTTPError
from .jsonbody import float_field, int_field, token_field
from .learn import DEFAULT_LR, MAX_LR, MAX_STEPS, MODE_NOTE, Teacher
from .sessions import Session, SessionStore


class Learning:
    """Sessions, their bounds and the requests that use them (see the module docstring)."""

    def __init__(self, run: Any, test_set: Callable[[], Any], timeout: float,
                 max_sessions: int = 32, max_bytes: int = 256 * 2**20, ttl: float = 900.0,
                 max_learning: int = 2, clock: Callable[[], float] | None = None) -> None:
        if max_learning < 1:
            raise ValueError(f"max_learning must be at least 1, got {max_learning}")
        self.teacher = Teacher(run, test_set)
        kwargs = {} if clock is None else {"clock": clock}
        self.store = SessionStore(self.teacher.copy, max_sessions, max_bytes, ttl, **kwargs)
        self.timeout = float(timeout)
        self.classes = len(run.classes)
        self._slots = threading.BoundedSemaphore(max_learning)

    def _turn(self) -> None:
        if not self._slots.acquire(timeout=self.timeout):
            raise HTTPError(503, "busy teaching other copies, retry later", {"Retry-After": "1"})

    def _session(self, token: str | None) -> Session:
        """The session of ``token``, or a new one when ``token`` is None."""
        if token is None:
            try:
                return self.store.create()
            except ValueError as exc:
                raise HTTPError(503, f"learning is off: {exc}") from None
        session = self.store.get(token)
        if session is None:
            raise HTTPError(404, "unknown or expired session token: send no token to start a "
                                 "new session")
        return session

    def _info(self, session: Session) -> dict:
        return {"token": session.token, "total_steps": session.steps,
                "expires_in": round(self.store.expires_in(session), 1)}

    def learn(self, doc: dict, image: np.ndarray) -> dict:
        """``POST /api/learn`` for a parsed JSON body and its checked picture."""
        label = int_field(doc, "label", 0, self.classes - 1)
        steps = int_field(doc, "steps", 1, MAX_STEPS, default=1)
        lr = float_field(doc, "lr", 0.0, MAX_LR, DEFAULT_LR)
        token = token_field(doc, required=False)
        self._turn()
        try:
            session = self._session(token)
            if not session.lock.acquire(timeout=self.timeout):
                raise HTTPError(503, "this session is busy with another call, retry later",
                                {"Retry-After": "1"})
            try:
                answer = self.teacher.learn(session, image, label, steps, lr)
                answer.update(self._info(session))
                return answer
            finally:
                session.lock.release()
        finally:
            self._slots.release()

    def reset(self, doc: dict) -> dict:
        """``POST /api/learn/reset``: the session's copy gets the run's weights back."""
        token = token_field(doc, required=True)
        session = self._session(token)
        if not session.lock.acquire(timeout=self.timeout):
            raise HTTPError(503, "this session is busy with another call, retry later",
                            {"Retry-After": "1"})
        try:
            self.teacher.reset(session)
        finally:
            session.lock.release()
        info = self._info(session)
        info.update(accuracy=self.teacher.base_accuracy(),
                    accuracy_note=self.teacher.subset_note, mode=MODE_NOTE)
        return info
