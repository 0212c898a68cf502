"""``barenet exercises``: list the exercises, write a stub, grade a learner's files."""
from __future__ import annotations

import argparse
import json
import sys

from .common import add_command, table

DESCRIPTION = """\
Learn backprop by writing it. `barenet exercises` lists the exercises in teaching order;
`start NAME` writes exercises/NAME.py, a class with its parameters declared and forward/backward
(or step) left to write; `check FILE|DIR` grades every exercise file against barenet's own
layer and numerical gradients, naming the wrong quantity and, when it recognises one, the
mistake. A file is exercise NAME when it holds the line '# barenet-exercise: NAME' (stubs do)
or is called NAME.py.

exit status of check: 0 every exercise passes, 1 one fails or is not written yet, 2 usage
error (unknown exercise, a file that does not import, an existing file for start)."""

EXAMPLES = """\
  barenet exercises                               the list, with docs pages and notebooks
  barenet exercises start linear                  write exercises/linear.py
  barenet exercises check exercises/linear.py     grade it
  barenet exercises check exercises --json        grade every exercise file of the folder"""

USAGE_ERROR = 2


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "exercises", "write layers yourself and have them graded",
                    DESCRIPTION, EXAMPLES)
    p.add_argument("--json", action="store_true", help="print the list as JSON")
    actions = p.add_subparsers(dest="action", metavar="ACTION")
    ls = actions.add_parser("list", help="list the exercises (the default)")
    ls.add_argument("--json", action="store_true", help="print a JSON list")
    start = actions.add_parser("start", help="write the stub file of an exercise")
    start.add_argument("name", metavar="NAME", help="the exercise, e.g. linear")
    start.add_argument("--dir", default="exercises", metavar="DIR",
                       help="folder to write NAME.py into (default: exercises)")
    check = actions.add_parser("check", help="grade exercise files")
    check.add_argument("paths", nargs="+", metavar="FILE|DIR",
                       help="an exercise file, or a folder of them")
    check.add_argument("--json", action="store_true",
                       help='print a JSON list of {"exercise", "file", "status", "checks"}')
    p.set_defaults(func=run)
    return p


def _list(as_json: bool) -> int:
    from ..exercises import CATALOGUE

    rows = [{"name": r.name, "class": r.class_name, "signature": r.signature, "kind": r.kind,
             "asks": r.asks, "docs": f"docs/{r.docs}", "notebook": r.notebook}
            for r in CATALOGUE]
    if as_json:
        print(json.dumps(rows))
        return 0
    body = [[i + 1, r["name"], r["class"], r["notebook"], r["docs"], r["asks"]]
            for i, r in enumerate(rows)]
    print(table(["#", "exercise", "class", "notebook", "docs", "asks for"], body, "><<<<<"))
    print("\nstart one with: barenet exercises start NAME   (writes exercises/NAME.py)")
    return 0


def _start(name: str, directory: str) -> int:
    from ..exercises import info, write_stub

    path = write_stub(name, directory)
    row = info(name)
    print(f"wrote {path}: complete class {row.class_name}, then run "
          f"`barenet exercises check {path}` (read docs/{row.docs})")
    return 0


def _check(paths: list[str], as_json: bool) -> int:
    from ..exercises import check_path

    results = [r for path in paths for r in check_path(path)]
    if as_json:
        print(json.dumps([r.to_dict() for r in results]))
    else:
        for r in results:
            print(r.report())
        passed = sum(r.passed for r in results)
        print(f"\n{passed} of {len(results)} exercise{'s' if len(results) != 1 else ''} pass")
    return 0 if all(r.passed for r in results) else 1


def run(args: argparse.Namespace) -> int:
    from ..errors import brief
    from ..exercises import ExerciseError

    try:
        if args.action == "start":
            return _start(args.name, args.dir)
        if args.action == "check":
            return _check(args.paths, args.json)
        return _list(args.json)
    except ExerciseError as exc:
        print(f"barenet: error: {brief(exc, 1000)}", file=sys.stderr)
        return USAGE_ERROR
