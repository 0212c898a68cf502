"""``barenet data info|download``: where a dataset's files are, verified, and what they hold."""
from __future__ import annotations

import argparse
import json
import sys

from .common import add_command, add_data_args, is_tty, table

DESCRIPTION = """\
Inspect the datasets. `data info` finds the four files of a dataset (--data-dir, else
$BARENET_DATA, the copy embedded in barenet (MNIST), the system copy (Fashion-MNIST from
Debian's dataset-fashion-mnist) or the cache), verifies each by the sha256 of its decompressed
bytes, and prints where each came from, the images per class and the pixel mean/std used for
normalisation; with --download it first fetches files found nowhere. `data download` fetches
missing files from the official mirrors (checked by md5, written atomically; at most 10 minutes
per file, or $BARENET_DOWNLOAD_DEADLINE seconds, and a mirror slower than 1 KB/s over 30 s is
dropped for the next)."""

EXAMPLES = """\
  barenet data info                               the embedded MNIST
  barenet data info --dataset fashion-mnist --json
  barenet data info --data-dir ~/data/mnist       check your own copy
  barenet data download --dataset fashion-mnist --data-dir ~/data/fashion-mnist"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "data", "dataset files, checksums, class counts", DESCRIPTION,
                    EXAMPLES)
    sub = p.add_subparsers(dest="action", metavar="ACTION")
    info = sub.add_parser("info", help="files, checksums, counts per class, mean/std",
                          description="Verify a dataset's files and summarise them.",
                          epilog="examples:\n" + EXAMPLES,
                          formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(info, missing="failing unless you add --download to fetch missing files")
    info.add_argument("--download", action="store_true",
                      help="download missing files from the official mirrors instead of failing")
    info.add_argument("--json", action="store_true", help="print one JSON object")
    info.set_defaults(func=run_info)
    dl = sub.add_parser("download", help="fetch and verify a dataset's four files",
                        description="Download a dataset's missing files and verify them.\n"
                                    "Each file gets at most 10 minutes, all mirrors together "
                                    "($BARENET_DOWNLOAD_DEADLINE seconds\nto change it); a "
                                    "mirror slower than 1 KB/s over 30 s is dropped for the next.",
                        epilog="examples:\n" + EXAMPLES,
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    add_data_args(dl)
    dl.set_defaults(func=run_download)
    p.set_defaults(func=lambda args: _usage(p))
    return p


def _usage(parser: argparse.ArgumentParser) -> int:
    parser.print_help(sys.stderr)
    return 2


def _progress():
    """A download progress callback drawing a tqdm bar on a terminal, else None."""
    if not is_tty(sys.stderr):
        return None
    from tqdm import tqdm

    state: dict = {"bar": None}

    def update(done: int, total: int | None) -> None:
        bar = state["bar"]
        if done == 0 or bar is None:
            if bar is not None:
                bar.close()
            bar = state["bar"] = tqdm(total=total, unit="B", unit_scale=True, leave=False,
                                      file=sys.stderr)
        bar.update(done - bar.n)

    return update


def run_info(args: argparse.Namespace) -> int:
    from ..data.datasets import dataset_info
    from ..errors import DataError

    try:
        info = dataset_info(args.dataset or "mnist", data_dir=args.data_dir,
                            download=args.download,
                            progress=_progress() if args.download else None)
    except DataError as exc:
        if args.download or not str(exc).endswith("downloading is off"):
            raise
        raise DataError(f"{exc}; add --download to fetch it from the official mirrors") from None
    if args.json:
        print(json.dumps(info))
        return 0
    n = info["num_samples"]
    h, w = info["image_size"]
    print(f"dataset  {info['name']}: {len(info['classes'])} classes, {h}x{w} grayscale images, "
          f"{n['train']} train + {n['test']} test")
    print("files (sha256 of the decompressed bytes verified)")
    rows = [[f["file"], f["source"], f["sha256"][:16] + "...",
             "ok" if f["verified"] else "NOT VERIFIED", f["path"]] for f in info["files"]]
    print(table(["file", "source", "sha256", "check", "path"], rows, "<<<<<"))
    print(f"normalisation  mean {info['mean']:.4f}  std {info['std']:.4f}  (measured on the "
          f"training images: {info['pixel_mean']:.4f} / {info['pixel_std']:.4f})")
    counts = info["counts"]
    rows = [[i, c, counts["train"][i], counts["test"][i]] for i, c in enumerate(info["classes"])]
    rows.append(["", "total", sum(counts["train"]), sum(counts["test"])])
    print(table(["label", "class", "train", "test"], rows, "><>>"))
    return 0


def run_download(args: argparse.Namespace) -> int:
    from ..data.datasets import download_dataset

    name = args.dataset or "mnist"
    paths = download_dataset(name, data_dir=args.data_dir, progress=_progress())
    print(f"{name}: all {len(paths)} files present and verified")
    for path in paths:
        print(f"  {path}")
    return 0
