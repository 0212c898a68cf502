"""Regenerate README.md's tour from real output: run its commands on the embedded MNIST and put
what they print between ``<!-- tour:start -->`` and ``<!-- tour:end -->``.

    python scripts/readme_tour.py              # about 15 s of training on two cores
    python scripts/readme_tour.py --print      # show the tour, leave README.md alone

The commands run in a fresh temporary directory (with this repository's docs/ linked in, for
the picture), with the ``barenet`` installed next to this Python, so the run directory they
make is the one README's set-up makes. The CNN line quotes ``benchmarks/results/ladder.json``
(it takes minutes, so it is not run here).
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
START, END = "<!-- tour:start -->", "<!-- tour:end -->"
#: (command after `barenet`, comment shown after it, lines kept: None for all, or (head, tail)
#: lines around a "..."; for train the head/tail count epoch lines).
COMMANDS = [
    (["train", "--out", "runs/mlp"], "", (3, 4)),
    (["evaluate", "runs/mlp"], "# also --json; draws the confusion matrix and more into the run",
     (4, 0)),
    (["predict", "runs/mlp", "docs/digit-7.png", "--top-k", "3"], "", None),
    (["explain", "runs/mlp", "docs/digit-7.png", "--out", "why"],
     "# the input gradient: which pixels raise p(7)", None),
    (["attack", "runs/mlp", "--limit", "1000"], "# fooled by steps of eps along the gradient's sign",
     None),
]
TIMEOUT_S = 900


def barenet_command() -> list[str]:
    """The ``barenet`` executable beside this Python, else ``python -m barenet``."""
    exe = Path(sys.executable).with_name("barenet")
    return [str(exe)] if exe.is_file() else [sys.executable, "-m", "barenet"]


def run(args: list[str], cwd: Path) -> tuple[list[str], float]:
    """Run ``barenet ARGS`` in ``cwd``: (stdout and stderr lines as a terminal shows them, the
    wall-clock seconds). Raises RuntimeError, naming the command, if it fails."""
    env = {k: v for k, v in os.environ.items() if k not in ("BARENET_DATA", "BARENET_MIRRORS")}
    start = time.perf_counter()
    proc = subprocess.run(barenet_command() + args, cwd=cwd, env=env, stdout=subprocess.PIPE,
                          stderr=subprocess.STDOUT, text=True, timeout=TIMEOUT_S)
    seconds = time.perf_counter() - start
    if proc.returncode != 0:
        tail = proc.stdout.strip().splitlines()[-1:] or ["no output"]
        raise RuntimeError(f"barenet {' '.join(args)}: exit code {proc.returncode}: {tail[0]}")
    return proc.stdout.rstrip("\n").splitlines(), seconds


def elide(lines: list[str], keep: tuple[int, int] | None, epochs: bool) -> list[str]:
    """``lines`` shortened by a "..." line: ``keep`` = (head, tail) lines, counted among the
    epoch lines only when ``epochs`` (the lines around those are all kept)."""
    if keep is None:
        return lines
    head, tail = keep
    if not epochs:
        return lines if len(lines) <= head + tail else \
            lines[:head] + ["..."] + (lines[len(lines) - tail:] if tail else [])
    idx = [i for i, line in enumerate(lines) if line.startswith("epoch ")]
    if len(idx) <= head + tail:
        return lines
    cut_from, cut_to = idx[head], idx[len(idx) - tail]
    return lines[:cut_from] + ["..."] + lines[cut_to:]


def cnn_note(ladder: Path = ROOT / "benchmarks" / "results" / "ladder.json") -> str:
    """'# 99.45% in 2.6 minutes' for the default CNN on MNIST from the accuracy ladder."""
    try:
        results = json.loads(ladder.read_text())["results"]
        rec = next(r for r in results if (r["model"], r["dataset"]) == ("cnn", "mnist"))
    except (OSError, ValueError, KeyError, StopIteration):
        return ""
    return f"# {100 * rec['test_accuracy']:.2f}% in {rec['train_seconds'] / 60:.1f} minutes"


def machine() -> str:
    """'a 2-core machine', saying so when other jobs kept it busy (load average over 1 per core
    at the end): the times shown are then longer than they would be alone."""
    cores = os.cpu_count() or 1
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else 0.0
    busy = f" shared with other jobs, load average {load:.1f}" if load > 1.0 * cores else ""
    return f"a {cores}-core machine{busy}"


def tour(workdir: Path) -> str:
    """Run the tour's commands in ``workdir`` and return the Markdown between the markers."""
    (workdir / "docs").symlink_to(ROOT / "docs", target_is_directory=True)
    blocks, train_s = [], None
    width = max(len(" ".join(args)) for args, _, _ in COMMANDS) + len("$ barenet ") + 2
    for args, comment, keep in COMMANDS:
        lines, seconds = run(args, workdir)
        if args[0] == "train":
            train_s = seconds
        shown = f"$ barenet {' '.join(args)}"
        shown = f"{shown:<{width}}{comment}".rstrip()
        blocks.append("\n".join([shown] + elide(lines, keep, epochs=args[0] == "train")))
    cnn = "$ barenet train --model cnn --out runs/cnn"
    blocks.append(f"{cnn:<{width}}{cnn_note()}".rstrip() + "\n"
                  f"{'$ barenet serve runs/cnn':<{width}}# open http://127.0.0.1:8000 and draw")
    intro = (f"The set-up's `barenet train --out runs/mlp` trained the classic network into "
             f"`runs/mlp`; this is what it printed ({train_s:.1f} s wall clock on {machine()}), "
             f"and what to do next. Real output, regenerated by "
             f"`python scripts/readme_tour.py`:")
    return f"{textwrap.fill(intro, 100)}\n\n```console\n" + "\n\n".join(blocks) + "\n```"


def splice(text: str, block: str, start: str = START, end: str = END) -> str:
    """``text`` with everything between the markers ``start`` and ``end`` replaced by
    ``block``; ValueError if the markers are missing or out of order."""
    i, j = text.find(start), text.find(end)
    if i < 0 or j < i:
        raise ValueError(f"README.md: expected the markers {start} ... {end}")
    return text[:i + len(start)] + "\n" + block.strip("\n") + "\n" + text[j:]


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--readme", type=Path, default=ROOT / "README.md")
    ap.add_argument("--print", action="store_true", help="print the tour; do not write README")
    args = ap.parse_args(argv)
    workdir = Path(tempfile.mkdtemp(prefix="barenet-tour-"))
    try:
        block = tour(workdir)
    except (RuntimeError, subprocess.TimeoutExpired) as exc:
        print(f"readme_tour: {exc}", file=sys.stderr)
        return 1
    finally:
        shutil.rmtree(workdir, ignore_errors=True)
    if args.print:
        print(block)
        return 0
    text = args.readme.read_text(encoding="utf-8")
    try:
        new = splice(text, block)
    except ValueError as exc:
        print(f"readme_tour: {exc}", file=sys.stderr)
        return 1
    tmp = args.readme.with_name(args.readme.name + ".tmp")
    tmp.write_text(new, encoding="utf-8")
    os.replace(tmp, args.readme)
    print(f"readme_tour: wrote the tour into {args.readme}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
