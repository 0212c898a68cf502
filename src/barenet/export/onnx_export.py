"""``to_onnx``: a run directory, a loaded ``Run`` or a ``Module`` written as an ONNX file.

The graph is the model in evaluation mode (``converters.py``, one converter per layer type),
from a float32 input with a dynamic batch dimension ``N`` to float32 ``logits``:

- by default the input ``input`` is what the model takes: normalised (N, 784) or (N, 1, 28, 28);
- with ``include_preprocessing`` it is ``pixels``, float32 (N, 28, 28) in [0, 1] (uint8 / 255),
  and the graph applies the run's normalisation, ``(p - mean) / std``, and the reshape itself.

The file carries its dataset, class names, barenet version and test accuracy as metadata
(``metadata.py``), is checked by ``onnx.checker`` and written atomically: an existing file is
replaced only with ``overwrite=True``, and a failed export leaves it as it was.
"""
from __future__ import annotations

import math
import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Union

import numpy as np

from ..atomic import atomic_write_bytes
from ..data.specs import get_spec
from ..data.transforms import Normalize
from ..errors import brief
from ..nn.embedding import Embedding
from ..nn.module import Module
from ..nn.sequential import Sequential
from ..train.run import Run
from .converters import convert
from .metadata import accuracy_of, metadata_props
from .onnx_graph import DEFAULT_OPSET, ExportError, GraphBuilder, Value, check_opset, shape_text

Source = Union[str, "os.PathLike[str]", Run, Module]
OUTPUT = "logits"


@dataclass(frozen=True)
class _Model:
    """What the exporter needs to know of the model, wherever it came from."""

    module: Module
    input_shape: tuple[int, ...]
    name: str
    dataset: str | None
    classes: list[str] | None
    accuracy: float | None
    normalize: Normalize


def onnx_model(source: Source, input_shape: tuple[int, ...] | None = None,
               opset: int = DEFAULT_OPSET, include_preprocessing: bool = False,
               dataset: str | None = None, classes: list[str] | None = None) -> Any:
    """The checked ``onnx.ModelProto`` of ``source`` (see ``to_onnx`` for the arguments)."""
    from .. import __version__

    m = _resolve(source, input_shape, dataset, classes)
    g = GraphBuilder(opset)
    ids = isinstance(_first_layer(m.module), Embedding)     # the input: int64 ids, not floats
    if include_preprocessing and ids:
        raise ExportError("include_preprocessing needs a model that takes pixels; this one "
                          "begins with an Embedding, which takes integer ids")
    if include_preprocessing:
        inp = Value(g.fresh("pixels"), _pixel_shape(m.input_shape))
        x = _normalise(g, inp, m.normalize, m.input_shape)
    else:
        inp = x = Value(g.fresh("input"), m.input_shape, "int64" if ids else "float32")
    out = convert(m.module, g, x)
    classes_ = m.classes
    if classes_ is not None and out.shape != (len(classes_),):
        if classes is not None:
            raise ExportError(f"the model outputs {shape_text(out.shape)}, expected (N, "
                              f"{len(classes_)}): one score per class of classes")
        classes_ = None           # a dataset's default classes that this model does not score
    props = metadata_props(m.name, m.dataset, classes_, m.accuracy, m.normalize, inp.shape,
                           include_preprocessing, inp.dtype)
    doc = f"barenet {m.name} model" + (f" trained on {m.dataset}" if m.dataset else "")
    return g.finish(inp, out, OUTPUT, m.name, doc, props, __version__)


def to_onnx(source: Source, path: str | os.PathLike, input_shape: tuple[int, ...] | None = None,
            opset: int = DEFAULT_OPSET, include_preprocessing: bool = False,
            overwrite: bool = False, dataset: str | None = None,
            classes: list[str] | None = None) -> Path:
    """Export ``source`` to the ONNX file ``path``; returns the path.

    ``source``: a run directory (str or Path), a ``Run`` from ``load_run``, or a Module of
    barenet layers (nested Sequentials included) with ``input_shape``, the shape of one sample
    without the batch (e.g. (784,) or (1, 28, 28)); for a Module, ``dataset`` (default
    "mnist") gives the normalisation and the default ``classes``. ``opset``: from 13 to the
    newest the onnx package knows. ``include_preprocessing``: the graph takes float32 pixels
    (N, H, W) in [0, 1] and normalises them itself. ``path`` must not exist unless
    ``overwrite``. Raises ExportError (one line) for a layer without a converter, a shape that
    does not fit, a bad option or an output that cannot be written; CheckpointError for a
    directory that is not a run.
    """
    check_opset(opset)
    check_output(path, overwrite)
    model = onnx_model(source, input_shape, opset, include_preprocessing, dataset, classes)
    return write_model(model, path, overwrite)


def check_output(path: str | os.PathLike, overwrite: bool = False) -> Path:
    """``path`` as a Path if an exported file may be written there; ExportError naming it if
    it is a directory, exists without ``overwrite``, is not a regular file, or its directory
    is missing or not writable."""
    path = Path(path)
    if path.is_dir():
        raise ExportError(f"{path}: is a directory, expected the name of the .onnx file to "
                          "write")
    if path.exists() or path.is_symlink():
        if not overwrite:
            raise ExportError(f"{path}: already exists; choose another name, or replace it "
                              "with --overwrite (overwrite=True in Python)")
        if not path.is_file():
            raise ExportError(f"{path}: exists and is not a regular file; not replacing it")
    parent = path.parent
    if not parent.is_dir():
        what = "is not a directory" if parent.exists() else "no such directory"
        raise ExportError(f"{parent}: {what}, cannot write {path.name} there")
    if not os.access(parent, os.W_OK | os.X_OK):
        raise ExportError(f"{parent}: not writable, cannot write {path.name} there")
    return path


def write_model(model: Any, path: str | os.PathLike, overwrite: bool = False) -> Path:
    """Write an ``onnx.ModelProto`` to ``path`` atomically (a temporary file, then a rename);
    ExportError naming the file if it cannot be written."""
    path = check_output(path, overwrite)
    data = model.SerializeToString()
    try:
        return atomic_write_bytes(path, data)
    except OSError as exc:
        raise ExportError(f"{path}: cannot write ({exc.strerror or exc})") from None


def _resolve(source: Source, input_shape: Any, dataset: str | None, classes: Any) -> _Model:
    """The model and its facts from a run directory, a Run or a Module."""
    if isinstance(source, (str, os.PathLike)):
        from ..train.checkpoint import load_run

        source = load_run(source)
    if isinstance(source, Run):
        given = [k for k, v in (("input_shape", input_shape), ("dataset", dataset),
                                ("classes", classes)) if v is not None]
        if given:
            raise ExportError(f"{source.run_dir}: {', '.join(given)} come from the run; pass "
                              "them only with a Module")
        return _Model(source.model, tuple(source.input_shape), source.name, source.dataset,
                      list(source.classes), accuracy_of(source.config), source.normalize)
    if not isinstance(source, Module):
        raise ExportError(f"expected a run directory, a Run or a barenet Module, got "
                          f"{type(source).__name__}")
    shape = _input_shape(input_shape)
    spec = get_spec("mnist" if dataset is None else dataset)
    if classes is not None and (isinstance(classes, str) or not classes
                                or not all(isinstance(c, str) for c in classes)):
        raise ExportError(f"classes must be a non-empty list of names, got "
                          f"{brief(repr(classes), 60)}")
    names = list(spec.classes) if classes is None else list(classes)
    normalize = Normalize(spec.mean, spec.std, flatten=len(shape) == 1)
    return _Model(source, shape, "custom", spec.name, names, None, normalize)


def _first_layer(module: Module) -> Module | None:
    """The first layer that computes, inside nested Sequentials (None for an empty one)."""
    while isinstance(module, Sequential):
        module = next(iter(module._modules.values()), None)
    return module


def _input_shape(shape: Any) -> tuple[int, ...]:
    """A Module's per-sample input shape: a non-empty tuple of positive ints."""
    ok = isinstance(shape, (tuple, list)) and 0 < len(shape) <= 8 and all(
        isinstance(d, (int, np.integer)) and not isinstance(d, bool) and d > 0 for d in shape)
    if not ok:
        raise ExportError(f"input_shape: expected the shape of one sample without the batch, "
                          f"e.g. (784,) or (1, 28, 28), got {brief(repr(shape), 60)}")
    return tuple(int(d) for d in shape)


def _pixel_shape(shape: tuple[int, ...]) -> tuple[int, int]:
    """The (H, W) image behind a model input of (H*W,) (a square) or (1, H, W)."""
    if len(shape) == 3 and shape[0] == 1:
        return shape[1], shape[2]
    side = math.isqrt(shape[0]) if len(shape) == 1 else 0
    if len(shape) == 1 and side * side == shape[0]:
        return side, side
    raise ExportError(f"include_preprocessing needs a model that takes one-channel pixels, "
                      f"(N, H*W) of a square image or (N, 1, H, W), got {shape_text(shape)}")


def _normalise(g: GraphBuilder, pixels: Value, normalize: Normalize,
               shape: tuple[int, ...]) -> Value:
    """pixels (N, H, W) in [0, 1] -> (p - mean) / std, reshaped to the model's input."""
    mean = g.const("preprocessing.mean", normalize.mean)
    std = g.const("preprocessing.std", normalize.std)
    centred = g.node("Sub", [pixels.name, mean], "preprocessing")
    scaled = g.node("Div", [centred, std], "preprocessing")
    target = g.const("preprocessing.shape", [0, *shape], np.int64)
    return Value(g.node("Reshape", [scaled, target], "preprocessing"), shape)


__all__ = ["OUTPUT", "check_output", "onnx_model", "to_onnx", "write_model"]
