"""Helpers shared by the subcommands: parsers with examples, argument types, tables, progress."""
from __future__ import annotations

import argparse
import math
import sys
from typing import Any, Callable, Sequence, TextIO

from ..train.trainer import Callback


def add_command(subparsers: argparse._SubParsersAction, name: str, help: str,
                description: str, examples: str) -> argparse.ArgumentParser:
    """A subcommand parser with a description, an ``examples:`` epilog, raw formatting."""
    return subparsers.add_parser(name, help=help, description=description,
                                 epilog="examples:\n" + examples.rstrip() + "\n",
                                 formatter_class=argparse.RawDescriptionHelpFormatter)


def add_data_args(parser: argparse.ArgumentParser, dataset_help: str | None = None,
                  missing: str = "downloading if needed") -> None:
    """``--dataset NAME`` (default None: the command's own default) and ``--data-dir D``;
    ``missing`` says what happens to files found nowhere."""
    parser.add_argument("--dataset", metavar="NAME", default=None,
                        help=dataset_help or "mnist, fashion-mnist, or a folder DIR holding the "
                                             "four IDX files of any dataset (default: mnist)")
    parser.add_argument("--data-dir", metavar="D", default=None,
                        help="directory holding the four .gz files (default: $BARENET_DATA, "
                             f"the embedded MNIST, or the cache, {missing})")


#: Options that name a built-in model, optimizer, scheduler or dataset: any case is accepted.
NAME_OPTIONS = ("model", "optimizer", "scheduler", "dataset")


def lowercase_names(args: argparse.Namespace) -> argparse.Namespace:
    """Lower-case the ``NAME_OPTIONS`` values of parsed ``args`` in place (``--model CNN`` is
    ``cnn``), but not a ``--dataset`` that names a folder; returns ``args``."""
    from ..data.folder import is_folder_name

    for key in NAME_OPTIONS:
        value = getattr(args, key, None)
        if isinstance(value, str) and not (key == "dataset" and is_folder_name(value)):
            setattr(args, key, value.lower())
    return args


def _int_at_least(minimum: int, expected: str) -> Callable[[str], int]:
    """An argparse type accepting integers >= ``minimum``."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            value = minimum - 1
        if value < minimum:
            raise argparse.ArgumentTypeError(f"expected {expected}, got {text!r}")
        return value
    return parse


positive_int = _int_at_least(1, "a positive integer")
non_negative_int = _int_at_least(0, "an integer >= 0")


def finite_float(text: str) -> float:
    """argparse type: a finite number."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
    if not math.isfinite(value):
        raise argparse.ArgumentTypeError(f"expected a finite number, got {text!r}")
    return value


def int_list(text: str) -> int | list[int]:
    """argparse type: ``200`` -> 200, ``512,256`` -> [512, 256]."""
    try:
        values = [int(v) for v in text.split(",")]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected an integer or comma-separated integers, got {text!r}") from None
    return values[0] if len(values) == 1 else values


def is_tty(stream: TextIO) -> bool:
    """True if ``stream`` is an interactive terminal."""
    try:
        return stream.isatty()
    except (AttributeError, ValueError):
        return False


def pct(x: float | None, digits: int = 2) -> str:
    """0.98312 -> '98.31%'; None -> '-'."""
    if x is None or (isinstance(x, float) and math.isnan(x)):
        return "-"
    return f"{100 * x:.{digits}f}%"


def seconds(s: float) -> str:
    """A duration: '42.1 s', '0.04 s' (under a second) or '3 min 05 s'."""
    if s < 1:
        return f"{s:.2f} s"
    if s < 60:
        return f"{s:.1f} s"
    m, rest = divmod(int(round(s)), 60)
    return f"{m} min {rest:02d} s"


def table(headers: Sequence[str], rows: Sequence[Sequence[Any]],
          align: str | None = None) -> str:
    """A plain-text table; ``align`` has one character per column, '<' or '>' (default:
    first column left, the rest right)."""
    cells = [[str(h) for h in headers]] + [[str(c) for c in row] for row in rows]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    align = align or "<" + ">" * (len(headers) - 1)
    lines = []
    for row in cells:
        parts = [f"{c:{a}{w}}" for c, a, w in zip(row, align, widths)]
        lines.append("  ".join(parts).rstrip())
    return "\n".join(lines)


def warn(message: str) -> None:
    """One ``barenet: warning: ...`` line on stderr."""
    print(f"barenet: warning: {message}", file=sys.stderr)


class ProgressPrinter(Callback):
    """Training progress on stderr: a tqdm bar per epoch (only on a terminal) and one line per
    epoch; nothing at all when ``quiet``."""

    def __init__(self, quiet: bool = False, stream: TextIO | None = None,
                 bar: bool | None = None) -> None:
        self.stream = stream if stream is not None else sys.stderr
        self.quiet = quiet
        self.use_bar = (not quiet and is_tty(self.stream)) if bar is None else bar
        self.bar: Any = None
        self.epochs = 0
        self._loss_sum = 0.0

    def on_train_begin(self, trainer: Any) -> None:
        self.epochs = trainer.epochs
        if self.quiet:
            return
        n_train = trainer.loader.num_samples
        n_val = 0 if trainer.val is None else len(trainer.val[1])
        done = trainer.state.epoch
        where = f", resuming after epoch {done}" if done else ""
        self._print(f"training on {n_train} images, validating on {n_val}, "
                    f"{trainer.epochs} epoch{'s' if trainer.epochs != 1 else ''} of "
                    f"{len(trainer.loader)} batches{where}")

    def on_epoch_begin(self, epoch: int, num_batches: int) -> None:
        self._loss_sum = 0.0
        if self.use_bar:
            from tqdm import tqdm

            self.bar = tqdm(total=num_batches, desc=f"epoch {epoch}/{self.epochs}",
                            unit="batch", leave=False, file=self.stream, dynamic_ncols=True,
                            mininterval=0.2)

    def on_batch_end(self, epoch: int, batch: int, loss: float) -> None:
        if self.bar is not None:
            self._loss_sum += loss
            self.bar.update(1)
            if batch % 20 == 0:
                self.bar.set_postfix_str(f"loss {self._loss_sum / batch:.4f}", refresh=False)

    def on_epoch_end(self, record: dict[str, Any]) -> None:
        self.close()
        if self.quiet:
            return
        width = len(str(self.epochs))
        line = (f"epoch {record['epoch']:>{width}}/{self.epochs}  "
                f"train loss {record['train_loss']:.4f} acc {pct(record['train_acc'])}")
        if record.get("val_acc") is not None:
            line += f"  val loss {record['val_loss']:.4f} acc {pct(record['val_acc'])}"
        line += f"  lr {record['lr']:.3g}  {record['seconds']:.1f} s"
        self._print(line)

    def close(self) -> None:
        """Remove the progress bar, if one is shown."""
        if self.bar is not None:
            self.bar.close()
            self.bar = None

    def _print(self, text: str) -> None:
        print(text, file=self.stream, flush=True)


__all__ = ["NAME_OPTIONS", "ProgressPrinter", "add_command", "add_data_args", "finite_float",
           "int_list", "is_tty", "lowercase_names", "non_negative_int", "pct", "positive_int",
           "seconds", "table", "warn"]
