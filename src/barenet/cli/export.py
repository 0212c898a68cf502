"""``barenet export RUN --format onnx --out FILE.onnx``: a trained run as an ONNX file."""
from __future__ import annotations

import argparse

from ..errors import ConfigError
from .common import add_command

FORMATS = ("onnx",)

DESCRIPTION = """\
Export a run's model as an ONNX file that onnxruntime (or any ONNX runtime: C++, a phone, a
browser) runs without barenet. The graph is the model in evaluation mode (Dropout is the
identity, BatchNorm uses its running statistics), checked by onnx.checker. Its input 'input'
is the normalised float32 tensor the model takes, (N, 784) or (N, 1, 28, 28), with a dynamic
batch N; with --include-preprocessing it is 'pixels', float32 (N, 28, 28) in [0, 1] (uint8
pixels / 255), and the graph normalises them itself. Its output is 'logits' (N, classes). The
file's metadata holds the dataset, the class names, the barenet version and the test
accuracy. An existing file is replaced only with --overwrite. Needs the export extra:
pip install "barenet[export]"."""

EXAMPLES = """\
  barenet export runs/cnn --out cnn.onnx
  barenet export runs/cnn --out cnn.onnx --include-preprocessing --overwrite
  barenet export runs/mlp --out mlp.onnx --opset 13        for an older runtime"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "export", "a run's model as an ONNX file", DESCRIPTION, EXAMPLES)
    p.add_argument("run", metavar="RUN", help="run directory written by `barenet train`")
    p.add_argument("--format", default="onnx", metavar="FORMAT",
                   help=f"file format: {', '.join(FORMATS)} (default: onnx)")
    p.add_argument("--out", required=True, metavar="FILE.onnx", help="the file to write")
    p.add_argument("--opset", default=None, metavar="N",
                   help="ONNX opset version, from 13 to the newest the onnx package knows "
                        "(default: 17)")
    p.add_argument("--include-preprocessing", action="store_true",
                   help="the graph takes [0, 1] pixels (N, 28, 28) and normalises them itself")
    p.add_argument("--overwrite", action="store_true", help="replace FILE.onnx if it exists")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..export import DEFAULT_OPSET, to_onnx
    from ..export.onnx_graph import shape_text
    from ..train.checkpoint import load_run

    fmt = str(args.format).lower()
    if fmt not in FORMATS:
        raise ConfigError(f"--format: unknown format {args.format!r}, expected one of: "
                          f"{', '.join(FORMATS)}")
    opset = DEFAULT_OPSET if args.opset is None else _opset(args.opset)
    run_ = load_run(args.run)
    path = to_onnx(run_, args.out, opset=opset, include_preprocessing=args.include_preprocessing,
                   overwrite=args.overwrite)
    if args.include_preprocessing:
        given = "'pixels' float32 (N, 28, 28) in [0, 1]"
    else:
        given = f"'input' float32 {shape_text(run_.input_shape)}, normalised"
    print(f"wrote {path} ({path.stat().st_size:,} bytes, ONNX opset {opset}): {run_.name} "
          f"on {run_.dataset}, {given} -> 'logits' (N, {len(run_.classes)})")
    return 0


def _opset(text: str) -> int:
    """--opset as an int; anything else is refused here, the range by ``to_onnx``."""
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--opset: expected an integer, got {text!r}") from None
