"""The Host check on its own: which names a server answers to (against DNS rebinding)."""
from __future__ import annotations

import pytest

from barenet.serve.hosts import HostCheck, host_name


@pytest.mark.parametrize("header,name", [
    ("localhost", "localhost"), ("LOCALHOST:8000", "localhost"), ("localhost.", "localhost"),
    ("127.0.0.1:80", "127.0.0.1"), ("[::1]", "::1"), ("[::1]:8000", "::1"),
    (" digits.lan ", "digits.lan"), ("my_box:1", "my_box"),
    ("", None), ("a b", None), ("::1", None), ("[::1", None), ("[nothex]:80", None),
    ("x:", None), ("x:y", None), ("x:1234567", None), ("x:+80", None), ("é.example", None),
    ("-x.example", None), ("x..", None), ("user@evil.example", None), ("evil.example/x", None),
])
def test_host_name(header, name) -> None:
    assert host_name(header) == name


def test_a_loopback_server_answers_loopback_names_only() -> None:
    check = HostCheck(["127.0.0.1"])
    for ok in ("localhost", "a.b.localhost:1", "127.0.0.1:8000", "127.9.9.9", "[::1]"):
        assert check.allowed(ok), ok
    for bad in ("evil.example", "localhost.evil.example", "127.0.0.1.nip.io", "10.0.0.1",
                "[2001:db8::1]", "0.0.0.0"):
        assert not check.allowed(bad), bad


def test_all_interfaces_answer_any_address_but_names_only_when_allowed() -> None:
    check = HostCheck(["0.0.0.0"], ["Digits.LAN."])
    assert check.allowed("192.168.1.20:8000") and check.allowed("[2001:db8::1]")
    assert check.allowed("digits.lan") and check.allowed("localhost")
    assert not check.allowed("evil.example")
    assert HostCheck(["192.168.1.20"]).allowed("192.168.1.20")
    assert not HostCheck(["192.168.1.20"]).allowed("192.168.1.21")
    assert HostCheck(["127.0.0.1"], ["*"]).allowed("anything.example")
