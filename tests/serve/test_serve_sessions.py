"""The learning sessions' store on its own: bounded in count and bytes (the session idle longest
goes first), idle sessions expire, tokens are unguessable and well formed."""
from __future__ import annotations

import numpy as np
import pytest

from barenet import nn
from barenet.serve.jsonbody import TOKEN
from barenet.serve.sessions import SessionStore, model_bytes


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def make() -> nn.Module:
    return nn.Sequential(nn.Linear(10, 20), nn.ReLU(), nn.Linear(20, 3))


def test_model_bytes_counts_values_gradients_and_buffers() -> None:
    params = 10 * 20 + 20 + 20 * 3 + 3
    assert model_bytes(make()) == 2 * 4 * params
    bn = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6))
    assert model_bytes(bn) == 2 * 4 * (4 * 6 + 6 + 6 + 6) + sum(b.nbytes for b in bn.buffers())


def test_count_cap_drops_the_session_idle_longest() -> None:
    clock = Clock()
    store = SessionStore(make, max_sessions=3, clock=clock)
    a, b, c = (store.create() for _ in range(3))
    clock.now += 1
    assert store.get(a.token) is a          # a used again: b is now idle longest
    d = store.create()
    assert len(store) == 3 and store.dropped == 1
    assert store.get(b.token) is None
    assert all(store.get(s.token) is s for s in (a, c, d))
    assert len({s.token for s in (a, b, c, d)}) == 4
    assert all(TOKEN.fullmatch(s.token) for s in (a, b, c, d))


def test_byte_cap() -> None:
    one = model_bytes(make())
    store = SessionStore(make, max_sessions=100, max_bytes=int(2.5 * one))
    sessions = [store.create() for _ in range(6)]
    assert len(store) == 2 and store.nbytes == 2 * one <= store.max_bytes
    assert [store.get(s.token) is not None for s in sessions] == [False] * 4 + [True] * 2
    with pytest.raises(ValueError, match="session memory limit"):
        SessionStore(make, max_bytes=one - 1).create()


def test_idle_sessions_expire() -> None:
    clock = Clock()
    store = SessionStore(make, ttl=60.0, clock=clock)
    a, b = store.create(), store.create()
    clock.now += 40
    assert store.get(b.token) is b and store.expires_in(b) == 60.0
    clock.now += 30                        # a idle 70 s, b 30 s
    assert store.get(a.token) is None and store.get(b.token) is b
    assert len(store) == 1 and store.dropped == 0


def test_copies_are_independent() -> None:
    store = SessionStore(make)
    a, b = store.create(), store.create()
    a.model[0].weight.data += 1.0
    assert not np.allclose(a.model[0].weight.data, b.model[0].weight.data)


@pytest.mark.parametrize("kwargs", [{"max_sessions": 0}, {"ttl": 0.0}])
def test_bad_bounds(kwargs) -> None:
    with pytest.raises(ValueError):
        SessionStore(make, **kwargs)
