"""Regenerate README.md's FGSM table from real output: run ``barenet attack`` on the default
`mlp` and `cnn` runs and put the accuracies between ``<!-- attack:start -->`` and
``<!-- attack:end -->``.

    python scripts/readme_attack.py RUNS/mlp RUNS/cnn          # seconds: 1,000 test images
    python scripts/readme_attack.py RUNS/mlp RUNS/cnn --print  # show the table only

The runs should be trained with `barenet train`'s defaults (`--model mlp`, `--model cnn`); the
table quotes each run's own test accuracy beside the attack's.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

from readme_tour import ROOT, barenet_command, splice

START, END = "<!-- attack:start -->", "<!-- attack:end -->"


def attack(runs: list[str], limit: int) -> list[dict]:
    """``barenet attack RUNS --json`` with the default eps."""
    proc = subprocess.run(barenet_command() + ["attack", *runs, "--limit", str(limit), "--json"],
                          stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=900)
    if proc.returncode != 0:
        raise RuntimeError(f"barenet attack: exit code {proc.returncode}: "
                           f"{proc.stderr.strip()[-300:]}")
    return json.loads(proc.stdout)


def table(results: list[dict], runs: list[str]) -> str:
    """The markdown table: one row per run, one column per eps."""
    eps = results[0]["eps"]
    head = "| run (model) | " + " | ".join(f"eps {e:g}" for e in eps) + " |"
    rows = [head, "|---|" + "---:|" * len(eps)]
    for r, run in zip(results, runs):
        model = json.loads((Path(run) / "config.json").read_text())["model"]["name"]
        cells = " | ".join(f"{a:.1%}" for a in r["accuracy"])
        rows.append(f"| `{model}` | {cells} |")
    n = results[0]["n"]
    note = (f"\nAccuracy on the first {n:,} MNIST test images after the fast gradient sign "
            f"method at each eps (pixels span 0 to 1), for runs trained with `barenet train "
            f"--model NAME`'s defaults; eps 0 is `barenet evaluate --limit {n}`'s accuracy. "
            f"Measured by `python scripts/readme_attack.py`; "
            f"`barenet attack RUN... --out DIR` draws the curves and the fooled pictures.")
    return "\n".join(rows) + "\n" + note


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("runs", nargs="+", help="run directories (the default mlp and cnn)")
    ap.add_argument("--limit", type=int, default=1000, help="test images (default 1000)")
    ap.add_argument("--print", action="store_true", help="print the table, leave README alone")
    args = ap.parse_args(argv)
    block = table(attack(args.runs, args.limit), args.runs)
    if args.print:
        print(block)
        return 0
    readme = ROOT / "README.md"
    readme.write_text(splice(readme.read_text(), block, START, END))
    print(f"README.md: FGSM table updated from {', '.join(args.runs)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
