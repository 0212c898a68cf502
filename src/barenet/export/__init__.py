"""barenet.export: a trained model out of barenet, as an ONNX file that onnxruntime runs.

``to_onnx(run_or_model, path)`` writes the file (``onnx_export.py``); ``onnx_model`` gives the
checked ``onnx.ModelProto`` without writing it. Each layer type has one converter
(``converters.py``; the recurrent layers' in ``converters_recurrent.py``, attention's and the
other sequence layers' in ``converters_sequence.py``); ``register`` adds one for a layer of
your own. ``onnx`` is imported only when a graph is built (``pip install "barenet[export]"``).
"""
from .converters import CONVERTERS, convert, register
from . import converters_recurrent, converters_sequence  # noqa: F401 - they register theirs
from .onnx_export import OUTPUT, check_output, onnx_model, to_onnx, write_model
from .onnx_graph import (DEFAULT_OPSET, INSTALL_HINT, MIN_OPSET, ExportError, GraphBuilder, Value,
                         max_opset)

__all__ = ["CONVERTERS", "DEFAULT_OPSET", "INSTALL_HINT", "MIN_OPSET", "OUTPUT", "ExportError",
           "GraphBuilder", "Value", "check_output", "convert", "max_opset", "onnx_model",
           "register", "to_onnx", "write_model"]
