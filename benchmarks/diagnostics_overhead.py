"""What ``barenet train --diagnostics`` costs: training epochs with it off, on, and (with
``--git-ref``) the ``Trainer`` of another revision, e.g. the one before diagnostics existed.

Run: ``python benchmarks/diagnostics_overhead.py [--model mlp] [--images 10000] [--repeats 5]
[--git-ref REF] [--json OUT.json]``. Each mode trains one epoch of ``--images`` MNIST images
with the model's ``barenet train`` defaults (optimizer, learning rate, batch size; constant
learning rate, no validation), from the same initial weights and the same batch order. The
modes run one after the other within each repeat, in an order that alternates between repeats,
after a 0.5 s pause each; the table shows the median and the best seconds per epoch (on a
shared machine the best is the steadier), each with its ratio to the first mode. Off should match the revision before within the noise: it
runs the same loop and only swaps ``optimizer.step`` for itself.
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import types
from pathlib import Path
from typing import Any, Callable

import common
import numpy as np

from barenet import nn
from barenet.models import build_model, model_input
from barenet.train.config import resolve_config
from barenet.train.factories import make_optimizer
from barenet.train.trainer import Trainer

ROOT = Path(__file__).resolve().parent.parent


def trainer_at(ref: str) -> type:
    """The ``Trainer`` class of ``src/barenet/train/trainer.py`` at git revision ``ref``,
    imported beside the current package (its relative imports resolve to today's modules)."""
    source = subprocess.run(["git", "show", f"{ref}:src/barenet/train/trainer.py"], cwd=ROOT,
                            capture_output=True, text=True, check=True).stdout
    module = types.ModuleType("barenet.train._trainer_at_ref")
    module.__package__ = "barenet.train"
    module.__file__ = f"{ref}:src/barenet/train/trainer.py"
    sys.modules[module.__name__] = module   # dataclasses look their module up there
    exec(compile(source, module.__file__, "exec"), module.__dict__)  # noqa: S102
    return module.Trainer


def epoch_runner(trainer_cls: type, data: common.Data, cfg: dict[str, Any],
                 **options: Any) -> Callable[[], float]:
    """A function that trains one fresh epoch with ``trainer_cls`` and returns its seconds."""
    kind = model_input(cfg["spec"])

    def run() -> float:
        model = build_model(cfg["spec"], rng=np.random.default_rng(0))
        opt = make_optimizer(cfg["optimizer"], model.parameters(), cfg["lr"], cfg["momentum"],
                             cfg["weight_decay"])
        trainer = trainer_cls(model, opt, nn.CrossEntropyLoss(), (data.train_x, data.train_y),
                              None, data.normalize(kind), epochs=1,
                              batch_size=cfg["batch_size"],
                              shuffle_rng=np.random.default_rng(1), **options)
        common.settle()
        return trainer.fit().history[0]["seconds"]

    return run


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--model", default="mlp", help="a barenet model name (default: mlp)")
    ap.add_argument("--images", type=int, default=10_000, help="training images per epoch")
    ap.add_argument("--repeats", type=int, default=5)
    ap.add_argument("--git-ref", metavar="REF",
                    help="also time the Trainer of this git revision (e.g. the one before "
                         "diagnostics) as the first mode")
    ap.add_argument("--json", metavar="OUT.json", help="write every timing here")
    args = ap.parse_args(argv)
    data = common.Data(limit_train=args.images, limit_test=1)
    cfg = resolve_config({"model": args.model})
    modes: dict[str, Callable[[], float]] = {}
    if args.git_ref:
        modes[f"trainer at {args.git_ref}"] = epoch_runner(trainer_at(args.git_ref), data, cfg)
    modes["diagnostics off"] = epoch_runner(Trainer, data, cfg)
    modes["diagnostics on"] = epoch_runner(Trainer, data, cfg, diagnostics=True)
    for run in modes.values():   # warm-up: caches, threads, first-touch pages
        run()
    times: dict[str, list[float]] = {name: [] for name in modes}
    for i in range(args.repeats):
        order = list(modes) if i % 2 == 0 else list(reversed(modes))
        for name in order:
            times[name].append(modes[name]())
    steps = -(-len(data.train_y) // cfg["batch_size"])
    ref = next(iter(times.values()))
    rows = [[name, common.median(t), common.median(t) / common.median(ref), min(t),
             min(t) / min(ref), 1000 * min(t) / steps] for name, t in times.items()]
    print(f"{args.model}, {len(data.train_y)} images ({steps} steps of {cfg['batch_size']}), "
          f"{cfg['optimizer']} lr {cfg['lr']:g}; median of {args.repeats}; "
          f"{common.blas_environment()}")
    print(common.markdown_table(["mode", "median s / epoch", "ratio", "best s / epoch", "ratio",
                                 "best ms / step"], rows))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"model": args.model, "images": args.images, "steps": steps, "times": times,
             "machine": common.machine_info({})}, indent=1))
    return 0


if __name__ == "__main__":
    common.run_with_numpys_own_kernel()
    sys.exit(main())
