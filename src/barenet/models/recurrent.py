"""Recurrent models that read a digit as a sequence: 28 rows of 28 pixels, top to bottom.

Each takes the run's usual image input (N, 1, 28, 28): ``Flatten(1, 2)`` turns it into the
sequence (N, 28, 28) (T = 28 rows, 28 features each) without copying, so every command that
feeds images (train, evaluate, predict, serve, explain) works unchanged. The recurrent layer's
output at the last row, which has read the whole digit, goes to a Linear classifier:

    Flatten(1, 2) -> RNN / LSTM / GRU (28 -> hidden, layers) -> SelectStep(-1) -> Linear(., 10)

Each entry of ``RECURRENT_MODELS`` is a preset: ``architecture(spec) -> dict`` (the JSON
architecture, see ``nn/architecture.py``), ``build(spec, rng)``, the ``defaults`` of its spec,
its ``input`` kind ("image"), a one-line ``description`` and ``train``: the training settings
that suit it (Adam; see README's ladder for what they reach).
"""
from __future__ import annotations

from typing import Any, Callable

import numpy as np

from .. import nn
from ..nn.architecture import build, layer, sequential
from .checks import flag, image_size, integer, num_classes, probability

ROWS = COLUMNS = 28     # MNIST's; a spec's own is image_size(spec)
NUM_CLASSES = 10        # MNIST's; a spec's own is num_classes(spec)
MAX_HIDDEN = 4096
MAX_LAYERS = 8


def recurrent_architecture(kind: str) -> Callable[[dict], dict[str, Any]]:
    """The architecture function of the ``kind`` ("RNN", "LSTM" or "GRU") preset.

    Spec: ``hidden`` (units per direction), ``layers`` (stacked), ``bidirectional``,
    ``dropout`` (between stacked layers). Input (N, 1, 28, 28) float32, output logits (N, 10);
    for (N, 1, S, S) images S steps of S features, and (N, K) for ``num_classes`` K.
    """
    name = kind.lower()

    def architecture(spec: dict) -> dict[str, Any]:
        hidden = integer(spec["hidden"], f"{name}: hidden", 1, MAX_HIDDEN)
        layers = integer(spec["layers"], f"{name}: layers", 1, MAX_LAYERS)
        both = flag(spec["bidirectional"], f"{name}: bidirectional")
        p = probability(spec["dropout"], f"{name}: dropout")
        return sequential(
            layer("Flatten", start_dim=1, end_dim=2),          # (N, 1, 28, 28) -> (N, 28, 28)
            layer(kind, input_size=image_size(spec), hidden_size=hidden, num_layers=layers,
                  dropout=p, bidirectional=both),              # -> (N, 28, D * hidden)
            layer("SelectStep", index=-1),                      # -> (N, D * hidden)
            layer("Linear", in_features=(1 + both) * hidden, out_features=num_classes(spec)))

    return architecture


def _builder(kind: str) -> Callable[[dict, np.random.Generator], nn.Module]:
    arch = recurrent_architecture(kind)

    def build_model(spec: dict, rng: np.random.Generator) -> nn.Module:
        return build(arch(spec), rng)

    return build_model


#: Adam with a one-cycle schedule peaking at 2e-3; no gradient clipping is needed at T = 28.
_TRAIN = {"optimizer": "adam", "lr": 2e-3, "weight_decay": 0.0, "momentum": 0.9,
          "scheduler": "onecycle", "batch_size": 128}
_DEFAULTS = {"hidden": 128, "layers": 1, "bidirectional": False, "dropout": 0.0}

RECURRENT_MODELS: dict[str, dict[str, Any]] = {
    "rnn": {
        "architecture": recurrent_architecture("RNN"),
        "build": _builder("RNN"),
        "defaults": dict(_DEFAULTS),
        "input": "image",
        "description": "a tanh RNN reading the digit row by row (28 steps of 28 pixels), "
                       "hidden 128, the last step to Linear 10",
        "train": {**_TRAIN, "epochs": 8},
    },
    "lstm": {
        "architecture": recurrent_architecture("LSTM"),
        "build": _builder("LSTM"),
        "defaults": dict(_DEFAULTS),
        "input": "image",
        "description": "an LSTM reading the digit row by row (28 steps of 28 pixels), "
                       "hidden 128, the last step to Linear 10",
        "train": {**_TRAIN, "epochs": 8},
    },
    "gru": {
        "architecture": recurrent_architecture("GRU"),
        "build": _builder("GRU"),
        "defaults": dict(_DEFAULTS),
        "input": "image",
        "description": "a GRU reading the digit row by row (28 steps of 28 pixels), "
                       "hidden 128, the last step to Linear 10",
        "train": {**_TRAIN, "epochs": 8},
    },
}
