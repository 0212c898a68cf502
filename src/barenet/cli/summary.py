"""``barenet summary``: one row per layer of a run, a preset or an architecture file."""
from __future__ import annotations

import argparse
import json
from pathlib import Path
from typing import Any

from ..errors import ConfigError
from .common import add_command

DESCRIPTION = """\
One row per layer: its position (as in state_dict keys), type, output shape per sample,
parameters, and the bytes it keeps per sample from forward to backward; then the totals and
what one more sample costs a training step. Read from the layers' own records: nothing is
trained or computed. TARGET is a run directory, a model name (`barenet models`) or an
architecture file (`barenet models NAME --json`, or a run's config.json)."""

EXAMPLES = """\
  barenet summary cnn
  barenet summary runs/cnn --json
  barenet summary arch.json --layers my_layers.py     an architecture with layers of your own"""



def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "summary", "one row per layer: shapes, parameters, memory",
                    DESCRIPTION, EXAMPLES)
    p.add_argument("target", metavar="TARGET", help="a run directory, a model name or a .json "
                                                    "architecture file")
    p.add_argument("--json", action="store_true", help="print the summary as JSON")
    p.set_defaults(func=run)
    return p


def read_architecture_file(path: Path) -> tuple[dict[str, Any], tuple[int, ...] | None]:
    """(architecture, input shape or None) from a JSON file holding a bare architecture or an
    object with "architecture" (and optionally "input_shape"), as config.json and ``barenet
    models NAME --json`` write; ConfigError naming the file otherwise."""
    from ..train.fileio import read_json

    data = read_json(path)
    if isinstance(data, dict) and "architecture" in data:
        shape = data.get("input_shape")
        if shape is not None and not (isinstance(shape, list) and 1 <= len(shape) <= 4 and all(
                isinstance(v, int) and not isinstance(v, bool) and 1 <= v <= 1 << 16
                for v in shape)):
            raise ConfigError(f"{path}: 'input_shape' must be a list of 1 to 4 positive ints, "
                              f"got {str(shape)[:40]}")
        return data["architecture"], tuple(shape) if shape else None
    if isinstance(data, dict) and data.get("type") == "Sequential":
        return data, None
    raise ConfigError(f"{path}: expected an architecture ({{\"type\": \"Sequential\", "
                      f"\"layers\": [...]}}) or an object with 'architecture'")


def described_spec(path: str, dataset: str | None) -> dict[str, Any]:
    """The model spec of ``barenet train --architecture FILE.json``: the file's architecture,
    checked (every problem one line naming the file and the field), with the input it takes,
    which must be the dataset's images (S*S pixels or (1, S, S)) and give one score per class."""
    from ..data.folder import dataset_spec
    from ..models.described import NAME
    from ..nn.architecture import ArchitectureError, validate
    from ..nn.architecture_shapes import infer_input_shape, output_shape

    file = Path(path)
    if file.suffix != ".json" or not file.is_file():
        raise ConfigError(f"--architecture {path}: expected an existing .json file")
    facts = dataset_spec(dataset or "mnist")
    side = facts.image_size[0]
    try:
        raw, shape = read_architecture_file(file)
        arch = validate(raw)
        shape = shape or infer_input_shape(arch, facts.image_size)
        allowed = [(side * side,), (facts.channels, side, side)]
        if shape is None or tuple(shape) not in allowed:
            raise ConfigError(f"{path}: the model takes input {shape and list(shape)}, "
                              f"{facts.name}'s images give {' or '.join(map(str, allowed))}; "
                              f"set \"input_shape\" beside \"architecture\"")
        out = output_shape(arch, tuple(shape))
    except ArchitectureError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    if out != (facts.num_classes,):
        raise ConfigError(f"{path}: the model outputs {list(out)} per sample, {facts.name} has "
                          f"{facts.num_classes} classes (one score each)")
    return {"name": NAME, "architecture": arch, "input_shape": list(shape)}


def target_architecture(target: str) -> tuple[dict[str, Any], tuple[int, ...]]:
    """(architecture, per-sample input shape) of a run directory, a preset name or a file."""
    from ..models import MODEL_NAMES, architecture_of, input_shape
    from ..nn.architecture import validate
    from ..nn.architecture_shapes import infer_input_shape
    from ..train.checkpoint import layer_sources, load_config

    path = Path(target)
    if path.is_dir():
        config = load_config(path)
        if "architecture" in config:
            arch = validate(config["architecture"], sources=layer_sources(config))
            return arch, tuple(config["input_shape"])
        return architecture_of(config["model"]), input_shape(config["model"])
    if path.suffix == ".json":
        if not path.is_file():
            raise ConfigError(f"{target}: no such file")
        arch, shape = read_architecture_file(path)
        arch = validate(arch)
        shape = shape or infer_input_shape(arch, (28, 28))
        if shape is None:
            raise ConfigError(f"{target}: cannot tell the input from the first layers; add "
                              f"\"input_shape\" beside \"architecture\"")
        return arch, shape
    if target.lower() in MODEL_NAMES:
        return architecture_of(target.lower()), input_shape(target.lower())
    raise ConfigError(f"{target}: not a run directory, a .json architecture or a model name "
                      f"({', '.join(MODEL_NAMES)})")


def run(args: argparse.Namespace) -> int:
    from ..nn.architecture import ArchitectureError
    from ..nn.summary import summarize

    try:
        arch, shape = target_architecture(args.target)
        summary = summarize(arch, shape)
    except ArchitectureError as exc:
        raise ConfigError(f"{args.target}: {exc}") from None
    print(json.dumps(summary.to_dict()) if args.json else summary)
    return 0
