"""``barenet compare``: train the same network in barenet and in PyTorch, side by side."""
from __future__ import annotations

import argparse

from ..errors import ConfigError
from ..train.claim import claim_dir
from ..train.outputs import check_output
from .common import int_list

#: What ``barenet compare`` writes into DIR.
OUTPUTS = ("comparison.json", "comparison.png")

DESCRIPTION = """\
Train one architecture twice, in barenet and in PyTorch (the optional extra `torch`), with the
same initial weights (barenet's, copied into PyTorch), the same batches in the same order, the
same optimizer and hyper-parameters, float32 and the same number of threads. Writes
DIR/comparison.json (per-epoch train loss/accuracy, test accuracy and training seconds under
"barenet" and "pytorch", plus how closely they agree) and DIR/comparison.png.

Supported layers: Linear, Conv2d, MaxPool2d, AvgPool2d, BatchNorm1d/2d, Flatten, Dropout
(different random masks in each library), ReLU, LeakyReLU, Tanh, Sigmoid.

DIR must be new or empty; --overwrite writes into an existing one, replacing only
comparison.json and comparison.png."""

EPILOG = """examples:
  barenet compare --out cmp/                             classic MLP on MNIST, 3 epochs
  barenet compare --model cnn --epochs 1 --out cmp-cnn/
  barenet compare --limit-train 2000 --epochs 2 --out quick/   a quick check on a subset"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..compare import DEFAULTS as D

    parser = subparsers.add_parser(
        "compare", help="train the same network in barenet and PyTorch and compare",
        description=DESCRIPTION, epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--model", default=D["model"], help=f"architecture (default: {D['model']})")
    parser.add_argument("--hidden", type=int_list, metavar="N[,N...]",
                        help="hidden width(s), for models that have them")
    parser.add_argument("--dataset", default=D["dataset"],
                        help=f"mnist or fashion-mnist (default: {D['dataset']})")
    parser.add_argument("--epochs", type=int, default=D["epochs"],
                        help=f"epochs (default: {D['epochs']})")
    parser.add_argument("--batch-size", type=int, help="batch size (default: barenet train's "
                        "for the model, 64 for mlp)")
    parser.add_argument("--lr", type=float, help="learning rate, constant (default: barenet "
                        "train's for the model and optimizer, 0.05 for mlp)")
    parser.add_argument("--optimizer", help="sgd, adam, adamw or rmsprop (default: the model's, "
                        "sgd for mlp)")
    parser.add_argument("--momentum", type=float,
                        help="SGD/RMSprop momentum, Adam's beta1 (default: 0.9 for sgd)")
    parser.add_argument("--weight-decay", type=float, help="L2 penalty (default: barenet "
                        "train's, 5e-4 for sgd)")
    parser.add_argument("--seed", type=int, default=D["seed"], help="seed (default: 0)")
    parser.add_argument("--limit-train", type=int, metavar="N",
                        help="train on the first N training images only")
    parser.add_argument("--limit-test", type=int, metavar="N",
                        help="test on the first N test images only")
    parser.add_argument("--data-dir", metavar="D", help="where the dataset is")
    parser.add_argument("--out", required=True, metavar="DIR", help="output directory")
    parser.add_argument("--overwrite", action="store_true",
                        help="write into an existing DIR, replacing an earlier comparison")
    parser.set_defaults(func=run)
    return parser


def run(args: argparse.Namespace) -> int:
    from ..atomic import atomic_write_json
    from ..compare import import_torch, plot_comparison, run_comparison

    for name in ("epochs", "batch_size", "limit_train", "limit_test"):
        value = getattr(args, name)
        if value is not None and value < 1:
            raise ConfigError(f"--{name.replace('_', '-')} must be at least 1, got {value}")
    out = check_output(args.out, OUTPUTS, args.overwrite, "a comparison")
    import_torch()
    config = {k: getattr(args, k) for k in (
        "model", "hidden", "dataset", "epochs", "batch_size", "lr", "optimizer", "momentum",
        "weight_decay", "seed", "limit_train", "limit_test", "data_dir")}
    with claim_dir(out):   # one comparison writes into DIR at a time
        check_output(out, OUTPUTS, args.overwrite, "a comparison", claimed=True)
        result = run_comparison(config, progress=print)
        written = [atomic_write_json(out / "comparison.json", result)]
        try:
            written.append(plot_comparison(result, out / "comparison.png"))
        except ImportError:
            print('no plot: matplotlib is not installed (pip install "barenet[cli]")')
    b, t, a = result["barenet"], result["pytorch"], result["agreement"]
    print(f"{'':10}{'test acc':>10}{'train s':>10}")
    print(f"{'barenet':10}{b['test_accuracy']:>10.4f}{b['train_seconds']:>10.1f}")
    print(f"{'pytorch':10}{t['test_accuracy']:>10.4f}{t['train_seconds']:>10.1f}")
    print(f"largest per-epoch train-loss difference {a['max_epoch_train_loss_abs_diff']:.2e}, "
          f"test-accuracy difference {a['max_test_acc_abs_diff']:.4f}")
    for path in written:
        print(f"wrote {path}")
    return 0
