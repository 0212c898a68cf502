"""barenet's Sequential models rebuilt in PyTorch, with the same weights.

``to_torch(model)`` maps each barenet layer to its ``torch.nn`` namesake (the state_dict keys
and layouts are PyTorch's, so barenet's arrays load strictly); the few that PyTorch has in
another form (recurrent layers and attention returning only their output, the patch embedding,
the sequence heads) map to small ``torch.nn`` subclasses with the same parameter names. Used
by ``barenet compare``, the parity tests and the benchmarks. torch is imported inside the
functions; a missing torch raises ConfigError with the install hint.
"""
from __future__ import annotations

import os
from typing import Any, Callable

import numpy as np

from ..errors import ConfigError
from ..nn.registry import type_name
from ..nn.sequential import Sequential

TORCH_HINT = 'PyTorch is not installed: pip install "barenet[torch]"'


def import_torch() -> Any:
    """``torch``, or ConfigError with the one-line install hint."""
    try:
        import torch
    except ImportError:
        raise ConfigError(TORCH_HINT) from None
    return torch


def numpy_threads() -> int:
    """Threads NumPy's BLAS uses: the usual environment variables, else the usable CPUs."""
    for var in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS"):
        value = os.environ.get(var, "").strip()
        if value.isdigit() and int(value) > 0:
            return int(value)
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


def to_torch(model: Any) -> Any:
    """A ``torch.nn.Module`` with the same layers, in the same order, and the same weights.

    Walks nested Sequentials; the state_dict keys are the same, so barenet's arrays load
    strictly. Raises ConfigError naming any layer it cannot map.
    """
    torch = import_torch()
    tmodel = _build_torch(torch.nn, model)
    state = {}
    for k, v in model.state_dict().items():
        v = np.asarray(v)
        state[k] = torch.from_numpy(v.astype(np.float32) if np.issubdtype(v.dtype, np.floating)
                                    else v.copy())
    missing, unexpected = tmodel.load_state_dict(state, strict=False)
    missing = [k for k in missing if not k.endswith("num_batches_tracked")]
    if missing or unexpected:
        raise ConfigError(f"compare: PyTorch copy of {type(model).__name__} does not match: "
                          f"missing {missing}, unexpected {unexpected}")
    return tmodel


def _build_torch(tnn: Any, model: Any) -> Any:
    if isinstance(model, Sequential):
        out = tnn.Sequential()
        for child_name, child in model._modules.items():
            out.add_module(child_name, _build_torch(tnn, child))
        return out
    name = type_name(model) or type(model).__name__
    factory = _LAYERS.get(type_name(model))
    if factory is None or (model._modules and name not in _COMPOSITE):
        raise ConfigError(f"compare: no PyTorch equivalent for layer {name}; supported: "
                          + ", ".join(sorted(_LAYERS)) + ", Sequential")
    return factory(tnn, model)


def _pair(v: Any) -> Any:
    return tuple(v) if isinstance(v, (list, tuple)) else v


def _conv(tnn: Any, m: Any) -> Any:
    c_out, c_in, kh, kw = m.weight.data.shape
    return tnn.Conv2d(c_in, c_out, (kh, kw), stride=_pair(getattr(m, "stride", 1)),
                      padding=_pair(getattr(m, "padding", 0)),
                      bias=getattr(m, "bias", None) is not None)


def _pool(cls: str) -> Callable[[Any, Any], Any]:
    def make(tnn: Any, m: Any) -> Any:
        k = _pair(m.kernel_size)
        stride = getattr(m, "stride", None)
        return getattr(tnn, cls)(k, stride=_pair(stride) if stride is not None else None,
                                 padding=_pair(getattr(m, "padding", 0)))
    return make


def _norm(cls: str) -> Callable[[Any, Any], Any]:
    def make(tnn: Any, m: Any) -> Any:
        n = int(getattr(m, "num_features", 0) or m.running_mean.shape[0])
        return getattr(tnn, cls)(n, eps=float(getattr(m, "eps", 1e-5)),
                                 momentum=float(getattr(m, "momentum", 0.1)),
                                 affine=getattr(m, "weight", None) is not None)
    return make


def _layer_norm(tnn: Any, m: Any) -> Any:
    return tnn.LayerNorm(m.normalized_shape, eps=m.eps, elementwise_affine=m.weight is not None,
                         bias=m.bias is not None)


def _recurrent(tnn: Any, m: Any) -> Any:
    """PyTorch's RNN, LSTM or GRU returning only its output, as barenet's does (the subclass
    adds no parameters, so the state_dict keys stay ``weight_ih_l0`` and so on)."""
    return _torch_glue()[type_name(m)](**m.get_config())     # PyTorch's argument names


def _attention(tnn: Any, m: Any) -> Any:
    c = m.get_config()                       # the layer's own account of its arguments
    return _torch_glue()["MultiheadAttention"](c["embed_dim"], c["num_heads"],
                                               dropout=c["dropout"], bias=c["bias"],
                                               batch_first=True)


def _encoder_layer(tnn: Any, m: Any) -> Any:
    c = m.get_config()
    return tnn.TransformerEncoderLayer(
        c["d_model"], c["nhead"], c["dim_feedforward"], dropout=c["dropout"],
        activation=c["activation"], layer_norm_eps=c["layer_norm_eps"], batch_first=True,
        norm_first=c["norm_first"], bias=c["bias"])


_GLUE: dict[str, type] = {}


def _torch_glue() -> dict[str, type]:
    """torch.nn subclasses for the barenet layers PyTorch has in another form: recurrent
    layers and self-attention that return only their output, the patch embedding, and the
    sequence heads. Made on first use (torch is imported only here)."""
    if _GLUE:
        return _GLUE
    torch = import_torch()
    tnn = torch.nn

    def output_only(base: type) -> type:
        return type(base.__name__, (base,), {"forward": lambda self, x: base.forward(self, x)[0]})

    class MultiheadAttention(tnn.MultiheadAttention):
        def forward(self, x: Any) -> Any:  # self-attention, as barenet's
            return super().forward(x, x, x, need_weights=False)[0]

    class PatchEmbedding(tnn.Module):
        def __init__(self, m: Any) -> None:
            super().__init__()
            self.patch_size = m.patch_size
            for name in ("weight", "bias", "class_token", "pos_embedding"):
                data = getattr(m, name).data
                setattr(self, name, tnn.Parameter(torch.zeros(data.shape)))

        def forward(self, x: Any) -> Any:
            tokens = tnn.functional.conv2d(x, self.weight, self.bias, stride=self.patch_size)
            tokens = tokens.flatten(2).transpose(1, 2)                # (N, P, E)
            cls = self.class_token.expand(x.shape[0], -1, -1)
            return torch.cat([cls, tokens], dim=1) + self.pos_embedding

    class SelectStep(tnn.Module):
        def __init__(self, index: int) -> None:
            super().__init__()
            self.index = index

        def forward(self, x: Any) -> Any:
            return x[:, self.index]

    class MeanOverTime(tnn.Module):
        def forward(self, x: Any) -> Any:
            return x.mean(dim=1)

    _GLUE.update({name: output_only(getattr(tnn, name)) for name in ("RNN", "LSTM", "GRU")})
    _GLUE.update(MultiheadAttention=MultiheadAttention, PatchEmbedding=PatchEmbedding,
                 SelectStep=SelectStep, MeanOverTime=MeanOverTime)
    return _GLUE


#: Built-in layers with sub-modules that map as a whole.
_COMPOSITE = ("MultiheadAttention", "TransformerEncoderLayer")

_LAYERS: dict[str, Callable[[Any, Any], Any]] = {
    "Linear": lambda tnn, m: tnn.Linear(m.weight.data.shape[1], m.weight.data.shape[0],
                                        bias=getattr(m, "bias", None) is not None),
    "Conv2d": _conv,
    "MaxPool2d": _pool("MaxPool2d"),
    "AvgPool2d": _pool("AvgPool2d"),
    "BatchNorm1d": _norm("BatchNorm1d"),
    "BatchNorm2d": _norm("BatchNorm2d"),
    "ReLU": lambda tnn, m: tnn.ReLU(),
    "Tanh": lambda tnn, m: tnn.Tanh(),
    "Sigmoid": lambda tnn, m: tnn.Sigmoid(),
    "LeakyReLU": lambda tnn, m: tnn.LeakyReLU(float(getattr(m, "negative_slope", 0.01))),
    "Flatten": lambda tnn, m: tnn.Flatten(int(getattr(m, "start_dim", 1)),
                                          int(getattr(m, "end_dim", -1))),
    "Dropout": lambda tnn, m: tnn.Dropout(float(getattr(m, "p", 0.5))),
    "Identity": lambda tnn, m: tnn.Identity(),
    "Softmax": lambda tnn, m: tnn.Softmax(int(getattr(m, "dim", -1))),
    "GELU": lambda tnn, m: tnn.GELU(approximate=m.approximate),
    "LayerNorm": _layer_norm,
    "Embedding": lambda tnn, m: tnn.Embedding(m.num_embeddings, m.embedding_dim),
    "RNN": _recurrent, "LSTM": _recurrent, "GRU": _recurrent,
    "MultiheadAttention": _attention,
    "TransformerEncoderLayer": _encoder_layer,
    "PatchEmbedding": lambda tnn, m: _torch_glue()["PatchEmbedding"](m),
    "SelectStep": lambda tnn, m: _torch_glue()["SelectStep"](m.index),
    "MeanOverTime": lambda tnn, m: _torch_glue()["MeanOverTime"](),
}
