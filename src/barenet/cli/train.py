"""``barenet train``: train a model, save a run directory, report the test accuracy."""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

from ..errors import ConfigError
from .common import (
    ProgressPrinter,
    add_command,
    add_data_args,
    finite_float,
    int_list,
    non_negative_int,
    pct,
    positive_int,
    seconds,
    warn,
)

DESCRIPTION = """\
Train a model and save it as a run directory (config.json, weights.npz, metrics.csv, resume
state and figures). With no options it trains the classic network, Linear(784, 200) -> ReLU ->
Linear(200, 10), on the embedded MNIST: SGD with momentum 0.9, lr 0.05, weight decay 5e-4, a
cosine schedule, batches of 64, 15 epochs, 10% of the training set held out for validation. It
reaches about 98.4% test accuracy in well under two minutes on two cores.

Every model has its own defaults (see `barenet models`); flags override them, and so does a
JSON file given with --config (flags win over the file). The weights kept are those of the
epoch with the best validation accuracy. The run is saved after every epoch: Ctrl-C keeps the
last completed epoch and `--resume RUN` continues exactly where it stopped, giving the same
final weights as an uninterrupted run with the same --seed; with --lr, --epochs, --batch-size
and other optimisation flags it continues under those settings instead (a run that diverged
can go on with a lower --lr). --from RUN starts a new run from a finished run's best weights
(fine-tuning, or more epochs). An existing run directory is never overwritten unless you pass
--overwrite, and a directory being trained is refused to any other process. A batch size
whose training step will not fit in the memory available is refused before anything starts.
--diagnostics records how the gradient flows: per epoch, every parameter's gradient norm and
update-to-weight ratio and every ReLU's fraction of dead units, as metrics.csv columns and the
figure gradient_flow.png; off, it costs nothing. --clip-grad-norm C scales each step's gradients
down to a total L2 norm of C when they are longer (clipping by global norm, as PyTorch's
clip_grad_norm_), which keeps one exploding batch from throwing the weights away; with
--diagnostics the run also records how often it clipped."""

EXAMPLES = """\
  barenet train                                   the classic MLP on MNIST (about 98.4%)
  barenet train --model cnn --out runs/cnn        the default CNN
  barenet train --dataset fashion-mnist --epochs 20 --lr 0.02
  barenet train --optimizer adam --scheduler onecycle --batch-size 128
  barenet train --model mlp-deep --hidden 1024,512 --augment
  barenet train --config runs/tune/best.json      settings found by `barenet tune`
  barenet train --resume runs/cnn                 continue an interrupted run
  barenet train --resume runs/x --lr 0.01         continue a run that diverged, more gently
  barenet train --from runs/cnn --out runs/cnn-ft --epochs 3 --lr 0.0005   fine-tune a run
  barenet train --epochs 2 --limit-train 5000 --quiet   a quick experiment
  barenet train --diagnostics --out runs/mlp      also record gradient flow per epoch
  barenet train --model rnn --clip-grad-norm 1 --diagnostics   clip, and see how often"""

#: CLI flags that set a training setting (dest names are the config keys).
SETTINGS = ("dataset", "model", "hidden", "epochs", "batch_size", "lr", "optimizer", "momentum",
            "weight_decay", "scheduler", "seed", "val_split", "augment", "patience",
            "limit_train", "limit_test", "data_dir", "diagnostics", "clip_grad_norm")


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..models import MODEL_NAMES
    from ..train.config import BASE_DEFAULTS as D

    p = add_command(subparsers, "train", "train a model and save a run directory",
                    DESCRIPTION, EXAMPLES)
    m = p.add_argument_group("model and data")
    m.add_argument("--model", metavar="NAME",
                   help=f"architecture: {', '.join(MODEL_NAMES)} (default: {D['model']})")
    m.add_argument("--architecture", metavar="FILE.json",
                   help="train a model described as data instead of a preset: the format "
                        "save_run writes (`barenet models NAME --json` prints one to start "
                        "from); layers of your own with --layers FILE.py")
    m.add_argument("--hidden", type=int_list, metavar="N[,N...]",
                   help="hidden layer width(s) of an MLP (default: the model's, 200 for mlp)")
    add_data_args(m)
    m.add_argument("--augment", action=argparse.BooleanOptionalAction, default=None,
                   help="random affine distortions of the training images (default: off, "
                        "except for models whose defaults turn it on)")
    o = p.add_argument_group("optimisation (defaults are the model's; shown: mlp)")
    o.add_argument("--epochs", type=positive_int, metavar="N", help=f"default: {D['epochs']}")
    o.add_argument("--batch-size", type=positive_int, metavar="B",
                   help=f"default: {D['batch_size']}")
    o.add_argument("--lr", type=finite_float, metavar="LR",
                   help=f"learning rate, the peak for onecycle (default: {D['lr']} for sgd, "
                        "0.001 for adam, adamw, rmsprop)")
    o.add_argument("--optimizer", metavar="NAME",
                   help=f"sgd, adam, adamw or rmsprop (default: {D['optimizer']})")
    o.add_argument("--momentum", type=finite_float, metavar="M",
                   help=f"SGD/RMSprop momentum, Adam's beta1 (default: {D['momentum']})")
    o.add_argument("--weight-decay", type=finite_float, metavar="WD",
                   help=f"L2 penalty; decoupled for adamw (default: {D['weight_decay']} for sgd)")
    o.add_argument("--scheduler", metavar="NAME",
                   help="learning-rate schedule: none, step (x0.1 at 1/3 and 2/3), cosine, "
                        f"onecycle, plateau (on validation loss) (default: {D['scheduler']})")
    o.add_argument("--seed", type=non_negative_int, metavar="S",
                   help="seeds weights, split, shuffling, dropout, augmentation (default: 0)")
    o.add_argument("--val-split", type=finite_float, metavar="F",
                   help=f"fraction of the training set held out (default: {D['val_split']})")
    o.add_argument("--patience", type=non_negative_int, metavar="N",
                   help="stop after N epochs without a better validation accuracy "
                        "(default: 0, never)")
    o.add_argument("--clip-grad-norm", type=_threshold, metavar="C",
                   help="clip each step's gradients to a total L2 norm of at most C, after "
                        "backward and before the optimizer step (default: off; --resume keeps "
                        "the run's, 'off' stops it)")
    o.add_argument("--config", metavar="FILE.json",
                   help="read settings from a JSON file (keys as these flags, e.g. tune's "
                        "best.json, or a run's config.json); flags override it")
    r = p.add_argument_group("run directory and output")
    r.add_argument("--out", metavar="RUN",
                   help="new run directory (default: runs/<model>-<dataset>-<time>); an "
                        "existing run is never overwritten unless --overwrite")
    r.add_argument("--resume", metavar="RUN",
                   help="continue RUN from its last completed epoch, with its saved settings "
                        "or new values of --epochs, --lr, --batch-size, --optimizer, "
                        "--momentum, --weight-decay, --scheduler, --patience, --diagnostics, "
                        "--clip-grad-norm")
    r.add_argument("--from", dest="from_run", metavar="RUN",
                   help="a new run (--out) starting from RUN's best weights: same model, "
                        "dataset, seed and split; RUN's settings unless flags change them")
    r.add_argument("--overwrite", action="store_true",
                   help="replace the run already in --out (only a run's own files are "
                        "removed)")
    r.add_argument("--quiet", action="store_true",
                   help="no progress bar or per-epoch lines (the bar is also off when stderr "
                        "is not a terminal)")
    r.add_argument("--no-plots", action="store_true", help="do not draw figures into the run")
    r.add_argument("--diagnostics", action=argparse.BooleanOptionalAction, default=None,
                   help="record per epoch each parameter's gradient norm (grad_norm/NAME) and "
                        "update-to-weight ratio (update_ratio/NAME) and each ReLU's fraction "
                        "of dead units (dead_relu/NAME) in metrics.csv, with --clip-grad-norm "
                        "the norm before clipping and the fraction of steps clipped (clip/...), "
                        "and draw gradient_flow.png (default: off; --resume keeps the run's "
                        "choice)")
    q = p.add_argument_group("quick experiments")
    q.add_argument("--limit-train", type=positive_int, metavar="N",
                   help="use only the first N training images (before the validation split)")
    q.add_argument("--limit-test", type=positive_int, metavar="N",
                   help="evaluate on only the first N test images")
    p.set_defaults(func=run)
    return p


def _threshold(text: str) -> float | str:
    """argparse type of --clip-grad-norm: a number, else the text as given (``off``, or a
    mistake that the config's check refuses in one line, naming the flag)."""
    try:
        return float(text)
    except ValueError:
        return text


#: New default run names tried when another training takes the same one at the same second.
DEFAULT_OUT_TRIES = 5


def default_out(model: str, dataset: str, root: str = "runs") -> Path:
    """runs/<model>-<dataset>-<YYYYmmdd-HHMMSS>, with -2, -3 ... if that exists (a dataset
    folder gives its own name)."""
    dataset = Path(dataset).name or "data"
    base = Path(root) / f"{model}-{dataset}-{time.strftime('%Y%m%d-%H%M%S')}"
    out, n = base, 1
    while out.exists():
        n += 1
        out = base.with_name(f"{base.name}-{n}")
    return out


def _settings(args: argparse.Namespace) -> dict:
    """The settings given on the command line (flags left out are absent)."""
    return {k: getattr(args, k) for k in SETTINGS if getattr(args, k) is not None}


def run(args: argparse.Namespace) -> int:
    from ..train.api import TrainingInterrupted, train_from, train_model
    from ..train.claim import DirInUse
    from ..train.outputs import DirNotEmpty

    start = time.perf_counter()
    progress = ProgressPrinter(quiet=args.quiet)
    given = _settings(args)
    try:
        if (args.resume or args.from_run) and args.architecture:
            raise ConfigError("--resume and --from take the model from the run; drop "
                              "--architecture")
        if args.resume:
            result = _resume(args, given, progress)
        elif args.from_run:
            if args.config:
                raise ConfigError("--from takes its settings from the run; drop --config")
            out = Path(args.out) if args.out else None
            if out is None:
                from ..train.checkpoint import load_config

                rc = load_config(args.from_run)
                out = default_out(f"{rc['model'].get('name', 'run')}-from", rc["dataset"])
            result = train_from(args.from_run, out, given, callbacks=[progress],
                                plots=not args.no_plots, overwrite=args.overwrite)
        else:
            from ..train.config import read_config_file, resolve_config

            settings = read_config_file(args.config) if args.config else {}
            settings.update(given)
            if args.architecture:
                if args.model or args.hidden:
                    raise ConfigError("--architecture describes the model; drop --model and "
                                      "--hidden")
                from .summary import described_spec

                settings["model"] = described_spec(args.architecture, settings.get("dataset"))
            cfg = resolve_config(settings)
            for attempt in range(DEFAULT_OUT_TRIES):
                out = Path(args.out) if args.out else default_out(cfg["model"], cfg["dataset"])
                try:
                    result = train_model(settings, out, quiet=args.quiet, callbacks=[progress],
                                         plots=not args.no_plots, overwrite=args.overwrite)
                    break
                except (DirInUse, DirNotEmpty):
                    if args.out or attempt == DEFAULT_OUT_TRIES - 1:
                        raise   # else another training took that name this second: next one
    except TrainingInterrupted as exc:
        progress.close()
        if exc.run_dir is None:
            raise
        print(f"barenet: interrupted; {exc.run_dir} keeps epoch {exc.epoch}. Continue with:\n"
              f"  barenet train --resume {exc.run_dir}", file=sys.stderr)
        return 130
    finally:
        progress.close()
    _summary(result, time.perf_counter() - start)
    return 0


def _resume(args: argparse.Namespace, given: dict, progress: ProgressPrinter):
    """``--resume RUN``, with the optimisation flags given as new settings."""
    from ..train.api import resume_training
    from ..train.changes import describe

    for flag, value in (("--config", args.config), ("--from", args.from_run),
                        ("--overwrite", args.overwrite)):
        if value:
            raise ConfigError(f"--resume continues {args.resume}; drop {flag}")
    if args.out and Path(args.out) != Path(args.resume):
        raise ConfigError("--out and --resume name different runs; give only --resume")

    def announce(epoch: int, changed: dict) -> None:
        print(f"resuming {args.resume} after epoch {epoch} with new settings: "
              f"{describe(changed)}", file=sys.stderr, flush=True)

    overrides = {k: v for k, v in given.items() if k != "data_dir"}
    return resume_training(args.resume, callbacks=[progress], data_dir=args.data_dir,
                           plots=not args.no_plots, overrides=overrides, on_settings=announce)


def _summary(result, wall: float) -> None:
    cfg = result.config
    spec = cfg["model"]
    done = result.epochs_completed
    how = " (stopped early)" if result.stopped_early else ""
    resumed = f", resumed after epoch {result.resumed_from}" if result.resumed_from else ""
    print(f"trained {spec['name']} on {cfg['dataset']}: {done} epoch{'s' if done != 1 else ''}{how} in "
          f"{seconds(cfg.get('training_seconds', result.seconds))} ({seconds(wall)} with data "
          f"loading and evaluation{resumed})")
    if result.best_val_acc is not None:
        print(f"best epoch {result.best_epoch}: validation accuracy {pct(result.best_val_acc)}")
    if result.test_accuracy is not None:
        n = result.evaluation["n"] if result.evaluation else "?"
        print(f"test accuracy {pct(result.test_accuracy)} (loss {result.test_loss:.4f}) on "
              f"{n} {cfg['dataset']} test images")
    print(f"saved to {result.run_dir}")
    print(f"  barenet evaluate {result.run_dir}")
    if result.plot_error:
        warn(f"figures were not drawn ({result.plot_error})")
