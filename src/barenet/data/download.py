"""Download a file from a list of mirrors, verified by md5, landing atomically.

Each mirror is tried in turn. The body is streamed into a temporary file in the destination's
directory while its md5 is computed; only a file with the expected md5 is renamed into place
(``os.replace``), so the destination is either absent or complete and verified. The library
never prints: pass ``progress(bytes_done, total_or_None)`` to draw a bar.
"""
from __future__ import annotations

import hashlib
import os
import tempfile
from pathlib import Path
from typing import Callable, Sequence

from ..errors import DataError

Progress = Callable[[int, "int | None"], None]

#: Environment variable with comma-separated mirror base URLs that replace a dataset's own.
MIRRORS_ENV = "BARENET_MIRRORS"
#: Refuse downloads larger than this (the largest dataset file is about 26 MB).
MAX_DOWNLOAD_BYTES = 1 << 28
_CHUNK = 1 << 16


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


def _fetch(url: str, tmp: Path, md5: str, progress: Progress | None, timeout: float,
           max_bytes: int) -> None:
    """Stream ``url`` into ``tmp`` and check its md5; raises DataError with a short reason."""
    import http.client
    import urllib.error
    import urllib.request

    if not url.lower().startswith(("http://", "https://")):
        raise DataError("not an http(s) URL")
    digest = hashlib.md5()
    done = 0
    try:
        req = urllib.request.Request(url, headers={"User-Agent": "barenet"})
        with urllib.request.urlopen(req, timeout=timeout) as resp, open(tmp, "wb") as out:
            length = resp.headers.get("Content-Length")
            total = int(length) if length and length.isdigit() else None
            if total is not None and total > max_bytes:
                raise DataError(f"{total} bytes is more than the limit of {max_bytes}")
            if progress is not None:
                progress(0, total)
            while True:
                chunk = resp.read(_CHUNK)
                if not chunk:
                    break
                done += len(chunk)
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
        raise DataError(f"timed out after {timeout} s") from None
    except (OSError, ValueError, http.client.HTTPException) as exc:  # reset, bad URL, bad reply
        raise DataError(f"{type(exc).__name__}: {exc}") from None
    got = digest.hexdigest()
    if got != md5.lower():
        raise DataError(f"md5 mismatch, expected {md5.lower()}, got {got}")


def download_file(urls: Sequence[str], dest: str | os.PathLike, md5: str,
                  progress: Progress | None = None, timeout: float = 30,
                  max_bytes: int = MAX_DOWNLOAD_BYTES) -> Path:
    """Download the first of ``urls`` that works into ``dest``, verified by ``md5``.

    Returns ``dest`` as a Path. A failed or mismatching download leaves nothing behind and the
    next URL is tried; if all fail, raises ``DataError`` listing every URL with its reason.
    """
    dest = Path(dest)
    if not urls:
        raise DataError(f"{dest.name}: no download URLs given")
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
            _fetch(url, tmp, md5, progress, timeout, max_bytes)
            os.replace(tmp, dest)
            return dest
        except DataError as exc:
            failures.append(f"{url}: {exc}")
        finally:
            if tmp.exists():
                tmp.unlink()
    raise DataError(f"{dest.name}: download failed from every mirror: " + "; ".join(failures))
