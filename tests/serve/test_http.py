"""HTTP details of ``barenet serve``: one body per request (no smuggling), the Host header
(DNS rebinding), the favicon."""
from __future__ import annotations

import json
import re
import socket
from typing import Any

import pytest

from barenet.serve import make_server


def exchange(address: tuple, data: bytes, wait: float = 10.0) -> bytes:
    """Send raw bytes, half-close, and return everything the server answers until it closes."""
    with socket.create_connection(address, timeout=wait) as s:
        s.sendall(data)
        s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def statuses(raw: bytes) -> list[int]:
    """The status codes of every response in a raw answer."""
    return [int(code) for code in re.findall(rb"HTTP/1\.[01] (\d{3}) ", raw)]


def get(address: tuple, host: bytes | None, version: bytes = b"HTTP/1.1") -> tuple[int, Any]:
    head = b"GET /api/model " + version + b"\r\n"
    if host is not None:
        head += b"Host: " + host + b"\r\n"
    raw = exchange(address, head + b"Connection: close\r\n\r\n")
    body = raw.partition(b"\r\n\r\n")[2]
    return statuses(raw)[0], json.loads(body)


def test_two_content_lengths_are_refused_and_nothing_runs_as_a_second_request(server) -> None:
    smuggled = b"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n"
    raw = exchange(server.server_address[:2],
                   b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\nContent-Length: 2\r\n"
                   b"Content-Length: 40\r\n\r\n{}" + smuggled)
    assert statuses(raw) == [400], raw[:300]
    assert b"Connection: close" in raw and b"Content-Length" in raw.partition(b"\r\n\r\n")[2]


def test_a_body_is_never_read_as_the_next_request(server) -> None:
    """The control: with one Content-Length, keep-alive serves the next request normally."""
    nxt = b"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n"
    raw = exchange(server.server_address[:2],
                   b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                   b"Content-Type: application/json\r\nContent-Length: 2\r\n\r\n{}" + nxt)
    assert statuses(raw) == [400, 200]


@pytest.mark.parametrize("host", [b"127.0.0.1", b"127.0.0.1:8000", b"localhost", b"LocalHost:80",
                                  b"localhost.", b"app.localhost:1234", b"127.1.2.3",
                                  b"[::1]:8000"])
def test_loopback_host_names_are_accepted(server, host) -> None:
    status, doc = get(server.server_address[:2], host)
    assert status == 200, doc


@pytest.mark.parametrize("host", [b"evil.example", b"evil.example:8000", b"127.0.0.1.evil.example",
                                  b"localhost.evil.example", b"10.0.0.1", b"", b"a b",
                                  b"[::1", b"localhost:x"])
def test_other_host_names_are_refused(server, host) -> None:
    status, doc = get(server.server_address[:2], host)
    assert status in (400, 403) and "Host" in doc["error"], doc


def test_host_is_required_in_http_1_1_and_only_once(server) -> None:
    address = server.server_address[:2]
    status, doc = get(address, None)
    assert status == 400 and "Host" in doc["error"]
    assert get(address, None, b"HTTP/1.0")[0] == 200  # HTTP/1.0 has no Host header
    raw = exchange(address, b"GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nHost: evil.example\r\n\r\n")
    assert statuses(raw) == [400]


def test_allowed_host_names_are_configurable(run, serving) -> None:
    """A server that also answers to the name ``digits.lan`` (``--allow-host digits.lan``)."""
    with serving(make_server(run, "127.0.0.1", 0, allow_hosts=["digits.lan"])) as srv:
        address = srv.server_address[:2]
        assert get(address, b"digits.lan:8000")[0] == 200
        assert get(address, b"DIGITS.LAN")[0] == 200
        assert get(address, b"localhost")[0] == 200
        assert get(address, b"evil.example")[0] == 403


def test_favicon_is_a_small_picture(client) -> None:
    from io import BytesIO

    from PIL import Image

    status, headers, body = client.request("GET", "/favicon.ico")
    assert status == 200 and headers["content-type"] == "image/png"
    assert 0 < len(body) < 4096
    with Image.open(BytesIO(body)) as im:
        assert im.size[0] == im.size[1] >= 16
    status, _, page = client.request("GET", "/")
    assert b'rel="icon"' in page
