"""Download a file from a list of mirrors, verified by md5, landing atomically.

Each mirror is tried in turn. The body is streamed into a temporary file in the destination's
directory while its md5 is computed; only a file with the expected md5 is renamed into place
(``os.replace``), so the destination is either absent or complete and verified. The library
never prints: pass ``progress(bytes_done, total_or_None)`` to draw a bar.

Time is bounded three ways: ``timeout`` per connection and per read, an overall ``deadline`` per
file (all mirrors together; default 10 minutes, ``$BARENET_DOWNLOAD_DEADLINE`` seconds), and a
minimum speed (a mirror averaging under ``min_speed`` bytes/s over ``speed_time`` seconds is
dropped for the next). Only http(s) URLs are fetched, and every redirect is checked too.
"""
from __future__ import annotations

import hashlib
import math
import os
import tempfile
import time
import urllib.request
from pathlib import Path
from typing import Callable, Sequence
from urllib.parse import urljoin

from ..errors import DataError

Progress = Callable[[int, "int | None"], None]

#: Environment variable with comma-separated mirror base URLs that replace a dataset's own.
MIRRORS_ENV = "BARENET_MIRRORS"
#: Refuse downloads larger than this (the largest dataset file is about 26 MB).
MAX_DOWNLOAD_BYTES = 1 << 28
#: Environment variable: the overall deadline per file, in seconds.
DEADLINE_ENV = "BARENET_DOWNLOAD_DEADLINE"
#: Default overall deadline per file (all mirrors together), seconds.
DEFAULT_DEADLINE = 600
#: Default minimum speed: a mirror averaging fewer bytes/s than this over SPEED_TIME s is dropped.
MIN_SPEED = 1024
SPEED_TIME = 30.0
_CHUNK = 1 << 16
_SCHEMES = ("http://", "https://")


def download_deadline() -> float:
    """The overall deadline per file in seconds: ``$BARENET_DOWNLOAD_DEADLINE``, else 600."""
    text = os.environ.get(DEADLINE_ENV)
    if text is None or not text.strip():
        return DEFAULT_DEADLINE
    try:
        value = float(text)
    except ValueError:
        value = math.nan
    if not (math.isfinite(value) and value > 0):
        raise DataError(f"{DEADLINE_ENV}: expected a number of seconds > 0, got {text!r}")
    return value


class _HttpOnlyRedirects(urllib.request.HTTPRedirectHandler):
    """Follows a redirect only to another http(s) URL (urllib alone also follows ftp://)."""

    def http_error_302(self, req, fp, code, msg, headers):  # noqa: ANN001 (urllib's signature)
        target = headers.get("location") or headers.get("uri")
        if target is not None:
            target = urljoin(req.full_url, target.strip())
            if not target.lower().startswith(_SCHEMES):
                fp.close()
                raise DataError(f"redirected to {target[:200]}, expected an http(s) URL")
        return super().http_error_302(req, fp, code, msg, headers)

    http_error_301 = http_error_303 = http_error_307 = http_error_308 = http_error_302


_OPENER = urllib.request.build_opener(_HttpOnlyRedirects)


def mirror_bases(default: Sequence[str], override: Sequence[str] | str | None = None) -> list[str]:
    """The mirror base URLs to use: ``override`` (list or comma-separated string), else
    ``$BARENET_MIRRORS``, else ``default``."""
    if override is None:
        override = os.environ.get(MIRRORS_ENV) or None
    if override is None:
        return list(default)
    if isinstance(override, str):
        override = override.split(",")
    bases = [b.strip() for b in override if b.strip()]
    if not bases:
        raise DataError(f"{MIRRORS_ENV}: no mirror URLs given, expected comma-separated URLs")
    return bases


def mirror_urls(bases: Sequence[str], file_name: str) -> list[str]:
    """Full URLs of ``file_name`` under each mirror base URL."""
    return [base.rstrip("/") + "/" + file_name for base in bases]


class _Pace:
    """Raises DataError once ``end`` (a ``time.monotonic()``) has passed, or when the bytes of
    the last ``speed_time`` seconds average under ``min_speed`` per second."""

    def __init__(self, end: float, deadline: float, min_speed: float, speed_time: float) -> None:
        self.end, self.deadline = end, deadline
        self.min_speed, self.speed_time = min_speed, speed_time
        self.since, self.bytes_then = time.monotonic(), 0

    def check(self, done: int) -> None:
        now = time.monotonic()
        if now > self.end:
            raise DataError(f"gave up at the deadline of {self.deadline:g} s per file after "
                            f"{done} bytes (set ${DEADLINE_ENV} for more)")
        if self.min_speed <= 0 or now - self.since < self.speed_time:
            return
        rate = (done - self.bytes_then) / (now - self.since)
        if rate < self.min_speed:
            raise DataError(f"too slow: {rate:.0f} bytes/s, under {self.min_speed:g} bytes/s "
                            f"over {self.speed_time:g} s")
        self.since, self.bytes_then = now, done


def _fetch(url: str, tmp: Path, md5: str, progress: Progress | None, timeout: float,
           max_bytes: int, pace: _Pace) -> None:
    """Stream ``url`` into ``tmp`` and check its md5; raises DataError with a short reason."""
    import http.client
    import urllib.error

    if not url.lower().startswith(_SCHEMES):
        raise DataError("not an http(s) URL")
    digest = hashlib.md5()
    done = 0
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "barenet"})
        # each connect and read waits at most `timeout`, and never much past the deadline
        wait = max(0.05, min(timeout, pace.end - time.monotonic()))
        pace.check(0)
        with _OPENER.open(req, timeout=wait) as resp, open(tmp, "wb") as out:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise DataError(f"{total} bytes is more than the limit of {max_bytes}")
            if progress is not None:
                progress(0, total)
            while True:
                chunk = resp.read1(_CHUNK)       # what has arrived: a trickle cannot hide
                if not chunk:
                    break
                done += len(chunk)
                pace.check(done)
                if done > max_bytes:
                    raise DataError(f"more than the limit of {max_bytes} bytes")
                digest.update(chunk)
                out.write(chunk)
                if progress is not None:
                    progress(done, total)
            out.flush()
            os.fsync(out.fileno())
        if total is not None and done != total:
            raise DataError(f"incomplete, got {done} of {total} bytes")
    except urllib.error.HTTPError as exc:
        raise DataError(f"HTTP {exc.code} {exc.reason}") from None
    except urllib.error.URLError as exc:
        raise DataError(f"cannot connect ({exc.reason})") from None
    except TimeoutError:
        raise DataError(f"timed out after {wait:g} s") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # reset, bad URL, bad reply
        raise DataError(f"{type(exc).__name__}: {exc}") from None
    got = digest.hexdigest()
    if got != md5.lower():
        raise DataError(f"md5 mismatch, expected {md5.lower()}, got {got}")


def download_file(urls: Sequence[str], dest: str | os.PathLike, md5: str,
                  progress: Progress | None = None, timeout: float = 30,
                  max_bytes: int = MAX_DOWNLOAD_BYTES, deadline: float | None = None,
                  min_speed: float = MIN_SPEED, speed_time: float = SPEED_TIME) -> Path:
    """Download the first of ``urls`` that works into ``dest``, verified by ``md5``.

    Returns ``dest`` as a Path. A failed or mismatching download leaves nothing behind and the
    next URL is tried; if all fail, raises ``DataError`` listing every URL with its reason.
    ``deadline``: seconds for the whole file, every mirror included (None: ``download_deadline()``,
    10 minutes unless ``$BARENET_DOWNLOAD_DEADLINE`` says otherwise); ``min_speed`` bytes/s
    averaged over ``speed_time`` s, or the mirror is dropped (0: no minimum).
    """
    dest = Path(dest)
    if not urls:
        raise DataError(f"{dest.name}: no download URLs given")
    deadline = download_deadline() if deadline is None else deadline
    end = time.monotonic() + deadline
    try:
        dest.parent.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise DataError(f"{dest.parent}: cannot create directory ({exc.strerror or exc})") from None
    failures = []
    for url in urls:
        fd, name = tempfile.mkstemp(dir=dest.parent, prefix=f".{dest.name}.", suffix=".part")
        os.close(fd)
        tmp = Path(name)
        try:
            _fetch(url, tmp, md5, progress, timeout, max_bytes,
                   _Pace(end, deadline, min_speed, speed_time))
            os.replace(tmp, dest)
            return dest
        except DataError as exc:
            failures.append(f"{url}: {exc}")
        finally:
            if tmp.exists():
                tmp.unlink()
    raise DataError(f"{dest.name}: download failed from every mirror: " + "; ".join(failures))
