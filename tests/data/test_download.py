"""download_file against a local HTTP server: mirrors in turn, md5 checks, atomic landing."""
from __future__ import annotations

import hashlib
import socket

import pytest

from barenet.data.download import download_file, mirror_bases, mirror_urls
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
