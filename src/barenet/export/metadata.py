"""What an exported file says about itself: the ONNX ``metadata_props`` (string -> string).

    model            the preset's name ("mlp", "cnn", ...) or "custom"
    dataset          "mnist", "fashion-mnist" (absent when unknown)
    classes          the class names as a JSON list, in the order of the logits
    barenet_version  the barenet that exported the file
    test_accuracy    the run's test accuracy, from its config.json (absent when unknown)
    normalization    {"mean": m, "std": s} as JSON: the model's input is (pixel / 255 - m) / s
    input            the graph's input in words, and whether the graph normalises it itself

onnxruntime shows them as ``session.get_modelmeta().custom_metadata_map``.
"""
from __future__ import annotations

import json
import math
from typing import Any

from ..data.transforms import Normalize
from .onnx_graph import shape_text


def accuracy_of(config: dict[str, Any]) -> float | None:
    """The ``test_accuracy`` of a run's config.json if it is a number in [0, 1], else None
    (the file is untrusted: a wrong value is left out rather than copied)."""
    value = config.get("test_accuracy")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    value = float(value)
    return value if math.isfinite(value) and 0.0 <= value <= 1.0 else None


def metadata_props(model: str, dataset: str | None, classes: list[str] | None,
                   accuracy: float | None, normalize: Normalize | None,
                   input_shape: tuple[int, ...], preprocessing: bool,
                   input_dtype: str = "float32") -> dict[str, str]:
    """The metadata of an exported model; ``input_shape`` is the graph input's, per sample,
    ``preprocessing`` says whether the graph takes [0, 1] pixels and normalises them, and
    ``input_dtype`` "int64" marks the ids of a model that begins with an Embedding."""
    from .. import __version__

    props = {"model": model, "barenet_version": __version__}
    if dataset is not None:
        props["dataset"] = dataset
    if classes is not None:
        props["classes"] = json.dumps(list(classes))
    if accuracy is not None:
        props["test_accuracy"] = json.dumps(accuracy)
    if input_dtype == "int64":
        props["input"] = f"int64 ids {shape_text(input_shape)}"
        return props
    if normalize is not None:
        props["normalization"] = json.dumps({"mean": normalize.mean, "std": normalize.std})
    shape = shape_text(input_shape)
    if preprocessing:
        props["input"] = (f"float32 pixels {shape} in [0, 1] (uint8 / 255); the graph "
                          "normalises them itself")
    else:
        how = "" if normalize is None else \
            f": (pixel / 255 - {normalize.mean:g}) / {normalize.std:g}"
        props["input"] = f"float32 {shape}, normalised{how}"
    return props


__all__ = ["accuracy_of", "metadata_props"]
