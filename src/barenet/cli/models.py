"""``barenet models``: the architectures ``barenet train --model`` accepts."""
from __future__ import annotations

import argparse
import json

from ..errors import ConfigError
from .common import add_command, table

DESCRIPTION = """\
List the model architectures: name, number of trainable parameters (with the default
settings), input kind (flat: 784 pixels; image: 1x28x28), the training defaults of
`barenet train --model NAME`, and a description."""

EXAMPLES = """\
  barenet models
  barenet models --json
  barenet models cnn --json > arch.json           a preset's architecture, to edit
  barenet train --architecture arch.json          ... and train
  barenet train --model cnn                       train one of them"""


def add_parser(subparsers: argparse._SubParsersAction) -> argparse.ArgumentParser:
    p = add_command(subparsers, "models", "list the model architectures", DESCRIPTION, EXAMPLES)
    p.add_argument("name", metavar="NAME", nargs="?",
                   help="one model: its architecture as data (with --json: the file "
                        "`barenet train --architecture` reads)")
    p.add_argument("--json", action="store_true", help="print JSON")
    p.set_defaults(func=run)
    return p


def _training(name: str) -> dict:
    from ..train.config import defaults_for

    d = defaults_for({"model": name})
    return {k: d[k] for k in ("optimizer", "lr", "epochs", "batch_size", "scheduler", "augment")}


def _one(name: str, as_json: bool) -> int:
    """One preset's architecture (default settings) and the input it takes."""
    from ..models import MODEL_NAMES, architecture_of, input_shape
    from ..nn.summary import summarize

    key = name.lower()
    if key not in MODEL_NAMES:
        raise ConfigError(f"unknown model {name!r}, expected one of: {', '.join(MODEL_NAMES)}")
    arch, shape = architecture_of(key), input_shape(key)
    if as_json:
        print(json.dumps({"architecture": arch, "input_shape": list(shape)}, indent=1))
    else:
        print(summarize(arch, shape))
    return 0


def run(args: argparse.Namespace) -> int:
    from ..models import describe_models

    if args.name:
        return _one(args.name, args.json)
    rows = describe_models()
    for row in rows:
        row["train"] = _training(row["name"])
    if args.json:
        print(json.dumps(rows))
        return 0
    body = []
    for r in rows:
        t = r["train"]
        defaults = f"{t['optimizer']} lr {t['lr']:g}, {t['epochs']} ep, {t['scheduler']}" + \
            (", augment" if t["augment"] else "")
        body.append([r["name"], f"{r['params']:,}", r["input"], defaults, r["description"]])
    print(table(["name", "params", "input", "training defaults", "description"], body,
                "<><<<"))
    return 0
