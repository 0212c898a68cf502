"""Execute the course notebooks in place, from the current code, and record their run times.

    python notebooks/run_all.py               # all of them, in order
    python notebooks/run_all.py 04 07         # only those whose names start with 04 or 07
    python notebooks/run_all.py --budget 0    # do not fail a notebook for running long

Each notebook runs top to bottom in a fresh kernel (nbclient), with the notebooks folder as its
working directory (07 reads my_digit.png from there; anything a notebook writes goes to a
temporary directory of its own). A notebook that runs without error is saved with its outputs
and figures; one that fails is left as it was. The run times, and each notebook's lines that
start with "Result:", go into the table of notebooks/README.md.

Exit status 1 when a notebook fails or takes longer than --budget seconds (300: the course
promises five minutes per notebook on a 2-core machine); the others are still run and saved.
"""
from __future__ import annotations

import argparse
import os
import platform
import re
import sys
import time
from datetime import datetime, timezone
from pathlib import Path

HERE = Path(__file__).resolve().parent
README = HERE / "README.md"
START, END = "<!-- times:start -->", "<!-- times:end -->"
BUDGET_SECONDS = 300
RESULT = re.compile(r"^Result: (.+)$", re.MULTILINE)


def notebooks(prefixes: list[str]) -> list[Path]:
    """The course notebooks (NN-name.ipynb), those starting with one of ``prefixes`` if any."""
    found = sorted(p for p in HERE.glob("[0-9][0-9]-*.ipynb"))
    if prefixes:
        found = [p for p in found if any(p.name.startswith(x) for x in prefixes)]
    return found


def execute(path: Path, timeout: int, write: bool = True) -> tuple[float, object]:
    """Run one notebook in a fresh kernel; returns (seconds, executed notebook). Raises
    nbclient's CellExecutionError (or a timeout) on the first failing cell, without writing."""
    import nbformat
    from nbclient import NotebookClient

    nb = nbformat.read(path, as_version=4)
    client = NotebookClient(nb, timeout=timeout, kernel_name="python3", record_timing=False,
                            resources={"metadata": {"path": str(HERE)}})
    start = time.perf_counter()
    client.execute()
    seconds = time.perf_counter() - start
    if write:
        tmp = path.with_name(f".{path.name}.tmp")
        nbformat.write(nb, tmp)
        os.replace(tmp, path)
    return seconds, nb


def results(nb: object) -> list[str]:
    """The "Result: ..." lines a notebook printed."""
    found = []
    for cell in nb.cells:
        for out in cell.get("outputs", []):
            if out.get("output_type") == "stream":
                found += RESULT.findall(out.get("text", ""))
    return found


def _cpu_name() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def update_readme(rows: dict[str, tuple[float, float, list[str]]]) -> None:
    """Rewrite the table between the markers of README.md, keeping rows not rerun now.
    ``rows``: notebook file name -> (seconds, load average when it started, result lines)."""
    text = README.read_text()
    head, rest = text.split(START, 1)
    old_table, tail = rest.split(END, 1)
    old = {}
    for line in old_table.splitlines():
        cells = [c.strip() for c in line.strip().strip("|").split("|")]
        if line.startswith("| [") and len(cells) == 4:
            old[re.search(r"\((.+?)\)", cells[0]).group(1)] = cells
    lines = ["", "| notebook | run time | load average | what it reaches |", "|---|---:|---:|---|"]
    for path in notebooks([]):
        if path.name in rows:
            seconds, load, res = rows[path.name]
            lines.append(f"| [{path.stem}]({path.name}) | {seconds:.0f} s | {load:.1f} | "
                         f"{'; '.join(res) or '—'} |")
        elif path.name in old:
            lines.append("| " + " | ".join(old[path.name]) + " |")
        else:
            lines.append(f"| [{path.stem}]({path.name}) | not run yet | — | — |")
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    stamp = datetime.now(timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    lines += ["", f"Run times of `python notebooks/run_all.py` on {_cpu_name()}, {cores} cores, "
              f"last on {stamp}. The load average is the system's one-minute load when the "
              f"notebook started: above {cores}, other programs were competing for the cores "
              f"and the time is longer than the notebook needs on its own.", ""]
    README.write_text(head + START + "\n".join(lines) + END + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("names", nargs="*", help="prefixes of the notebooks to run (all if none)")
    parser.add_argument("--budget", type=float, default=BUDGET_SECONDS,
                        help="seconds a notebook may take (default 300; 0: no limit)")
    parser.add_argument("--timeout", type=int, default=1800,
                        help="seconds a cell may run before it counts as failed (1800)")
    args = parser.parse_args(argv)
    paths = notebooks(args.names)
    if not paths:
        print(f"no notebook matches {' '.join(args.names)}", file=sys.stderr)
        return 1
    rows: dict[str, tuple[float, float, list[str]]] = {}
    failed, over = [], []
    for path in paths:
        print(f"{path.name} ...", flush=True)
        load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
        try:
            seconds, nb = execute(path, args.timeout)
        except Exception as exc:  # noqa: BLE001 - report it and go on with the next notebook
            first = str(exc).strip().splitlines()
            print(f"{path.name}: FAILED, left unchanged: {type(exc).__name__}: "
                  f"{first[-1] if first else ''}", file=sys.stderr)
            print(str(exc)[-3000:], file=sys.stderr)
            failed.append(path.name)
            continue
        rows[path.name] = (seconds, load, results(nb))
        note = ""
        if args.budget and seconds > args.budget:
            over.append(path.name)
            note = f"  OVER the {args.budget:.0f} s budget"
        print(f"{path.name}: {seconds:.1f} s{note}", flush=True)
        for line in rows[path.name][2]:
            print(f"  Result: {line}")
    if rows:
        update_readme(rows)
    if failed or over:
        print(f"failed: {', '.join(failed) or 'none'}; over budget: {', '.join(over) or 'none'}",
              file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
