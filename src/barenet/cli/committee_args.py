"""``--ensemble`` and ``--tta N``, shared by evaluate, predict and serve: which runs form the
committee, loaded and checked (``barenet.committee``), and how many views of each picture.

One form works in all three: ``RUN --ensemble RUN2 [--ensemble RUN3 ...]``, each
``--ensemble`` adding one run. evaluate and serve, whose only positional arguments are runs,
also take ``RUN RUN2 ... --ensemble``; several RUNs without ``--ensemble`` are refused with
a hint (predict's pictures come after its RUN, so there --ensemble always names its run).
"""
from __future__ import annotations

import argparse
from pathlib import Path
from typing import Any

from ..committee.shifts import MAX_TTA, tta_shifts
from ..errors import ConfigError
from ..train.fileio import printable
from .common import positive_int

TTA_HELP = (f"average each picture's probabilities over N views: the picture and its "
            f"one-pixel shifts right, left, down, up, then diagonally, zero-filled "
            f"(1..{MAX_TTA}; default 1: the picture alone)")


def add_committee_args(parser: argparse.ArgumentParser, runs_positional: bool) -> None:
    """Add ``--ensemble`` and ``--tta N`` to ``parser``. ``runs_positional``: the command's
    positional arguments are runs (``--ensemble`` may then be given bare)."""
    fit = "the runs must share their dataset, classes and picture size"
    if runs_positional:
        help_ = (f"use the RUNs as a committee: the mean of their softmax probabilities; "
                 f"--ensemble RUN2 adds one more run (repeatable); {fit}")
    else:
        help_ = (f"add the run RUN2 to a committee with RUN: the mean of their softmax "
                 f"probabilities (repeatable, one run each); {fit}")
    if runs_positional:
        parser.add_argument("--ensemble", action="append", nargs="?", const=None, default=[],
                            metavar="RUN2", help=help_)
    else:
        parser.add_argument("--ensemble", action="append", default=[], metavar="RUN2",
                            help=help_)
    parser.add_argument("--tta", type=positive_int, default=1, metavar="N", help=TTA_HELP)


def committee_paths(args: argparse.Namespace, command: str) -> list[str]:
    """The run directories ``args`` names, the committee's first run first: the positional
    RUN(s), then each ``--ensemble RUN2``. ConfigError (one line, with the command to type)
    for several positional RUNs without --ensemble, --ensemble with a single run, or a
    --tta out of range."""
    tta_shifts(args.tta)   # 1..MAX_TTA, refused before any run is loaded
    given = list(args.runs) if hasattr(args, "runs") else [args.run]
    added = [r for r in args.ensemble if r is not None]
    if len(given) > 1 and not args.ensemble:
        shown = " ".join(printable(r, 60) for r in given)
        raise ConfigError(f"{command}: {len(given)} runs given; to {command} them as a committee "
                          f"(the mean of their probabilities) add --ensemble: barenet {command} "
                          f"{shown} --ensemble")
    paths = given + added
    if args.ensemble and len(paths) < 2:
        raise ConfigError(f"{command}: --ensemble needs a second run: barenet {command} "
                          f"{printable(paths[0], 60)} --ensemble RUN2")
    for extra in added:
        if Path(extra).is_file():
            raise ConfigError(f"--ensemble {printable(extra, 60)}: a file, not a run directory; "
                              f"--ensemble takes one run each: barenet {command} RUN "
                              f"--ensemble RUN2 ...")
    return paths


def load_committee(paths: list[str]) -> list[Any]:
    """The runs at ``paths``, loaded (``load_run``) and checked to form a committee."""
    from ..committee import check_committee
    from ..train.checkpoint import load_run

    runs = [load_run(p) for p in paths]
    check_committee(runs)
    return runs


def committee_name(runs: list[Any], limit: int = 60) -> str:
    """``runs/a`` for one run, ``runs/a + runs/b`` for a committee (escaped, each cut)."""
    return " + ".join(printable(str(r.run_dir), limit) for r in runs)


__all__ = ["TTA_HELP", "add_committee_args", "committee_name", "committee_paths",
           "load_committee"]
