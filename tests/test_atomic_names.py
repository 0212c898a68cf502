"""The temporary name of an atomic write stays within a file system's 255-byte limit for any
valid destination name, and is still recognised (and cleaned up) as one."""
from __future__ import annotations

import os
import time

import pytest

from barenet.atomic import atomic_write, atomic_write_bytes, remove_stale_temp_files
from barenet.train.outputs import _is_ours


@pytest.mark.parametrize("length", [240, 250, 255])
def test_long_valid_name_is_written(tmp_path, length):
    path = tmp_path / ("a" * (length - 4) + ".png")
    assert len(path.name) == length
    assert atomic_write_bytes(path, b"data") == path
    assert path.read_bytes() == b"data"
    assert os.listdir(tmp_path) == [path.name]


def test_multibyte_name_fits_in_bytes(tmp_path):
    path = tmp_path / ("\u00e9" * 120 + ".onnx")          # 245 bytes in UTF-8
    atomic_write_bytes(path, b"x")
    assert path.read_bytes() == b"x"


def test_temporary_name_is_short_and_hidden(tmp_path):
    seen = []
    path = tmp_path / ("n" * 240 + ".json")

    def write(fh):
        seen.extend(os.listdir(tmp_path))
        fh.write(b"{}")

    atomic_write(path, write)
    assert len(seen) == 1
    tmp = seen[0]
    assert tmp.startswith(".") and tmp.endswith(".tmp") and len(tmp.encode()) <= 100
    assert _is_ours(tmp, ["*.json"])                       # an output dir knows it as ours


def test_stale_temporary_file_of_a_long_name_is_removed(tmp_path):
    seen = []
    path = tmp_path / ("s" * 240 + ".png")

    def fail(fh):
        seen.extend(os.listdir(tmp_path))
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        atomic_write(path, fail)
    stale = tmp_path / seen[0]
    stale.write_bytes(b"left by a killed write")
    old = time.time() - 7200
    os.utime(stale, (old, old))
    assert remove_stale_temp_files(tmp_path) == [stale]
