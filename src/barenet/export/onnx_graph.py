"""Building an ONNX graph: the one module that talks to the ``onnx`` package.

``GraphBuilder`` collects nodes and initializers (weights) while the per-layer converters
(``converters.py``) walk a model; ``finish`` makes the ``ModelProto`` and runs ``onnx.checker``
on it. A tensor is tracked as a ``Value``: its name and its shape per sample, the batch
dimension ``N`` (first, always) being dynamic. ``onnx`` is imported here, when a builder is
made, never when barenet is imported; without it the error says what to install.
"""
from __future__ import annotations

from typing import Any, NamedTuple

import numpy as np

from ..errors import BarenetError, brief

INSTALL_HINT = 'pip install "barenet[export]" (in a checkout: pip install -e ".[export]")'
MIN_OPSET = 13      # Softmax over one axis, ReduceSum with axes as an input
DEFAULT_OPSET = 17  # read by every onnxruntime since 1.11 (2022)
BATCH = "N"         # the name of the dynamic batch dimension


class ExportError(BarenetError):
    """A model, an option or an output file that cannot be exported (one line, naming it)."""


def require_onnx() -> Any:
    """The ``onnx`` module, or ExportError with the install command when it is missing."""
    try:
        import onnx
        from onnx import checker, helper, numpy_helper  # noqa: F401 - the parts used here
    except ImportError:
        raise ExportError(f"ONNX export needs the onnx package: {INSTALL_HINT}") from None
    return onnx


def max_opset() -> int:
    """The newest ONNX opset the installed onnx package knows."""
    return int(require_onnx().defs.onnx_opset_version())


def check_opset(opset: Any) -> int:
    """``opset`` as an int in [MIN_OPSET, max_opset()]; ExportError otherwise."""
    top = max_opset()
    ok = isinstance(opset, (int, np.integer)) and not isinstance(opset, bool)
    if not ok or not MIN_OPSET <= int(opset) <= top:
        raise ExportError(f"opset {brief(repr(opset), 40)} is not supported, expected an integer "
                          f"from {MIN_OPSET} to {top} (default {DEFAULT_OPSET})")
    return int(opset)


def shape_text(shape: tuple[int, ...]) -> str:
    """(784,) -> "(N, 784)": a per-sample shape with the dynamic batch dimension."""
    return f"({BATCH}" + "".join(f", {d}" for d in shape) + ")"


class Value(NamedTuple):
    """A tensor of the graph: its ``name``, its ``shape`` per sample (without the batch) and
    its ``dtype`` ("float32"; "int64" only for the ids an Embedding reads)."""

    name: str
    shape: tuple[int, ...]
    dtype: str = "float32"


class GraphBuilder:
    """Nodes and float32 initializers of one graph, for one ``opset``.

    Converters call ``const`` for weights (named like state_dict keys, ``0.weight``) and
    ``node`` for operators; ``finish`` wraps them into a checked ``ModelProto``.
    """

    def __init__(self, opset: int) -> None:
        self.onnx = require_onnx()
        self.opset = check_opset(opset)
        self.nodes: list[Any] = []
        self.initializers: list[Any] = []
        self._names: set[str] = set()
        self._producers: dict[str, Any] = {}

    def fresh(self, hint: str) -> str:
        """A tensor name not used yet, ``hint`` itself if it is free."""
        name, i = hint, 1
        while name in self._names:
            name, i = f"{hint}_{i}", i + 1
        self._names.add(name)
        return name

    def const(self, hint: str, array: Any, dtype: Any = np.float32) -> str:
        """An initializer holding ``array`` as ``dtype`` (float32 unless told); its name."""
        data = np.array(array, dtype=dtype, order="C")     # a scalar stays 0-d
        name = self.fresh(hint)
        self.initializers.append(self.onnx.numpy_helper.from_array(data, name))
        return name

    def node(self, op: str, inputs: list[str], hint: str, **attrs: Any) -> str:
        """Append one ``op`` node reading ``inputs``; returns the name of its output."""
        out = self.fresh(f"{hint}/{op}" if hint else op)
        node = self.onnx.helper.make_node(op, inputs, [out], name=out, **attrs)
        self.nodes.append(node)
        self._producers[out] = node
        return out

    def reduce_mean(self, x: str, axes: list[int], hint: str, keepdims: bool = True) -> str:
        """Mean over ``axes``, kept as size 1 unless ``keepdims`` is False (axes: an
        attribute before opset 18, an input from 18 on)."""
        if self.opset < 18:
            return self.node("ReduceMean", [x], hint, axes=axes, keepdims=int(keepdims))
        return self.node("ReduceMean", [x, self.const(f"{hint}.axes", axes, np.int64)], hint,
                         keepdims=int(keepdims))

    def finish(self, inp: Value, out: Value, output_name: str, graph_name: str,
               doc: str, props: dict[str, str], version: str) -> Any:
        """The checked ``ModelProto`` from graph input ``inp`` to output ``out``, which is
        renamed ``output_name``; ``props`` become its metadata_props."""
        helper = self.onnx.helper
        producer = self._producers.get(out.name)
        if producer is None:           # the model computes nothing (Identity, Dropout)
            producer = helper.make_node("Identity", [out.name], [out.name], name="output")
            self.nodes.append(producer)
        producer.output[0] = output_name
        f32 = self.onnx.TensorProto.FLOAT
        types = {"float32": f32, "int64": self.onnx.TensorProto.INT64}
        graph = helper.make_graph(
            self.nodes, graph_name,
            [helper.make_tensor_value_info(inp.name, types[inp.dtype], [BATCH, *inp.shape])],
            [helper.make_tensor_value_info(output_name, f32, [BATCH, *out.shape])],
            initializer=self.initializers)
        opsets = [helper.make_opsetid("", self.opset)]
        model = helper.make_model(graph, opset_imports=opsets, producer_name="barenet",
                                  producer_version=version, doc_string=doc)
        model.ir_version = helper.find_min_ir_version_for(opsets)  # older runtimes load it
        helper.set_model_props(model, props)
        try:
            self.onnx.checker.check_model(model, full_check=True)
        except Exception as exc:  # noqa: BLE001 - any checker failure is reported the same way
            raise ExportError(f"{graph_name}: the exported graph fails onnx.checker: "
                              f"{brief(exc, 300)}") from None
        return model


__all__ = ["BATCH", "DEFAULT_OPSET", "INSTALL_HINT", "MIN_OPSET", "ExportError", "GraphBuilder",
           "Value", "check_opset", "max_opset", "require_onnx", "shape_text"]
