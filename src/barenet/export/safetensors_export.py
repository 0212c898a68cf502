"""``to_safetensors``: a run's weights as a .safetensors file that PyTorch loads strictly.

The tensors are the model's ``state_dict`` under its own names, which are PyTorch's
(``0.weight``, ``1.running_mean``, ``1.num_batches_tracked``, ``weight_ih_l0``,
``in_proj_weight``): ``safetensors.torch.load_file`` then ``load_state_dict(strict=True)``
fills the same model written in ``torch.nn`` (``compare/twin.py`` builds one). Parameters and
running statistics are F32, BatchNorm's batch counters I64 scalars, as in PyTorch.

``__metadata__`` (strings only, as the format requires) says what the weights are::

    format            "pt": a PyTorch state_dict (the convention of Hugging Face's libraries)
    barenet_version   the barenet that wrote the file
    barenet_export    the version of these keys (``train.imported.EXPORT_VERSION``)
    model             the preset's name ("mlp", "cnn", ...) or "custom"
    architecture      the model as JSON (nn/architecture.py): ``barenet import`` rebuilds it
    input_shape       the input per sample, JSON ([784] or [1, 28, 28] for MNIST)
    dataset, classes  the dataset's name and the class names (JSON), in the logits' order
    preprocessing     JSON {"name": "normalize", "mean": m, "std": s, "flatten": f}: the model
                      takes (pixel / 255 - m) / s
    test_accuracy     the run's, when it has one

The file is written atomically (``barenet.io``); an existing one is replaced only with
``overwrite``.
"""
from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Union

from ..atomic import check_replaceable
from ..io import save_safetensors
from ..nn.architecture import ArchitectureError, describe
from ..nn.module import Module
from ..train.imported import EXPORT_VERSION
from ..train.run import CUSTOM, Run
from .metadata import accuracy_of
from .onnx_graph import ExportError

Source = Union[str, "os.PathLike[str]", Run, Module]


def safetensors_metadata(source: Run | Module) -> dict[str, str]:
    """The ``__metadata__`` of an exported run (or of a bare Module: its architecture only)."""
    from .. import __version__

    run = source if isinstance(source, Run) else None
    model = source.model if run is not None else source
    try:
        arch = describe(model)
    except ArchitectureError as exc:
        raise ExportError(f"cannot describe the model: {exc}") from None
    meta = {"format": "pt", "barenet_version": __version__,
            "barenet_export": str(EXPORT_VERSION),
            "model": run.name if run is not None else CUSTOM,
            "architecture": json.dumps(arch, separators=(",", ":"))}
    if run is None:
        return meta
    meta.update(input_shape=json.dumps(list(run.input_shape)), dataset=run.dataset,
                classes=json.dumps(list(run.classes)),
                preprocessing=json.dumps(run.normalize.to_dict()))
    accuracy = accuracy_of(run.config)
    if accuracy is not None:
        meta["test_accuracy"] = json.dumps(accuracy)
    return meta


def to_safetensors(source: Source, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write the weights of ``source`` (a run directory, a ``Run`` or a Module) to the
    .safetensors file ``path``, with ``safetensors_metadata`` as its ``__metadata__``;
    returns the path. ``path`` must not exist unless ``overwrite``. Raises ConfigError for
    an output that may not be written, ExportError for one that cannot be, CheckpointError
    for a directory that is not a run."""
    path = check_replaceable([path], overwrite)[0]
    if isinstance(source, (str, os.PathLike)):
        from ..train.checkpoint import load_run

        source = load_run(source)
    if not isinstance(source, (Run, Module)):
        raise ExportError(f"expected a run directory, a Run or a barenet Module, got "
                          f"{type(source).__name__}")
    model = source.model if isinstance(source, Run) else source
    meta = safetensors_metadata(source)
    try:
        return save_safetensors(model.state_dict(), path, meta)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write ({exc.strerror or exc})") from None


__all__ = ["safetensors_metadata", "to_safetensors"]
