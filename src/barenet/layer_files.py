"""Layers of your own for the command line: ``--layers FILE.py`` imports a Python file whose
layer classes register themselves (``@barenet.nn.register_layer``), before the command loads a
run or reads an architecture that names them.

A file is imported only because the user named it: nothing is ever imported from a run
directory, which stays data (config.json records the file each layer came from, so a command
missing it can say which ``--layers`` to pass).
"""
from __future__ import annotations

import importlib.util
import os
import sys
import traceback
from pathlib import Path
from types import ModuleType

from .errors import ConfigError
from .nn.registry import LayerRegistryError, registered

MAX_FILE = 1 << 20          # bytes of a layers file


def _module_name(path: Path) -> str:
    """The file's stem when it can be a module name that is free (or already this file);
    otherwise a name of its own, so two files called layers.py do not collide."""
    stem = path.stem
    taken = sys.modules.get(stem)
    if stem.isidentifier() and (taken is None or getattr(taken, "__file__", None) == str(path)):
        return stem
    return f"barenet_layers_{abs(hash(str(path))):x}"


def _where(exc: BaseException, path: Path) -> str:
    """``FILE:LINE`` of the innermost frame of ``exc`` in the layers file (else the file)."""
    if isinstance(exc, SyntaxError) and exc.lineno:
        return f"{path}:{exc.lineno}"
    frames = [f for f in traceback.extract_tb(exc.__traceback__) if f.filename == str(path)]
    return f"{path}:{frames[-1].lineno}" if frames else str(path)


def import_layer_file(path: str | os.PathLike) -> list[str]:
    """Import a Python file of layers; returns the names of the layers it registered.
    ConfigError, in one line, for a file that is missing, not .py, too large, fails to import
    (``FILE:LINE: the error``) or registers no layer."""
    given = str(path)
    p = Path(path).resolve()
    if p.suffix != ".py":
        raise ConfigError(f"--layers {given}: expected a Python file ending in .py")
    if not p.is_file():
        raise ConfigError(f"--layers {given}: no such file")
    if p.stat().st_size > MAX_FILE:
        raise ConfigError(f"--layers {given}: larger than {MAX_FILE:,} bytes")
    name = _module_name(p)
    spec = importlib.util.spec_from_file_location(name, p)
    if spec is None or spec.loader is None:
        raise ConfigError(f"--layers {given}: cannot be imported")
    module: ModuleType = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    try:
        spec.loader.exec_module(module)
    except LayerRegistryError as exc:
        sys.modules.pop(name, None)
        raise ConfigError(f"{_where(exc, p)}: {exc}") from None
    except Exception as exc:  # noqa: BLE001 - any error in the user's file, in one line
        sys.modules.pop(name, None)
        text = " ".join(str(exc).split())[:200]
        raise ConfigError(f"{_where(exc, p)}: {type(exc).__name__}: {text}") from None
    found = [n for n, cls in registered().items() if cls.__module__ == name]
    if not found:
        raise ConfigError(f"--layers {given}: registers no layer (decorate each layer class "
                          f"with @barenet.nn.register_layer)")
    return found


def import_layer_files(paths: list[str] | None) -> list[str]:
    """``import_layer_file`` for each path, in order; every layer name registered."""
    return [n for p in (paths or []) for n in import_layer_file(p)]


__all__ = ["import_layer_file", "import_layer_files"]
