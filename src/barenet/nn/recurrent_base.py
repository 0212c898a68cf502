"""What RNN, LSTM and GRU share: parameters named as PyTorch's, stacked layers, two
directions, dropout between layers, initial and final states, and the backward pass through
the stack. Each subclass writes one layer's loop over time and its backpropagation through
time (``_layer_forward`` / ``_layer_backward``); see docs/recurrent.md.

Layout: batch first. x (N, T, input_size) -> output (N, T, D * hidden_size), D = 2 when
bidirectional (the forward direction's features first). States are (num_layers * D, N, H),
layer by layer, forward direction before backward, as in PyTorch.
"""
from __future__ import annotations

import math
from typing import Any

import numpy as np

from . import init
from .layer_args import Arg
from .layer_record import FLOAT, LayerMemory, ShapeMismatch, values
from .module import Module, Parameter

State = tuple[np.ndarray, ...]          # (h,) for RNN and GRU, (h, c) for LSTM: each (N, H)


class RNNBase(Module):
    """Base of RNN, LSTM and GRU; subclasses set ``_gates`` (rows of weight_ih per hidden unit)
    and ``_states`` (1: h; 2: h and c) and implement the per-layer loop over time.

    After ``forward``: ``h_n`` (and ``c_n`` for LSTM), the final states (num_layers * D, N, H).
    After ``backward``: ``grad_h0`` (and ``grad_c0``), dL/d(initial state), same shape.
    """

    @classmethod
    def expected_input(cls, c: dict, image_size: tuple[int, int]):
        """The image's rows as a sequence."""
        return (image_size[0], c["input_size"])

    ARGS = {"input_size": Arg("size"), "hidden_size": Arg("size"), "num_layers": Arg("stack", 1),
            "bias": Arg("bool", True), "batch_first": Arg("bool", True),
            "dropout": Arg("prob", 0.0),
            "bidirectional": Arg("bool", False)}
    #: Arrays of (T, hidden) kept per direction and layer for backpropagation through time (inputs,
    #: gates, states, their nonlinearities), measured with tracemalloc.
    _kept_arrays = 1.5

    @classmethod
    def count_numbers(cls, c: dict) -> tuple[int, int]:
        d, h = 1 + c["bidirectional"], c["hidden_size"]
        total = 0
        for k in range(c["num_layers"]):
            fan_in = c["input_size"] if k == 0 else d * h
            total += d * cls._gates * h * (fan_in + h + 2 * c["bias"])
        return total, 0

    @classmethod
    def infer_shape(cls, c: dict, shape: tuple[int, ...]) -> tuple[int, ...]:
        if len(shape) != 2 or shape[1] != c["input_size"]:
            raise ShapeMismatch(f"(N, T, {c['input_size']})")
        return (shape[0], (1 + c["bidirectional"]) * c["hidden_size"])

    @classmethod
    def step_memory(cls, c: dict, shape: tuple, out: tuple, first: bool) -> LayerMemory:
        steps, directions = shape[0], 1 + c["bidirectional"]
        kept = cls._kept_arrays * steps * c["hidden_size"] * directions * c["num_layers"]
        return LayerMemory(cache=FLOAT * int(kept), moment=FLOAT * (values(shape) + values(out)))

    _gates = 1
    _states = 1

    def __init__(self, input_size: int, hidden_size: int, num_layers: int = 1,
                 bias: bool = True, batch_first: bool = True, dropout: float = 0.0,
                 bidirectional: bool = False, rng: init.RNGLike = None,
                 dtype: np.dtype = np.float32) -> None:
        super().__init__()
        name = type(self).__name__
        for what, v in (("input_size", input_size), ("hidden_size", hidden_size),
                        ("num_layers", num_layers)):
            if isinstance(v, bool) or not isinstance(v, (int, np.integer)) or v <= 0:
                raise ValueError(f"{name}: {what} must be a positive int, got {v!r}")
        if batch_first is not True:
            raise ValueError(f"{name}: only batch_first=True is supported (inputs (N, T, "
                             f"features)), got batch_first={batch_first!r}")
        if isinstance(dropout, bool) or not isinstance(dropout, (int, float, np.number)) \
                or not 0.0 <= float(dropout) <= 1.0:
            raise ValueError(f"{name}: dropout must be a probability in [0, 1], got {dropout!r}")
        self.input_size, self.hidden_size = int(input_size), int(hidden_size)
        self.num_layers = int(num_layers)
        self.bias = bool(bias)
        self.batch_first = True
        self.dropout = float(dropout)
        self.bidirectional = bool(bidirectional)
        gen = init.as_generator(rng, name)
        self.rng = gen.spawn(1)[0]               # the dropout masks between layers
        rows = self._gates * self.hidden_size
        for k in range(self.num_layers):
            fan_in = self.input_size if k == 0 else self.directions * self.hidden_size
            for sfx in self._suffixes(k):
                setattr(self, "weight_ih" + sfx, Parameter(np.empty((rows, fan_in), dtype)))
                setattr(self, "weight_hh" + sfx,
                        Parameter(np.empty((rows, self.hidden_size), dtype)))
                if self.bias:
                    setattr(self, "bias_ih" + sfx, Parameter(np.empty(rows, dtype)))
                    setattr(self, "bias_hh" + sfx, Parameter(np.empty(rows, dtype)))
        self.reset_parameters(gen)
        self.h_n: np.ndarray | None = None
        self.grad_h0: np.ndarray | None = None
        self._cache: tuple | None = None

    @property
    def directions(self) -> int:
        return 2 if self.bidirectional else 1

    def _suffixes(self, k: int) -> list[str]:
        return [f"_l{k}", f"_l{k}_reverse"][:self.directions]

    def _params(self, k: int, d: int) -> tuple[Parameter, Parameter, Any, Any]:
        """(weight_ih, weight_hh, bias_ih, bias_hh) of layer k, direction d (biases or None)."""
        sfx = self._suffixes(k)[d]
        get = self._parameters.get
        return (get("weight_ih" + sfx), get("weight_hh" + sfx), get("bias_ih" + sfx),
                get("bias_hh" + sfx))

    def reset_parameters(self, rng: init.RNGLike = None) -> None:
        """Every weight and bias from U(-1/sqrt(H), 1/sqrt(H)), PyTorch's default, in
        registration order."""
        gen = init.as_generator(rng)
        bound = 1.0 / math.sqrt(self.hidden_size)
        for p in self._parameters.values():
            p.data = init.uniform(p.shape, bound, gen, p.dtype)
            p.grad = np.zeros_like(p.data)

    def __call__(self, x: np.ndarray, hx: Any = None) -> np.ndarray:
        return self.forward(x, hx)

    # -- the stack --------------------------------------------------------------------------
    def forward(self, x: np.ndarray, hx: Any = None) -> np.ndarray:
        """x (N, T, input_size), optional initial state hx (num_layers * D, N, H) (LSTM: a pair
        (h0, c0)) -> output (N, T, D * H): the last layer's h at every step."""
        self._check_input(x, (3,), f"(N, T, {self.input_size})", size=(2, self.input_size))
        if x.shape[1] == 0:
            raise ValueError(f"{self!r}: expected at least one time step, got {x.shape}")
        states0 = self._split_state(hx, x.shape[0], "hx")
        caches, masks, finals = [], [], []
        layer_in = x
        for k in range(self.num_layers):
            outs = []
            for d in range(self.directions):
                w = [None if p is None else p.data for p in self._params(k, d)]
                seq = layer_in[:, ::-1] if d else layer_in       # reverse: time flipped
                out, state, cache = self._layer_forward(seq, states0[k * self.directions + d],
                                                        *w)
                outs.append(out[:, ::-1] if d else out)
                caches.append(cache)
                finals.append(state)
            layer_out = np.concatenate(outs, axis=2) if self.bidirectional else outs[0]
            mask = None
            if k < self.num_layers - 1 and self.training and self.dropout > 0:
                keep = self.rng.random(layer_out.shape) >= self.dropout
                scale = 0.0 if self.dropout == 1 else 1.0 / (1.0 - self.dropout)
                mask = (keep * scale).astype(layer_out.dtype)
                layer_out = layer_out * mask
            masks.append(mask)
            layer_in = layer_out
        self.h_n = np.stack([s[0] for s in finals])              # (L*D, N, H)
        if self._states == 2:
            self.c_n = np.stack([s[1] for s in finals])
        self._cache = (caches, masks, layer_in.shape)
        return layer_in

    def backward(self, grad_out: np.ndarray, grad_state: Any = None) -> np.ndarray:
        """grad_out (N, T, D * H) -> dL/dx (N, T, input_size). ``grad_state``: optional
        dL/d(final state), shaped as ``h_n`` (LSTM: a pair for h_n and c_n). Sets
        ``grad_h0`` (and ``grad_c0``)."""
        return self._backward(grad_out, grad_state, need_input_grad=True)

    def backward_params_only(self, grad_out: np.ndarray) -> None:
        """The weight gradients only: the first layer skips dL/dx = sum of dL/da_t W_ih."""
        self._backward(grad_out, None, need_input_grad=False)

    def _backward(self, grad_out: np.ndarray, grad_state: Any,
                  need_input_grad: bool) -> np.ndarray | None:
        self._require_cache(self._cache)
        caches, masks, out_shape = self._cache
        self._check_grad(grad_out, out_shape)
        finals = self._split_state(grad_state, out_shape[0], "grad_state", zeros=False)
        starts: list[State] = [()] * len(caches)
        h, g = self.hidden_size, grad_out
        for k in reversed(range(self.num_layers)):
            if masks[k] is not None:
                g = g * masks[k]                                 # through the dropout
            dx = None
            for d in range(self.directions):
                i = k * self.directions + d
                gd = g[:, :, d * h:(d + 1) * h]
                dxd, starts[i] = self._layer_backward(gd[:, ::-1] if d else gd, finals[i],
                                                      caches[i], *self._params(k, d),
                                                      need_input_grad or k > 0)
                if dxd is not None:
                    dxd = dxd[:, ::-1] if d else dxd
                    dx = dxd if dx is None else dx + dxd         # both directions read x
            g = dx
        self.grad_h0 = np.stack([s[0] for s in starts])
        if self._states == 2:
            self.grad_c0 = np.stack([s[1] for s in starts])
        return g

    def _split_state(self, hx: Any, n: int, what: str, zeros: bool = True) -> list[Any]:
        """One tuple of (N, H) arrays per layer and direction from a state given as PyTorch
        gives it (None: zeros, or Nones when ``zeros`` is False)."""
        count = self.num_layers * self.directions
        if hx is None:
            z = np.zeros((n, self.hidden_size), self._parameters["weight_hh_l0"].dtype)
            return [(z,) * self._states if zeros else (None,) * self._states] * count
        parts = (hx,) if self._states == 1 else hx
        shape = (count, n, self.hidden_size)
        if not isinstance(parts, (tuple, list)) or len(parts) != self._states or not all(
                isinstance(a, np.ndarray) and a.shape == shape
                and np.issubdtype(a.dtype, np.floating) for a in parts):
            want = f"a float array {shape}" if self._states == 1 else \
                f"a pair (h, c) of float arrays {shape}"
            raise ValueError(f"{self!r}: {what} must be {want}")
        return [tuple(a[i] for a in parts) for i in range(count)]

    @staticmethod
    def _weight_grads(d_in: np.ndarray, d_hid: np.ndarray, x: np.ndarray, h_prev: np.ndarray,
                      w_ih: Parameter, w_hh: Parameter, b_ih: Any, b_hh: Any) -> None:
        """Accumulate the weight gradients of one layer from every step's gate gradients at
        once: dW_ih = sum_t d_in_t^T x_t, dW_hh = sum_t d_hid_t^T h_{t-1}, biases their sums.
        d_in, d_hid (N, T, G*H); x (N, T, I); h_prev (N, T, H)."""
        rows = d_in.shape[-1]
        w_ih.accumulate_grad(d_in.reshape(-1, rows).T, x.reshape(-1, x.shape[-1]))
        w_hh.accumulate_grad(d_hid.reshape(-1, rows).T, h_prev.reshape(-1, h_prev.shape[-1]))
        if b_ih is not None:
            b_ih.accumulate_grad(d_in.sum(axis=(0, 1)))
            b_hh.accumulate_grad(d_hid.sum(axis=(0, 1)))

    # -- one layer, one direction: the subclasses ------------------------------------------
    def _layer_forward(self, x: np.ndarray, state0: State, w_ih: np.ndarray, w_hh: np.ndarray,
                       b_ih: np.ndarray | None, b_hh: np.ndarray | None
                       ) -> tuple[np.ndarray, State, Any]:
        """x (N, T, I) -> (output (N, T, H), final state, cache)."""
        raise NotImplementedError

    def _layer_backward(self, g: np.ndarray, g_final: tuple, cache: Any, w_ih: Parameter,
                        w_hh: Parameter, b_ih: Any, b_hh: Any, need_input_grad: bool = True
                        ) -> tuple[np.ndarray | None, State]:
        """dL/d(output) (N, T, H), dL/d(final state) (entries may be None) -> (dL/dx (N, T, I),
        or None when not ``need_input_grad``, dL/d(initial state)); accumulates the weight
        gradients."""
        raise NotImplementedError

    def extra_repr(self) -> str:
        extra = "".join([f", num_layers={self.num_layers}" * (self.num_layers != 1),
                         ", bias=False" * (not self.bias),
                         f", dropout={self.dropout}" * (self.dropout != 0),
                         ", bidirectional=True" * self.bidirectional])
        return f"{self.input_size}, {self.hidden_size}{extra}"
