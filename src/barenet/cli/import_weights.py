"""``barenet import F.safetensors --model NAME --out RUN``: a run from weights trained elsewhere
(the module is not named ``import``, a Python keyword; ``main.MODULES`` maps the command)."""
from __future__ import annotations

import argparse
from pathlib import Path

from ..errors import ConfigError
from .common import add_command

DESCRIPTION = """\
Make a run directory from weights trained elsewhere, e.g. by PyTorch and saved with
safetensors.torch.save_file(model.state_dict(), "F.safetensors"), so that evaluate, predict,
explain, attack, serve and runs work on it. The model is a preset (--model; `barenet models`
lists them), an architecture file (--architecture, the JSON `barenet models NAME --json`
prints), or, when neither is given, the architecture in the file's own metadata (a file
`barenet export --format safetensors` wrote; read as untrusted input).

Every tensor name, shape and kind is checked against the model before anything is read:
the names are PyTorch's state_dict keys of the same model written in torch.nn (0.weight,
1.running_mean, weight_ih_l0, ...); missing, unexpected and mismatched tensors are listed in
one line. F16, BF16, F32 and F64 tensors become float32 (F64 rounded); BatchNorm's
num_batches_tracked may be present or not.

PREPROCESSING: the run records the normalisation barenet's training uses for the dataset,
(pixel / 255 - mean) / std with the dataset's mean and std (MNIST: 0.1307 and 0.3081), on
(N, 784) vectors or (N, 1, 28, 28) images as the model takes. The PyTorch model must have been
trained on inputs prepared exactly that way (barenet.data's Normalize does it), or the run
will score poorly. A barenet export whose metadata records another normalisation is
refused.

The run has no training history. RUN must be absent or empty unless --overwrite, which
replaces only a run's own files."""

EXAMPLES = """\
  barenet import mlp.safetensors --model mlp --out runs/torch-mlp
  barenet import cnn.safetensors --architecture arch.json --out runs/torch-cnn
  barenet import exported.safetensors --out runs/again     the architecture from its metadata
  barenet import f.safetensors --model cnn --dataset fashion-mnist --out runs/fashion"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    from ..models import MODEL_NAMES

    p = add_command(subparsers, "import", "a run directory from .safetensors weights trained "
                    "elsewhere", DESCRIPTION, EXAMPLES)
    p.add_argument("weights", metavar="F.safetensors", help="the weights: a .safetensors file")
    p.add_argument("--model", metavar="NAME",
                   help=f"the preset the weights are for: {', '.join(MODEL_NAMES)} (with its "
                        "default settings)")
    p.add_argument("--architecture", metavar="FILE.json",
                   help="the model as data instead of a preset (`barenet models NAME --json` "
                        "prints one to start from)")
    p.add_argument("--dataset", metavar="NAME", default=None,
                   help="the built-in dataset the model was trained on: its normalisation, "
                        "classes and image size (default: the one named in the metadata of a "
                        "file barenet exported, else mnist)")
    p.add_argument("--out", required=True, metavar="RUN", help="the run directory to write")
    p.add_argument("--overwrite", action="store_true",
                   help="replace the run already in RUN (only a run's own files are removed)")
    p.set_defaults(func=run)
    return p


def run(args: argparse.Namespace) -> int:
    from ..train.fileio import printable
    from ..train.imported import import_weights

    if args.model and args.architecture:
        raise ConfigError("--model and --architecture both describe the model; give one")
    arch = shape = None
    source = None
    if args.architecture:
        arch, shape = _architecture_file(args.architecture)
        source = f"--architecture {args.architecture}"
    elif args.model:
        source = f"--model {args.model}"
    done = import_weights(args.weights, args.out, model=args.model, architecture=arch,
                          input_shape=shape, dataset=args.dataset, overwrite=args.overwrite,
                          architecture_from=source)
    ignored = f"; ignored {', '.join(done.ignored)}" if done.ignored else ""
    print(f"imported {done.tensors} tensors ({done.numbers:,} numbers) from {args.weights} into "
          f"{done.run_dir} (model: {printable(done.architecture_from, 80)}; dataset: "
          f"{done.dataset}, normalised as barenet trains on it){ignored}")
    print(f"  barenet evaluate {done.run_dir}")
    return 0


def _architecture_file(path: str) -> tuple[dict, tuple | None]:
    """(architecture, input shape or None) of --architecture FILE.json."""
    from .summary import read_architecture_file

    file = Path(path)
    if file.suffix != ".json" or not file.is_file():
        raise ConfigError(f"--architecture {path}: expected an existing .json file")
    return read_architecture_file(file)
