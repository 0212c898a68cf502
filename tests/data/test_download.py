"""download_file against a local HTTP server: mirrors in turn, md5 checks, atomic landing."""
from __future__ import annotations

import hashlib
import http.server
import socket
import threading
import time

import pytest

from barenet.data.download import (
    DEADLINE_ENV,
    DEFAULT_DEADLINE,
    download_deadline,
    download_file,
    mirror_bases,
    mirror_urls,
)
from barenet.errors import DataError

PAYLOAD = b"\x1f\x8b" + bytes(range(256)) * 40
MD5 = hashlib.md5(PAYLOAD).hexdigest()


@pytest.fixture
def mirrors(http_root):
    """Base URLs of three mirrors: ``good`` has the file, ``corrupt`` other bytes, ``missing`` none."""
    root, base = http_root
    for name, data in (("good", PAYLOAD), ("corrupt", PAYLOAD[:-1] + b"!")):
        (root / name).mkdir()
        (root / name / "f.gz").write_bytes(data)
    (root / "missing").mkdir()
    return {name: f"{base}/{name}" for name in ("good", "corrupt", "missing")} | {"base": base}


def leftovers(directory):
    return sorted(p.name for p in directory.iterdir() if p.name != "f.gz")


@pytest.fixture
def out(tmp_path):
    """An empty destination directory (the server's files live elsewhere under tmp_path)."""
    d = tmp_path / "dest"
    d.mkdir()
    return d


def test_good_mirror_lands_file(tmp_path, mirrors):
    dest = tmp_path / "cache" / "f.gz"
    calls = []
    out = download_file(mirror_urls([mirrors["good"]], "f.gz"), dest, MD5,
                        progress=lambda done, total: calls.append((done, total)))
    assert out == dest and dest.read_bytes() == PAYLOAD
    assert leftovers(dest.parent) == []
    assert calls[0] == (0, len(PAYLOAD)) and calls[-1] == (len(PAYLOAD), len(PAYLOAD))
    assert [d for d, _ in calls] == sorted(d for d, _ in calls)


def test_falls_through_missing_and_corrupt_to_good(out, mirrors):
    dest = out / "f.gz"
    bases = [mirrors["missing"], mirrors["corrupt"], mirrors["good"]]
    download_file(mirror_urls(bases, "f.gz"), dest, MD5.upper())
    assert dest.read_bytes() == PAYLOAD
    assert leftovers(out) == []


def test_all_fail_lists_every_mirror_and_leaves_nothing(out, mirrors):
    dest = out / "f.gz"
    closed = socket.socket()
    closed.bind(("127.0.0.1", 0))
    port = closed.getsockname()[1]
    closed.close()
    urls = [f"{mirrors['missing']}/f.gz", f"{mirrors['corrupt']}/f.gz",
            f"http://127.0.0.1:{port}/f.gz", "ftp://example.invalid/f.gz",
            f"{mirrors['base']}/short/10"]
    with pytest.raises(DataError) as err:
        download_file(urls, dest, MD5, timeout=5)
    msg = str(err.value)
    assert msg.startswith("f.gz: download failed from every mirror: ")
    assert "\n" not in msg
    for url in urls:
        assert url in msg
    assert "HTTP 404" in msg
    assert f"md5 mismatch, expected {MD5}, got " in msg
    assert "cannot connect" in msg
    assert "not an http(s) URL" in msg
    assert "incomplete, got 10 of 1000 bytes" in msg
    assert list(out.iterdir()) == []


def test_failure_keeps_existing_destination(out, mirrors):
    dest = out / "f.gz"
    dest.write_bytes(b"old")
    with pytest.raises(DataError):
        download_file([f"{mirrors['corrupt']}/f.gz"], dest, MD5)
    assert dest.read_bytes() == b"old"
    assert leftovers(out) == []


def test_size_limit(out, mirrors):
    with pytest.raises(DataError, match="more than the limit of 100"):
        download_file([f"{mirrors['good']}/f.gz"], out / "f.gz", MD5, max_bytes=100)
    assert list(out.iterdir()) == []


def test_no_urls(tmp_path):
    with pytest.raises(DataError, match="f.gz: no download URLs"):
        download_file([], tmp_path / "f.gz", MD5)


def test_mirror_bases_override_order(monkeypatch):
    monkeypatch.delenv("BARENET_MIRRORS", raising=False)
    assert mirror_bases(["http://a/"]) == ["http://a/"]
    monkeypatch.setenv("BARENET_MIRRORS", "http://b/, http://c")
    assert mirror_bases(["http://a/"]) == ["http://b/", "http://c"]
    assert mirror_bases(["http://a/"], "http://d") == ["http://d"]
    assert mirror_bases(["http://a/"], ["http://e"]) == ["http://e"]
    with pytest.raises(DataError, match="no mirror URLs"):
        mirror_bases(["http://a/"], " , ")
    assert mirror_urls(["http://b/", "http://c"], "x.gz") == ["http://b/x.gz", "http://c/x.gz"]


class _TrickyHandler(http.server.BaseHTTPRequestHandler):
    """``/drip/<n>/<delay>``: promises 1000 bytes, sends one every ``delay`` s (at most ``n``);
    ``/to/<url>``: a 302 redirect to ``url``; ``/good``: the payload."""

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        parts = self.path.split("/", 2)
        if parts[1] == "drip":
            n, delay = self.path.split("/")[2:4]
            self.send_response(200)
            self.send_header("Content-Length", "1000")
            self.end_headers()
            try:
                for _ in range(int(n)):              # bounded: the server never hangs a test
                    self.wfile.write(b"x")
                    self.wfile.flush()
                    time.sleep(float(delay))
            except OSError:                          # the client gave up: what we want
                pass
            self.close_connection = True
        elif parts[1] == "to":
            self.send_response(302)
            self.send_header("Location", parts[2])
            self.send_header("Content-Length", "0")
            self.end_headers()
        elif parts[1] == "good":
            self.send_response(200)
            self.send_header("Content-Length", str(len(PAYLOAD)))
            self.end_headers()
            self.wfile.write(PAYLOAD)
        else:
            self.send_error(404)

    def log_message(self, format: str, *args) -> None:  # keep test output quiet
        pass


@pytest.fixture
def tricky():
    """Base URL of a threaded server on 127.0.0.1 with slow and redirecting routes."""
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _TrickyHandler)
    server.daemon_threads = True
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def test_overall_deadline_stops_a_trickling_mirror(out, tricky):
    """One byte every 0.1 s never trips the 5 s socket timeout; the deadline ends it."""
    start = time.monotonic()
    with pytest.raises(DataError, match=r"deadline of 1(\.0)? s") as err:
        download_file([f"{tricky}/drip/100/0.1"], out / "f.gz", MD5, timeout=5, deadline=1.0,
                      min_speed=0)
    assert time.monotonic() - start < 4
    assert "\n" not in str(err.value) and list(out.iterdir()) == []


def test_minimum_speed_drops_a_slow_mirror_and_tries_the_next(out, tricky):
    start = time.monotonic()
    dest = download_file([f"{tricky}/drip/100/0.1", f"{tricky}/good"], out / "f.gz", MD5,
                         timeout=5, min_speed=1000, speed_time=0.5)
    assert time.monotonic() - start < 4
    assert dest.read_bytes() == PAYLOAD and leftovers(out) == []


def test_too_slow_is_named(out, tricky):
    with pytest.raises(DataError, match=r"too slow: .* under 1000 bytes/s over 0.5 s"):
        download_file([f"{tricky}/drip/100/0.1"], out / "f.gz", MD5, timeout=5,
                      min_speed=1000, speed_time=0.5)


def test_deadline_and_speed_defaults_and_env(monkeypatch):
    monkeypatch.delenv(DEADLINE_ENV, raising=False)
    assert download_deadline() == DEFAULT_DEADLINE == 600
    monkeypatch.setenv(DEADLINE_ENV, "90")
    assert download_deadline() == 90
    for bad in ("0", "-1", "soon", "nan", "inf"):
        monkeypatch.setenv(DEADLINE_ENV, bad)
        with pytest.raises(DataError, match=f"{DEADLINE_ENV}: expected a number of seconds > 0"):
            download_deadline()


def test_env_deadline_applies(out, tricky, monkeypatch):
    monkeypatch.setenv(DEADLINE_ENV, "0.6")
    with pytest.raises(DataError, match=r"deadline of 0.6 s"):
        download_file([f"{tricky}/drip/100/0.1"], out / "f.gz", MD5, timeout=5, min_speed=0)


@pytest.mark.parametrize("target", ["ftp://127.0.0.1:{port}/f.gz", "file:///etc/passwd",
                                    "gopher://127.0.0.1:{port}/f.gz"])
def test_redirect_to_another_scheme_is_refused(out, tricky, target):
    """Every hop's scheme is checked, not only the first URL's; nothing connects to it."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    listener.settimeout(0.2)
    target = target.format(port=listener.getsockname()[1])
    try:
        with pytest.raises(DataError) as err:
            download_file([f"{tricky}/to/{target}"], out / "f.gz", MD5, timeout=5)
        with pytest.raises(TimeoutError):          # nobody knocked on the other scheme's port
            listener.accept()[0].close()
    finally:
        listener.close()
    assert f"redirected to {target}, expected an http(s) URL" in str(err.value)
    assert list(out.iterdir()) == []


def test_redirect_between_http_urls_still_works(out, tricky):
    dest = download_file([f"{tricky}/to/{tricky}/good"], out / "f.gz", MD5, timeout=5)
    assert dest.read_bytes() == PAYLOAD
