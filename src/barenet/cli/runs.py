"""``barenet runs``: the run directories under a folder, one row each."""
from __future__ import annotations

import argparse
from typing import Any

from ..errors import BarenetError
from .common import add_command, pct, table

DESCRIPTION = """\
List the run directories directly under DIR (default: runs): name, model, dataset, epochs
completed of those planned, test accuracy, date and status. The status is finished,
interrupted (stopped before its last epoch: continue it with barenet train --resume RUN),
training (another process is training it now), saved (a model saved with save_run) or
unreadable (its files cannot be read; the reason is shown). Folders without a run are counted,
not listed."""

EXAMPLES = """\
  barenet runs                       the runs under ./runs
  barenet runs experiments/          another folder
  barenet runs --json                the same as a JSON list, one object per run"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "runs", "list the runs in a folder", DESCRIPTION, EXAMPLES)
    p.add_argument("dir", nargs="?", default="runs", metavar="DIR",
                   help="the folder holding run directories (default: runs)")
    p.add_argument("--json", action="store_true", help="print a JSON list instead of a table")
    p.set_defaults(func=run)
    return p


def _row(r: dict[str, Any]) -> list[str]:
    """One table row; every string read from the run is shown escaped and cut."""
    from ..train.fileio import printable

    done, planned = r["epochs_completed"], r["epochs"]
    epochs = "-" if done is None and planned is None else \
        f"{'?' if done is None else done}/{'?' if planned is None else planned}"
    date = printable((r["created"] or "-")[:16].replace("T", " "), 40)
    status = r["status"] if r["error"] is None else f"unreadable: {printable(r['error'], 200)}"
    return [printable(r["name"], 60), printable(r["model"] or "-", 30),
            printable(r["dataset"] or "-", 30), epochs, pct(r["test_accuracy"]), date, status]


def run(args: argparse.Namespace) -> int:
    from ..train.fileio import dumps_strict, printable
    from ..train.listing import MAX_RUNS, list_runs

    try:
        runs, others = list_runs(args.dir)
    except BarenetError as exc:
        hint = " (train a model first: barenet train)" if args.dir == "runs" else ""
        raise BarenetError(f"{exc}{hint}") from None
    if args.json:
        print(dumps_strict(runs, indent=2))
        return 0
    if not runs:
        print(f"no runs in {args.dir}")
    else:
        print(table(["name", "model", "dataset", "epochs", "test acc", "date (UTC)", "status"],
                    [_row(r) for r in runs], align="<<<>><<"))
    if others:
        shown = ", ".join(printable(o, 60) for o in others[:5]) + \
            (", ..." if len(others) > 5 else "")
        print(f"({len(others)} folder{'s' if len(others) != 1 else ''} without a run: {shown})")
    if len(runs) + len(others) >= MAX_RUNS:
        print(f"(only the first {MAX_RUNS} entries of {args.dir} were looked at)")
    return 0
