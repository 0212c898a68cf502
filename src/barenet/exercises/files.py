"""Exercise files on disk: writing a stub (never over a file), finding the exercise files of a
directory, importing a learner's file and grading it.

A file is exercise NAME when its marker line says ``# barenet-exercise: NAME`` (the stub writes
one), or else when it is called ``NAME.py``.
"""
from __future__ import annotations

import importlib.util
import sys
import traceback
import uuid
from pathlib import Path

from ..errors import BarenetError, brief
from .catalogue import NAMES, info
from .grade import check
from .result import FAILED, Check, Result
from .stubs import marker_of, stub_text

#: bytes of a file read to look for its marker
MAX_READ = 1 << 20


class ExerciseError(BarenetError):
    """A usage error: an unknown exercise, a file that does not import, an existing file."""


def _unknown(name: str) -> ExerciseError:
    return ExerciseError(f"unknown exercise {name!r}, expected one of: {', '.join(NAMES)}")


def write_stub(name: str, directory: str | Path = "exercises") -> Path:
    """Write ``directory/NAME.py``, the stub of exercise ``name``; returns its path.

    Never replaces a file: ExerciseError if the file exists (or for an unknown name).
    """
    if name not in NAMES:
        raise _unknown(name)
    folder = Path(directory)
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / f"{name}.py"
    try:
        with open(path, "x", encoding="utf-8") as f:  # "x": fails if the file exists
            f.write(stub_text(name))
    except FileExistsError:
        raise ExerciseError(f"{path}: already exists, not overwritten (delete or rename it, "
                            "or write elsewhere with --dir)") from None
    return path


def exercise_of(path: Path) -> str | None:
    """The exercise a file is (its marker, else its name), or None."""
    try:
        with open(path, encoding="utf-8", errors="replace") as f:
            marked = marker_of(f.read(MAX_READ))
    except OSError:
        marked = None
    if marked is not None:
        return marked
    return path.stem if path.stem in NAMES else None


def find_exercise_files(directory: str | Path) -> list[tuple[str, Path]]:
    """(exercise, path) of every exercise file directly in ``directory``, in teaching order."""
    found = []
    for path in sorted(Path(directory).glob("*.py")):
        name = exercise_of(path)
        if name is not None:
            found.append((name, path))
    return sorted(found, key=lambda item: (NAMES.index(item[0]) if item[0] in NAMES
                                           else len(NAMES), str(item[1])))


def _import(path: Path) -> object:
    """Import the file at ``path`` as a fresh module; ExerciseError with file:line if it
    does not import."""
    module_name = f"_barenet_exercise_{path.stem}_{uuid.uuid4().hex[:8]}"
    spec = importlib.util.spec_from_file_location(module_name, path)
    if spec is None or spec.loader is None:
        raise ExerciseError(f"{path}: cannot be imported as a Python file")
    module = importlib.util.module_from_spec(spec)
    sys.modules[module_name] = module  # dataclasses and pickling look modules up
    try:
        spec.loader.exec_module(module)
    except SyntaxError as exc:
        raise ExerciseError(f"{path}:{exc.lineno}: SyntaxError: "
                            f"{brief(exc.msg, 160)}") from None
    except Exception as exc:  # the file's own top level failed
        line = next((f.lineno for f in reversed(traceback.extract_tb(exc.__traceback__))
                     if Path(f.filename).resolve() == path.resolve()), "?")
        raise ExerciseError(f"{path}:{line}: {type(exc).__name__}: {brief(exc, 160)}") from None
    finally:
        sys.modules.pop(module_name, None)
    return module


def check_file(path: str | Path, name: str | None = None) -> Result:
    """Import ``path`` and grade its class as exercise ``name`` (default: the file's marker
    or name). ExerciseError for an unknown exercise or a file that does not import."""
    path = Path(path)
    if not path.is_file():
        raise ExerciseError(f"{path}: no such file")
    name = name or exercise_of(path)
    if name is None:
        raise ExerciseError(f"{path}: not an exercise file (expected NAME.py or a "
                            f"'# barenet-exercise: NAME' line), NAME one of: {', '.join(NAMES)}")
    if name not in NAMES:
        raise _unknown(name)
    module = _import(path)
    class_name = info(name).class_name
    cls = getattr(module, class_name, None)
    if not isinstance(cls, type):
        result = Result(name, FAILED, [Check("class", False,
                                             f"{path} defines no class {class_name}")])
    else:
        result = check(name, cls)
    result.file = str(path)
    return result


def check_path(path: str | Path) -> list[Result]:
    """Grade one file, or every exercise file directly in a directory.

    ExerciseError when the path does not exist or a directory holds no exercise file.
    """
    path = Path(path)
    if path.is_dir():
        files = find_exercise_files(path)
        if not files:
            raise ExerciseError(f"{path}: no exercise files (NAME.py, NAME one of: "
                                f"{', '.join(NAMES)})")
        return [check_file(p, name) for name, p in files]
    if not path.exists():
        raise ExerciseError(f"{path}: no such file or directory")
    return [check_file(path)]
