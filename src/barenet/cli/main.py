"""Entry point of the ``barenet`` command: builds the parser from the subcommand modules.

Each module in ``SUBCOMMANDS`` defines ``add_parser(subparsers) -> argparse.ArgumentParser``
(setting ``func=run`` via ``set_defaults``) and ``run(args) -> int``.
"""
from __future__ import annotations

import argparse
import importlib
import sys

from .. import __version__
from ..allocator import keep_freed_memory
from ..errors import BarenetError, brief
from .common import lowercase_names

SUBCOMMANDS = ["train", "evaluate", "data", "models", "predict", "explain", "attack", "plot", "tune",
               "compare", "serve", "export", "import", "runs", "board", "summary", "exercises"]
#: Subcommands whose module is not named after them (``import`` is a Python keyword)
MODULES = {"import": "import_weights"}
#: Commands that load a run or read an architecture, and so take ``--layers FILE.py``
LOADS_LAYERS = {"train", "evaluate", "predict", "explain", "attack", "plot", "serve", "export",
                "import", "runs", "board", "summary", "compare"}
#: Characters of an error message printed; the rest is summarised as "(N more characters)"
MAX_ERROR = 1000
#: Commands that train, for which freed memory is kept for reuse (a server must give it back)
TRAINING = {"train", "tune", "compare"}

EPILOG = """examples:
  barenet train                              train the classic 784-200-10 MLP on the embedded MNIST
  barenet train --model cnn --out runs/cnn   train the default CNN
  barenet evaluate runs/cnn --json           test accuracy, confusion matrix, per-class scores
  barenet predict runs/cnn my_digit.png      classify your own picture
  barenet serve runs/cnn                     draw digits in the browser
  barenet runs                               every run under runs/, its accuracy and status
"""


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="barenet",
        description="Neural networks from scratch in NumPy: train, evaluate, explain and serve "
                    "MNIST and Fashion-MNIST classifiers.",
        epilog=EPILOG,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--version", action="version", version=f"barenet {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for name in SUBCOMMANDS:
        try:
            module = importlib.import_module(f"{__package__}.{MODULES.get(name, name)}")
        except ModuleNotFoundError as exc:  # a subcommand still being written
            if exc.name == f"{__package__}.{MODULES.get(name, name)}":
                continue
            raise
        sub = module.add_parser(subparsers)
        if name in LOADS_LAYERS and sub is not None:
            sub.add_argument("--layers", metavar="FILE.py", action="append", default=None,
                             help="a Python file of your own layers (registered with "
                                  "@barenet.nn.register_layer) to import first; repeatable")
    parser.commands = subparsers.choices   # name -> subcommand parser, for parse()
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str] | None = None) -> argparse.Namespace:
    """``parser.parse_args``, except that a subcommand whose parser sets the default
    ``intermixed=True`` takes options anywhere among its positionals (``RUN --top-k 3 IMG``);
    names of models, optimizers, schedulers and datasets are lower-cased (any case works)."""
    argv = list(sys.argv[1:] if argv is None else argv)
    sub = getattr(parser, "commands", {}).get(argv[0]) if argv else None
    if sub is not None and sub.get_default("intermixed"):
        args = sub.parse_intermixed_args(argv[1:])
        args.command = argv[0]
    else:
        args = parser.parse_args(argv)
    return lowercase_names(args)


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parse(parser, argv)
    if not getattr(args, "func", None):
        parser.print_help()
        return 2
    if args.command in TRAINING:
        keep_freed_memory()  # CNN training 10-12% faster: no page faults on every step's arrays
    try:
        if getattr(args, "layers", None):
            from ..layer_files import import_layer_files
            import_layer_files(args.layers)
        return int(args.func(args) or 0)
    except BarenetError as exc:  # one line, however large the value it quotes
        print(f"barenet: error: {brief(exc, MAX_ERROR)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("barenet: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        return 0
    except OSError as exc:
        where = f"{exc.filename}: " if getattr(exc, "filename", None) else ""
        print(f"barenet: error: {where}{exc.strerror or exc}", file=sys.stderr)
        return 1


if __name__ == "__main__":
    sys.exit(main())
