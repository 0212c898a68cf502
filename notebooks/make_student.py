"""Write the student version of the course notebooks: solutions cleared, outputs cleared.

    python notebooks/make_student.py OUT_DIR            # every notebook
    python notebooks/make_student.py OUT_DIR 02 04      # those whose names start with 02 or 04

The exercise cells keep their solutions between two marker lines, ``### BEGIN SOLUTION`` and
``### END SOLUTION``. In the student copy each such region, both marker lines included, becomes

    # YOUR CODE HERE
    raise NotImplementedError()

indented like the BEGIN line, and the lines around it (the ``def`` or ``class`` line, a
docstring, a given constructor) stay as they are. That is what nbgrader's ClearSolutions step
writes with its default settings, so this script and a teacher's ``nbgrader
generate_assignment`` give the learner the same code. Like nbgrader, a line counts as a marker
when it contains ``BEGIN SOLUTION`` or ``END SOLUTION``; a region in a markdown cell becomes
``YOUR ANSWER HERE``; and a cell marked as a solution in its nbgrader metadata but without
markers is replaced whole. A region that is not closed, or one opened inside another, is an
error naming the notebook and the cell; so is an END marker without its BEGIN.

Every output and execution count is cleared; the pictures the notebooks read (``*.png``) are
copied beside them, so the student folder runs on its own. OUT_DIR must not be the notebooks
folder itself.
"""
from __future__ import annotations

import argparse
import re
import shutil
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
BEGIN, END = "BEGIN SOLUTION", "END SOLUTION"
CODE_STUB = ["# YOUR CODE HERE", "raise NotImplementedError()"]
TEXT_STUB = ["YOUR ANSWER HERE"]


class MarkerError(ValueError):
    """Solution markers that do not pair up."""


def notebooks(prefixes: list[str]) -> list[Path]:
    """The course notebooks (NN-name.ipynb), those starting with one of ``prefixes`` if any."""
    found = sorted(HERE.glob("[0-9][0-9]-*.ipynb"))
    if prefixes:
        found = [p for p in found if any(p.name.startswith(x) for x in prefixes)]
    return found


def clear_regions(source: str, stub: list[str], where: str = "a cell") -> tuple[str, bool]:
    """``source`` with every solution region replaced by ``stub`` (indented like its BEGIN
    line); and whether there was one. MarkerError when the markers do not pair up."""
    out: list[str] = []
    inside = found = False
    for number, line in enumerate(source.split("\n"), start=1):
        if BEGIN in line:
            if inside:
                raise MarkerError(f"{where}, line {number}: {BEGIN} inside another solution")
            inside = found = True
            indent = re.match(r"\s*", line).group(0)
            out += [indent + s for s in stub]
        elif END in line:
            if not inside:
                raise MarkerError(f"{where}, line {number}: {END} without {BEGIN}")
            inside = False
        elif not inside:
            out.append(line)
    if inside:
        raise MarkerError(f"{where}: {BEGIN} without {END}")
    return "\n".join(out), found


def student_notebook(nb, name: str = "notebook"):
    """Turn the notebook object ``nb`` (nbformat, version 4) into its student version, in
    place, and return it."""
    for index, cell in enumerate(nb.cells, start=1):
        where = f"{name}, cell {index}"
        stub = CODE_STUB if cell.cell_type == "code" else TEXT_STUB
        cell.source, found = clear_regions(cell.source, stub, where)
        if not found and cell.get("metadata", {}).get("nbgrader", {}).get("solution"):
            cell.source = "\n".join(stub)
        if cell.cell_type == "code":
            cell.outputs = []
            cell.execution_count = None
    return nb


def main(argv: list[str] | None = None) -> int:
    import nbformat

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("out_dir", type=Path, help="where to write the student notebooks")
    parser.add_argument("names", nargs="*", help="prefixes of the notebooks (all if none)")
    args = parser.parse_args(argv)
    out = args.out_dir.resolve()
    if out == HERE:
        print("make_student.py: OUT_DIR is the notebooks folder itself; choose another",
              file=sys.stderr)
        return 1
    paths = notebooks(args.names)
    if not paths:
        print(f"make_student.py: no notebook matches {' '.join(args.names)}", file=sys.stderr)
        return 1
    try:                  # check every notebook before writing any
        students = [(p, student_notebook(nbformat.read(p, as_version=4), p.name)) for p in paths]
    except MarkerError as exc:
        print(f"make_student.py: {exc}", file=sys.stderr)
        return 1
    out.mkdir(parents=True, exist_ok=True)
    for path, nb in students:
        nbformat.write(nb, out / path.name)
    for picture in sorted(HERE.glob("*.png")):
        shutil.copyfile(picture, out / picture.name)
    print(f"wrote {len(students)} student notebooks to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
