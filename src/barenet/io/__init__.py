"""barenet.io: tensors in and out of barenet in the formats other libraries read.

``save_safetensors(tensors, path, metadata=None)`` writes a dict of NumPy arrays as a
.safetensors file, byte for byte as Hugging Face's reference ``safetensors`` does;
``load_safetensors(path)`` returns ``(tensors, metadata)``, reading the file as hostile input
(header checked against the file before anything is allocated). ``SafetensorsFile`` opens a
file and shows its header (``tensors``, ``metadata``) before reading any tensor. The format
byte by byte: ``safetensors.py`` and docs/safetensors.md. NumPy only.
"""
from .safetensors import (DTYPES, MAX_HEADER_BYTES, SafetensorsError, TensorInfo,
                          encode_header, parse_header)
from .safetensors_read import MAX_FILE_BYTES, SafetensorsFile, load_safetensors
from .safetensors_write import save_safetensors

__all__ = ["DTYPES", "MAX_FILE_BYTES", "MAX_HEADER_BYTES", "SafetensorsError",
           "SafetensorsFile", "TensorInfo", "encode_header", "load_safetensors",
           "parse_header", "save_safetensors"]
