"""``barenet plot RUN``: draw every figure of a trained run (re-evaluating on the test set)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError

DESCRIPTION = """\
Draw a run's figures as PNG files: loss and accuracy curves (train and validation, from
metrics.csv), the confusion matrix, the most confident mistakes on the test set, the first
layer's weights as images, and per-class accuracy; for a run trained with --diagnostics also
gradient_flow.png (per layer and epoch: gradient norm, update-to-weight ratio against the 1e-3
rule of thumb, dead ReLU units). The test-set figures come from a fresh evaluation of the
saved weights. `barenet train` and `barenet evaluate` draw them too."""

EPILOG = """examples:
  barenet plot runs/mlp                 write the PNG files into runs/mlp/
  barenet plot runs/cnn --out figures/  write them into figures/ instead"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    parser = subparsers.add_parser(
        "plot", help="draw a run's curves, confusion matrix, mistakes and weights",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run", metavar="RUN", help="run directory written by `barenet train`")
    parser.add_argument("--out", metavar="DIR", help="where to write the PNG files "
                        "(default: the run directory)")
    parser.add_argument("--data-dir", metavar="D", help="where the dataset is (default: where "
                        "the run was trained from, else the usual places)")
    parser.add_argument("--limit", type=int, metavar="N",
                        help="evaluate on the first N test images only (quick checks)")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..data.datasets import load_dataset
    from ..train.checkpoint import load_run
    from ..train.evaluate import evaluate_run

    try:
        import matplotlib  # noqa: F401

        from .. import plots
    except ImportError:
        raise ConfigError('plots need matplotlib: pip install "barenet[cli]"') from None
    if args.limit is not None and args.limit < 1:
        raise ConfigError(f"--limit must be at least 1, got {args.limit}")
    run_ = load_run(args.run)
    test = load_dataset(run_.dataset_spec, "test", data_dir=run_.data_dir(args.data_dir))
    result = evaluate_run(run_, test, limit=args.limit)
    history = plots.read_metrics_csv(Path(args.run) / "metrics.csv") or run_.history
    out = Path(args.out) if args.out else Path(args.run)
    written = plots.plot_run(out, history, result, run_, dataset=test)
    print(f"test accuracy {result['accuracy']:.4f} on {result['n']} images; "
          f"wrote {len(written)} figures:")
    for path in written:
        print(f"  {path}")
    return 0
