"""The course in notebooks/: the stored notebooks and, with ``-m notebooks``, executing them.

The fast tests read the stored files only: ten notebooks, each run top to bottom once (every
code cell has output, numbered in order), no error output, figures where figures are drawn, the
accuracies the course promises, an index that lists them all, and the exercises: every stored
check passed, every solution between nbgrader's markers, the student versions cleared.

The notebooks marker (excluded from the default run; ``python -m pytest -q -p no:cacheprovider -m
notebooks tests/test_notebooks.py``) executes every notebook in a fresh kernel, as
``notebooks/run_all.py`` does, without writing it back, and fails on any error cell. The
five-minute budget per notebook is checked by run_all.py, where the time is measured on purpose;
here the time is only reported.
"""
from __future__ import annotations

import importlib.util
import json
import os
import re
import time
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
NOTEBOOKS = ROOT / "notebooks"
PATHS = sorted(NOTEBOOKS.glob("[0-9][0-9]-*.ipynb"))
IDS = [p.stem for p in PATHS]
EXPECTED = ["01-data", "02-mlp-from-scratch", "03-backprop-by-hand", "04-cnn",
            "05-training-craft", "06-barenet-vs-pytorch", "07-your-own-digits",
            "08-recurrent", "09-attention", "10-your-own-layer"]
#: Accuracies the course promises, by notebook: every "Result: ... test accuracy X%" line of
#: the notebook must clear the bar (strictly above for 02, at least for 04).
BARS = {"02-mlp-from-scratch": (97.0, False), "04-cnn": (99.0, True),
        "08-recurrent": (97.0, True), "09-attention": (95.0, True)}
RESULT = re.compile(r"^Result: .*?test accuracy ([0-9.]+)%", re.MULTILINE)
FIGURE_CALL = re.compile(r"plt\.(show|subplots|figure)\(")


def _read(path: Path):
    nbformat = pytest.importorskip("nbformat")
    return nbformat.read(path, as_version=4)


def _code_cells(nb) -> list:
    return [c for c in nb.cells if c.cell_type == "code"]


def _text(cell) -> str:
    """All text a code cell printed or displayed (streams, plain text, markdown)."""
    parts = []
    for out in cell.get("outputs", []):
        if out.get("output_type") == "stream":
            parts.append(out.get("text", ""))
        for key in ("text/plain", "text/markdown"):
            parts.append(out.get("data", {}).get(key, ""))
    return "\n".join(parts)


def _errors(nb) -> list[str]:
    found = []
    for i, cell in enumerate(_code_cells(nb)):
        for out in cell.get("outputs", []):
            if out.get("output_type") == "error":
                found.append(f"code cell {i + 1}: {out.get('ename')}: {out.get('evalue')}")
            elif out.get("output_type") == "stream" and "Traceback" in out.get("text", ""):
                found.append(f"code cell {i + 1}: a traceback on {out.get('name')}")
            elif out.get("name") == "stderr" and "Warning" in out.get("text", ""):
                found.append(f"code cell {i + 1}: a warning: {out['text'].strip()[:200]}")
    return found


def _accuracies(nb) -> list[float]:
    return [float(v) for c in _code_cells(nb) for v in RESULT.findall(_text(c))]


def test_the_seven_notebooks_are_there():
    assert IDS == EXPECTED


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_stored_with_outputs_from_one_run(path):
    nb = _read(path)
    cells = _code_cells(nb)
    missing = [i + 1 for i, c in enumerate(cells) if not c.get("outputs")]
    assert not missing, f"{path.name}: code cells without output: {missing}"
    counts = [c.get("execution_count") for c in cells]
    assert counts == list(range(1, len(cells) + 1)), \
        f"{path.name}: not one top-to-bottom run (execution counts {counts})"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_stored_without_errors_warnings_or_local_paths(path):
    nb = _read(path)
    assert not _errors(nb), f"{path.name}: {_errors(nb)}"
    leaked = [i + 1 for i, c in enumerate(_code_cells(nb)) if str(ROOT) in _text(c)]
    assert not leaked, f"{path.name}: code cells print this machine's path {ROOT}: {leaked}"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_figures_are_stored_inline(path):
    nb = _read(path)
    for i, cell in enumerate(_code_cells(nb)):
        if FIGURE_CALL.search(cell.source):   # 06's too: store the notebooks run with torch
            images = [o for o in cell.get("outputs", []) if "image/png" in o.get("data", {})]
            assert images, f"{path.name}: code cell {i + 1} draws a figure but stores no image"
    assert any("image/png" in o.get("data", {}) for c in _code_cells(nb) for o in c.outputs), \
        f"{path.name}: no figure at all"


@pytest.mark.parametrize("name", sorted(BARS))
def test_stored_accuracies_clear_the_bar(name):
    bar, inclusive = BARS[name]
    accuracies = _accuracies(_read(NOTEBOOKS / f"{name}.ipynb"))
    assert accuracies, f"{name}: no 'Result: ... test accuracy' line"
    for acc in accuracies:
        assert acc >= bar if inclusive else acc > bar, f"{name}: test accuracy {acc}% vs {bar}%"


def test_index_lists_every_notebook_with_its_run_time():
    index = (NOTEBOOKS / "README.md").read_text()
    for path in PATHS:
        assert f"({path.name})" in index, f"notebooks/README.md does not link {path.name}"
        row = re.search(rf"^\| \[{re.escape(path.stem)}\]\({re.escape(path.name)}\) \| "
                        r"([0-9]+) s \|", index, re.MULTILINE)
        assert row, f"notebooks/README.md: no run time for {path.name}"
    assert (NOTEBOOKS / "my_digit.png").is_file()


def _run_all():
    spec = importlib.util.spec_from_file_location("run_all", NOTEBOOKS / "run_all.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_run_all_rewrites_only_the_rows_it_ran(tmp_path, monkeypatch):
    run_all = _run_all()
    readme = tmp_path / "README.md"
    readme.write_text(f"intro\n{run_all.START}\n| [01-data](01-data.ipynb) | 7 s | 0.3 | — |\n"
                      f"{run_all.END}\noutro\n")
    monkeypatch.setattr(run_all, "README", readme)
    run_all.update_readme({"04-cnn.ipynb": (61.4, 1.25, ["default CNN, test accuracy 99.12%"])})
    text = readme.read_text()
    assert text.startswith("intro\n") and text.endswith("outro\n")
    assert "| [01-data](01-data.ipynb) | 7 s | 0.3 | — |" in text
    assert "| [04-cnn](04-cnn.ipynb) | 61 s | 1.2 | default CNN, test accuracy 99.12% |" in text
    assert "| [05-training-craft](05-training-craft.ipynb) | not run yet | — | — |" in text


@pytest.mark.notebooks
@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_notebook_executes_without_error(path):
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    nb = nbformat.read(path, as_version=4)
    before = sorted(p.name for p in NOTEBOOKS.iterdir()), sorted(p.name for p in ROOT.iterdir())
    # A generous limit per cell: on a busy machine 04's training cell takes several times the
    # minute it needs alone. The five-minute budget is run_all.py's to enforce.
    client = nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                                     record_timing=False,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    start = time.perf_counter()
    client.execute()          # raises CellExecutionError on the first failing cell
    seconds = time.perf_counter() - start
    print(f"{path.name}: {seconds:.0f} s")
    assert not _errors(nb), f"{path.name}: {_errors(nb)}"
    empty = [i + 1 for i, c in enumerate(_code_cells(nb)) if not c.get("outputs")]
    assert not empty, f"{path.name}: code cells without output: {empty}"
    after = sorted(p.name for p in NOTEBOOKS.iterdir()), sorted(p.name for p in ROOT.iterdir())
    assert after == before, f"{path.name} wrote into the repository"
    if path.stem in BARS:
        bar, inclusive = BARS[path.stem]
        for acc in _accuracies(nb):
            assert acc >= bar if inclusive else acc > bar, f"{path.name}: {acc}% vs {bar}%"


@pytest.mark.notebooks
def test_the_side_by_side_notebook_runs_without_pytorch(tmp_path, monkeypatch):
    """06 without PyTorch: every cell runs, the ones that need it say how to install it."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    hidden = tmp_path / "torch"
    hidden.mkdir()
    (hidden / "__init__.py").write_text('raise ImportError("PyTorch hidden for this test")\n')
    monkeypatch.setenv("PYTHONPATH", os.pathsep.join(
        [str(tmp_path), *filter(None, [os.environ.get("PYTHONPATH")])]))
    path = NOTEBOOKS / "06-barenet-vs-pytorch.ipynb"
    nb = nbformat.read(path, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=600, kernel_name="python3",
                                     record_timing=False,
                                     resources={"metadata": {"path": str(NOTEBOOKS)}})
    client.execute()
    assert not _errors(nb), f"{path.name} without PyTorch: {_errors(nb)}"
    cells = _code_cells(nb)
    needs_torch = [c for c in cells if "if torch is None:" in c.source]
    assert needs_torch and all("skipped: PyTorch is not installed" in _text(c)
                               for c in needs_torch)
    assert "PyTorch is not installed" in _text(cells[0]) + _text(cells[1])
    assert not _accuracies(nb)   # nothing claims a result it did not compute


# --- Exercises and the student versions (notebooks/make_student.py) -------------------------

#: A check cell: ``check("NAME", Class)`` or ``barenet.exercises.check("NAME", Class)``.
CHECK_CALL = re.compile(r"\bcheck\(\s*[\"'](\w+)[\"']")
MARKERS = ("BEGIN SOLUTION", "END SOLUTION")
#: Notebooks whose learners write code: each has at least this many graded exercises.
EXERCISES = {"02-mlp-from-scratch": 2, "03-backprop-by-hand": 1, "04-cnn": 2}


def _make_student():
    spec = importlib.util.spec_from_file_location("make_student", NOTEBOOKS / "make_student.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _solution_lines(source: str) -> list[str]:
    """The non-blank lines strictly between the markers of a cell, stripped."""
    inside, found = False, []
    for line in source.split("\n"):
        if MARKERS[0] in line:
            inside = True
        elif MARKERS[1] in line:
            inside = False
        elif inside and line.strip():
            found.append(line.strip())
    return found


def _check_cells(nb) -> list:
    return [c for c in _code_cells(nb) if CHECK_CALL.search(c.source)]


def _has_solution(path: Path) -> bool:
    """Whether a notebook has a solution region (read as JSON: no nbformat needed here)."""
    cells = json.loads(path.read_text()).get("cells", [])
    return any(MARKERS[0] in "".join(c.get("source", "")) for c in cells)


WITH_SOLUTIONS = [p for p in PATHS if _has_solution(p)]


def test_the_exercise_notebooks_have_their_exercises():
    for name, count in EXERCISES.items():
        nb = _read(NOTEBOOKS / f"{name}.ipynb")
        names = [CHECK_CALL.search(c.source).group(1) for c in _check_cells(nb)]
        assert len(names) >= count, f"{name}: checks {names}, expected at least {count}"
        assert any(MARKERS[0] in c.source for c in nb.cells), f"{name}: no solution region"


@pytest.mark.parametrize("path", PATHS, ids=IDS)
def test_stored_checks_pass_and_solutions_are_marked_for_nbgrader(path):
    """The stored notebooks are the teacher's: every check shows "passed", and every cell with
    a solution region is an nbgrader solution cell (or nbgrader refuses the notebook)."""
    nb = _read(path)
    for cell in _check_cells(nb):
        name = CHECK_CALL.search(cell.source).group(1)
        assert f"{name}: passed" in _text(cell), f"{path.name}: check {name!r}: {_text(cell)}"
    ids = []
    for cell in nb.cells:
        meta = cell.get("metadata", {}).get("nbgrader", {})
        ids += [meta["grade_id"]] if "grade_id" in meta else []
        if MARKERS[0] in cell.source:
            assert meta.get("solution") is True, f"{path.name}: a solution region in a cell " \
                f"not marked as an nbgrader solution cell:\n{cell.source[:200]}"
    assert len(ids) == len(set(ids)), f"{path.name}: nbgrader grade_ids repeat: {ids}"


def test_make_student_clears_the_solutions(tmp_path):
    pytest.importorskip("nbformat")
    make_student = _make_student()
    assert make_student.main([str(tmp_path)]) == 0
    assert (tmp_path / "my_digit.png").is_file()
    for path in PATHS:
        teacher, student = _read(path), _read(tmp_path / path.name)
        assert len(student.cells) == len(teacher.cells)
        for before, after in zip(teacher.cells, student.cells):
            assert not any(m in after.source for m in MARKERS), f"{path.name}: a marker is left"
            if after.cell_type == "code":
                assert not after.outputs and after.execution_count is None
            solution = _solution_lines(before.source)
            if not solution:
                continue
            assert "# YOUR CODE HERE\n" in after.source and "raise NotImplementedError()" \
                in after.source, f"{path.name}: no stub where the solution was"
            kept = set(line.strip() for line in after.source.split("\n"))
            outside = set(line.strip() for line in before.source.split("\n")) - set(solution)
            leaked = [line for line in solution if line in kept and line not in outside]
            assert not leaked, f"{path.name}: solution lines left in the student copy: {leaked}"


def test_make_student_keeps_the_lines_around_a_solution_as_nbgrader_does():
    clear = _make_student().clear_regions
    source = ("class A:\n    def f(self, x):\n        \"\"\"Doc.\"\"\"\n"
              "        ### BEGIN SOLUTION\n        return x\n        ### END SOLUTION\n\n"
              "    def g(self):\n        return 1")
    text, found = clear(source, ["# YOUR CODE HERE", "raise NotImplementedError()"])
    assert found and text == ("class A:\n    def f(self, x):\n        \"\"\"Doc.\"\"\"\n"
                              "        # YOUR CODE HERE\n        raise NotImplementedError()\n\n"
                              "    def g(self):\n        return 1")
    for broken in ["### BEGIN SOLUTION\nx = 1", "x = 1\n### END SOLUTION",
                   "### BEGIN SOLUTION\n### BEGIN SOLUTION\n### END SOLUTION"]:
        with pytest.raises(ValueError):
            clear(broken, ["pass"])


@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=[p.stem for p in WITH_SOLUTIONS])
def test_nbgrader_clears_the_same_solutions(path):
    """nbgrader's own ClearSolutions step gives the same code as make_student.py: a teacher's
    nbgrader and the script make the same student copy (and nbgrader accepts the notebook)."""
    try:
        from nbgrader.preprocessors import ClearSolutions
    except ImportError:
        pytest.skip("nbgrader is not installed (pip install nbgrader; CI installs it)")
    theirs, _ = ClearSolutions().preprocess(_read(path), {})
    ours = _make_student().student_notebook(_read(path), path.name)
    assert len(theirs.cells) == len(ours.cells)
    for a, b in zip(theirs.cells, ours.cells):
        assert not any(m in a.source for m in MARKERS)
        assert a.source == b.source, f"{path.name}: nbgrader gives\n{a.source}\n" \
                                     f"make_student.py gives\n{b.source}"


@pytest.mark.notebooks
@pytest.mark.parametrize("path", WITH_SOLUTIONS, ids=[p.stem for p in WITH_SOLUTIONS])
def test_student_notebook_runs_and_every_check_says_not_written(path, tmp_path):
    """The student copy runs top to bottom without an error: the checks report "not written
    yet" and no later cell needs the learner's classes."""
    nbformat = pytest.importorskip("nbformat")
    nbclient = pytest.importorskip("nbclient")
    pytest.importorskip("ipykernel")
    make_student = _make_student()
    assert make_student.main([str(tmp_path), path.name[:2]]) == 0
    nb = nbformat.read(tmp_path / path.name, as_version=4)
    client = nbclient.NotebookClient(nb, timeout=1800, kernel_name="python3",
                                     record_timing=False,
                                     resources={"metadata": {"path": str(tmp_path)}})
    client.execute()          # raises CellExecutionError on the first failing cell
    assert not _errors(nb), f"student {path.name}: {_errors(nb)}"
    checks = _check_cells(nb)
    if not checks:   # a layer of one's own has no exercise: its gradient-check cell says it
        assert any("not written yet" in _text(c) for c in _code_cells(nb)), \
            f"student {path.name}: no check cell, and no cell says 'not written yet'"
        return
    for cell in checks:
        name = CHECK_CALL.search(cell.source).group(1)
        assert f"{name}: not written yet" in _text(cell), \
            f"student {path.name}: check {name!r} says {_text(cell)[:300]}"
