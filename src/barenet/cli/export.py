"""``barenet export RUN --out FILE.onnx``: a trained run as an ONNX file, or its weights as a
.safetensors file that PyTorch loads (``--format safetensors``)."""
from __future__ import annotations

import argparse

from ..errors import ConfigError
from .common import add_command

FORMATS = ("onnx", "safetensors")
#: Options that only an ONNX export takes
ONNX_ONLY = (("--opset", "opset"), ("--include-preprocessing", "include_preprocessing"))

DESCRIPTION = """\
Export a run's model as an ONNX file that onnxruntime (or any ONNX runtime: C++, a phone, a
browser) runs without barenet. The graph is the model in evaluation mode (Dropout is the
identity, BatchNorm uses its running statistics), checked by onnx.checker. Its input 'input'
is the normalised float32 tensor the model takes, (N, 784) or (N, 1, 28, 28), with a dynamic
batch N; with --include-preprocessing it is 'pixels', float32 (N, 28, 28) in [0, 1] (uint8
pixels / 255), and the graph normalises them itself. Its output is 'logits' (N, classes). The
file's metadata holds the dataset, the class names, the barenet version and the test
accuracy. Needs the export extra: pip install "barenet[export]".

With --format safetensors (the default for an --out ending in .safetensors) the file holds the
weights only: the model's state_dict under PyTorch's names (0.weight, 1.running_mean,
1.num_batches_tracked, weight_ih_l0, ...), F32 (the batch counters I64), so that
safetensors.torch.load_file and load_state_dict(strict=True) fill the same model written in
torch.nn; its __metadata__ holds the architecture as JSON, the input shape, dataset, class
names, normalisation, barenet version and test accuracy, which `barenet import` reads back.
It needs nothing beyond NumPy.

An existing file is replaced only with --overwrite."""

EXAMPLES = """\
  barenet export runs/cnn --out cnn.onnx
  barenet export runs/cnn --out cnn.onnx --include-preprocessing --overwrite
  barenet export runs/mlp --out mlp.onnx --opset 13        for an older runtime
  barenet export runs/cnn --format safetensors --out cnn.safetensors   weights for PyTorch"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "export", "a run's model as an ONNX file, or its weights as "
                    ".safetensors", DESCRIPTION, EXAMPLES)
    p.add_argument("run", metavar="RUN", help="run directory written by `barenet train`")
    p.add_argument("--format", default=None, metavar="FORMAT",
                   help=f"file format: {', '.join(FORMATS)} (default: safetensors for an --out "
                        "ending in .safetensors, else onnx)")
    p.add_argument("--out", required=True, metavar="FILE", help="the file to write")
    p.add_argument("--opset", default=None, metavar="N",
                   help="ONNX opset version, from 13 to the newest the onnx package knows "
                        "(default: 17)")
    p.add_argument("--include-preprocessing", action="store_true",
                   help="the graph takes [0, 1] pixels (N, 28, 28) and normalises them itself")
    p.add_argument("--overwrite", action="store_true", help="replace FILE if it exists")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..export import DEFAULT_OPSET, to_onnx
    from ..export.onnx_graph import shape_text
    from ..train.checkpoint import load_run

    fmt = _format(args)
    if fmt == "safetensors":
        return _safetensors(args)
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


def _format(args: argparse.Namespace) -> str:
    """--format, or the one --out's suffix names (.safetensors), else onnx."""
    if args.format is None:
        return "safetensors" if str(args.out).lower().endswith(".safetensors") else "onnx"
    fmt = str(args.format).lower()
    if fmt not in FORMATS:
        raise ConfigError(f"--format: unknown format {args.format!r}, expected one of: "
                          f"{', '.join(FORMATS)}")
    return fmt


def _safetensors(args: argparse.Namespace) -> int:
    from ..export.safetensors_export import to_safetensors
    from ..train.checkpoint import load_run
    from ..train.fileio import printable

    for flag, dest in ONNX_ONLY:
        if getattr(args, dest) not in (None, False):
            raise ConfigError(f"{flag} is an ONNX option; a .safetensors file holds only the "
                              "weights")
    run_ = load_run(args.run)
    path = to_safetensors(run_, args.out, overwrite=args.overwrite)
    state = run_.model.state_dict()
    print(f"wrote {path} ({path.stat().st_size:,} bytes, safetensors): {len(state)} tensors, "
          f"{sum(v.size for v in state.values()):,} numbers of {printable(run_.name, 40)} on "
          f"{printable(run_.dataset, 40)}, under PyTorch's state_dict names")
    return 0


def _opset(text: str) -> int:
    """--opset as an int; anything else is refused here, the range by ``to_onnx``."""
    try:
        return int(text)
    except ValueError:
        raise ConfigError(f"--opset: expected an integer, got {text!r}") from None
