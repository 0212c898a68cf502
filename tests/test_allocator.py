"""keep_freed_memory: applied on glibc, skipped elsewhere or when the user chose already."""
import ctypes
import sys

import pytest

from barenet import allocator


def _glibc() -> bool:
    try:
        ctypes.CDLL("libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    return sys.platform.startswith("linux")


@pytest.mark.skipif(not _glibc(), reason="needs glibc's mallopt")
def test_applies_on_glibc(monkeypatch):
    for var in ("MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"):
        monkeypatch.delenv(var, raising=False)
    assert allocator.keep_freed_memory() is True


@pytest.mark.parametrize("var", ["MALLOC_TRIM_THRESHOLD_", "MALLOC_MMAP_THRESHOLD_"])
def test_the_users_own_malloc_setting_stands(monkeypatch, var):
    monkeypatch.setenv(var, "131072")
    assert allocator.keep_freed_memory() is False


def test_does_nothing_off_linux(monkeypatch):
    monkeypatch.setattr(allocator.sys, "platform", "darwin")
    assert allocator.keep_freed_memory() is False


@pytest.mark.parametrize("command, applied", [("models", False), ("train", True)])
def test_the_command_applies_it_only_to_commands_that_train(monkeypatch, command, applied):
    from barenet.cli import main as cli
    calls = []
    monkeypatch.setattr(cli, "keep_freed_memory", lambda: calls.append(1) or True)
    if command == "train":  # parse the real command line, but train nothing
        import barenet.cli.train as train_cli
        monkeypatch.setattr(train_cli, "run", lambda args: 0)
    assert cli.main([command]) == 0
    assert calls == ([1] if applied else [])
