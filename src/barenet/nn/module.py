"""Parameter, Module and Sequential: the contract every layer follows.

A layer's ``forward`` caches exactly what its ``backward`` needs; ``backward`` takes dL/d(output),
accumulates (``+=``) into each parameter's ``.grad`` and returns dL/d(input).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator

import numpy as np


class Parameter:
    """A trainable array and its gradient: ``data`` and ``grad`` have the same shape and dtype."""

    __slots__ = ("data", "grad")

    def __init__(self, data: np.ndarray) -> None:
        self.data = np.asarray(data)
        self.grad = np.zeros_like(self.data)

    @property
    def shape(self) -> tuple[int, ...]:
        return self.data.shape

    @property
    def dtype(self) -> np.dtype:
        return self.data.dtype

    @property
    def size(self) -> int:
        return self.data.size

    def zero_grad(self) -> None:
        self.grad.fill(0)

    def __repr__(self) -> str:
        return f"Parameter(shape={self.data.shape}, dtype={self.data.dtype})"


class Module:
    """Base class of every layer and model.

    Assigning a ``Parameter`` or ``Module`` to an attribute registers it (as in PyTorch), so
    ``parameters()``, ``state_dict()`` and ``train()``/``eval()`` find it. Subclasses implement
    ``forward(x)`` and ``backward(grad_out)``.
    """

    def __init__(self) -> None:
        object.__setattr__(self, "_parameters", OrderedDict())
        object.__setattr__(self, "_modules", OrderedDict())
        object.__setattr__(self, "_buffers", OrderedDict())
        object.__setattr__(self, "training", True)

    # -- registration -----------------------------------------------------------------------
    def __setattr__(self, name: str, value: Any) -> None:
        if "_parameters" not in self.__dict__:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        if name in self._buffers and isinstance(value, np.ndarray):
            object.__setattr__(self, name, value)  # re-assigning a buffer keeps it a buffer
            return
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        if isinstance(value, Parameter):
            self._parameters[name] = value
        elif isinstance(value, Module):
            self._modules[name] = value
        object.__setattr__(self, name, value)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Register a non-trainable array (e.g. running statistics) saved in ``state_dict``."""
        object.__setattr__(self, name, value)
        self._buffers[name] = True

    # -- the computation --------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x)

    def _require_cache(self, cache: Any) -> None:
        """Raise a clear error when ``backward`` is called without a preceding ``forward``."""
        if cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward: run a forward pass first"
            )

    def _check_input(self, x: np.ndarray, ndim: tuple[int, ...], expected: str,
                     size: tuple[int, int] | None = None) -> None:
        """Validate a layer's input: a floating array with ``ndim`` in ``ndim`` and optionally
        ``x.shape[axis] == n`` for ``size=(axis, n)``. ``expected`` describes the shape wanted."""
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
            got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise TypeError(f"{self!r}: expected a float32 or float64 array {expected}, got {got}")
        if x.ndim not in ndim or (size is not None and x.shape[size[0]] != size[1]):
            raise ValueError(f"{self!r}: expected input of shape {expected}, got {x.shape}")

    # -- traversal --------------------------------------------------------------------------
    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        yield prefix, self
        for name, child in self._modules.items():
            yield from child.named_modules(f"{prefix}.{name}" if prefix else name)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for mod_name, mod in self.named_modules(prefix):
            for name in mod._buffers:
                yield (f"{mod_name}.{name}" if mod_name else name), getattr(mod, name)

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    # -- modes ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        for m in self.modules():
            object.__setattr__(m, "training", mode)
        return self

    def eval(self) -> Module:
        return self.train(False)

    def astype(self, dtype: Any) -> Module:
        """Cast every parameter (and its grad) and floating buffer to ``dtype``; returns self."""
        for m in self.modules():
            for p in m._parameters.values():
                p.data = p.data.astype(dtype)
                p.grad = np.zeros_like(p.data)
            for name in m._buffers:
                b = getattr(m, name)
                if np.issubdtype(b.dtype, np.floating):
                    setattr(m, name, b.astype(dtype))
        return self

    # -- state ------------------------------------------------------------------------------
    def state_dict(self) -> OrderedDict[str, np.ndarray]:
        """Every parameter and buffer by PyTorch-style dotted name (``0.weight``), copied."""
        out: OrderedDict[str, np.ndarray] = OrderedDict()
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name, p in mod._parameters.items():
                out[pre + name] = p.data.copy()
            for name in mod._buffers:
                out[pre + name] = np.array(getattr(mod, name), copy=True)
        return out

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> None:
        """Copy arrays from ``state`` into this module's parameters and buffers.

        Arrays are cast to each parameter's dtype. Every problem (missing, unexpected or
        mis-shaped key) is collected and reported in one ``KeyError``/``ValueError`` message;
        nothing is changed unless the whole state fits.
        """
        own: dict[str, tuple[Module, str, bool]] = {}
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name in mod._parameters:
                own[pre + name] = (mod, name, True)
            for name in mod._buffers:
                own[pre + name] = (mod, name, False)
        arrays = {k: np.asarray(v) for k, v in state.items()}
        # PyTorch's BatchNorm also stores num_batches_tracked; accept and ignore it.
        ignorable = {k for k in arrays if k.endswith("num_batches_tracked") and k not in own}
        missing = [k for k in own if k not in arrays]
        unexpected = [k for k in arrays if k not in own and k not in ignorable]
        mis_shaped = []
        for k, (mod, name, is_param) in own.items():
            if k in arrays:
                current = mod._parameters[name].data if is_param else getattr(mod, name)
                if arrays[k].shape != current.shape:
                    mis_shaped.append(f"{k}: expected {current.shape}, got {arrays[k].shape}")
        problems = []
        if missing:
            problems.append("missing keys: " + ", ".join(missing))
        if mis_shaped:
            problems.append("wrong shapes: " + "; ".join(mis_shaped))
        if unexpected and strict:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if problems and (strict or mis_shaped):
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        for k, (mod, name, is_param) in own.items():
            if k not in arrays:
                continue
            if is_param:
                p = mod._parameters[name]
                p.data = arrays[k].astype(p.data.dtype, copy=True)
                p.grad = np.zeros_like(p.data)
            else:
                cur = getattr(mod, name)
                setattr(mod, name, arrays[k].astype(cur.dtype, copy=True))

    # -- printing ---------------------------------------------------------------------------
    def extra_repr(self) -> str:
        return ""

    def __repr__(self) -> str:
        head = f"{type(self).__name__}({self.extra_repr()}"
        if not self._modules:
            return head + ")"
        lines = [head]
        for name, child in self._modules.items():
            child_repr = repr(child).replace("\n", "\n  ")
            lines.append(f"  ({name}): {child_repr}")
        return "\n".join(lines) + "\n)"


class Sequential(Module):
    """A chain of modules: ``forward`` runs them in order, ``backward`` in reverse.

    Children are named ``"0"``, ``"1"``, ... so state_dict keys match PyTorch (``0.weight``).
    """

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__}, not a Module")
            setattr(self, str(i), layer)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int) -> Module:
        return list(self._modules.values())[i]

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, layer: Module) -> Sequential:
        setattr(self, str(len(self)), layer)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self._modules.values():
            x = layer(x)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        for layer in reversed(self._modules.values()):
            grad_out = layer.backward(grad_out)
        return grad_out

    def forward_with_activations(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Like ``forward`` but also returns every layer's output, in order (for inspection)."""
        outs = []
        for layer in self._modules.values():
            x = layer(x)
            outs.append(x)
        return x, outs
