"""Module: the contract every layer follows (Parameter is in parameter.py, Sequential in
sequential.py).

A layer's ``forward`` caches exactly what its ``backward`` needs; ``backward`` takes dL/d(output),
adds into each parameter's ``.grad`` with ``Parameter.accumulate_grad`` and returns dL/d(input).
``backward_params_only`` does the same without dL/d(input), for a network's first layer.
Layers never modify their input or the upstream gradient in place; caches hold references, so
an array a layer received or returned must not be modified in place before its ``backward``.

The layout rule: a layer may return a *view* in another memory order (the convolution and
pooling kernels work batch-last, (C, H, W, N), and hand on that layout so the next kernel needs
no copy), but a layer receives a C-contiguous array unless it declares ``LAYOUT_AWARE = True``
(it is element-wise, or reduces only over the batch, or only multiplies matrices):
``Module.__call__`` copies its input, and ``Sequential`` the upstream gradient, into C order
first (free when they already are). Why: NumPy sums a float32 reduction over the non-batch axes
of a batch-last view (``x.mean(axis=(1, 2, 3))``, a norm's statistics) element by element
instead of pairwise, and loses about two digits (1e-5 to 1e-3 against float64 where PyTorch
has 1e-6). So a layer of your own may reduce over any axis; a built-in that declares itself
layout-aware is tested for it (``tests/nn/test_every_layer.py`` checks every registered layer's
float32 forward and backward behind a Conv2d against float64).
"""
from __future__ import annotations

from collections import OrderedDict
from typing import Any, Iterator, NamedTuple

import numpy as np

from .layer_record import LayerRecord
from .parameter import Parameter


def c_order(a: Any) -> Any:
    """``a`` as a C-contiguous array (itself when it already is; anything else unchanged):
    what a layer that is not ``LAYOUT_AWARE`` receives."""
    if isinstance(a, np.ndarray) and not a.flags.c_contiguous:
        return np.ascontiguousarray(a)
    return a


class IncompatibleKeys(NamedTuple):
    """What ``load_state_dict(strict=False)`` skipped: keys the module has but the state lacks,
    and keys the state has but the module lacks."""

    missing_keys: list[str]
    unexpected_keys: list[str]


class Module(LayerRecord):
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
        d = self.__dict__
        if "_parameters" not in d:
            raise AttributeError(
                f"{type(self).__name__}: call super().__init__() before assigning attributes"
            )
        if isinstance(value, (Parameter, Module)):
            for table in (d["_parameters"], d["_modules"], d["_buffers"]):
                table.pop(name, None)
            (d["_parameters"] if isinstance(value, Parameter) else d["_modules"])[name] = value
        elif name in d["_buffers"]:
            if not isinstance(value, np.ndarray):  # re-assigning an array keeps it a buffer
                del d["_buffers"][name]
        elif name in d["_parameters"] or name in d["_modules"]:
            d["_parameters"].pop(name, None)  # e.g. ``self.bias = None`` unregisters it
            d["_modules"].pop(name, None)
        object.__setattr__(self, name, value)

    def __delattr__(self, name: str) -> None:
        for table in (self._parameters, self._modules, self._buffers):
            table.pop(name, None)
        object.__delattr__(self, name)

    def register_buffer(self, name: str, value: np.ndarray) -> None:
        """Register a non-trainable array (e.g. running statistics) saved in ``state_dict``."""
        if not isinstance(value, np.ndarray):
            raise TypeError(f"{type(self).__name__}.register_buffer({name!r}): expected a NumPy "
                            f"array, got {type(value).__name__}")
        self._parameters.pop(name, None)
        self._modules.pop(name, None)
        object.__setattr__(self, name, value)
        self._buffers[name] = True

    # -- the computation --------------------------------------------------------------------
    def forward(self, x: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement forward")

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        raise NotImplementedError(f"{type(self).__name__} does not implement backward")

    def backward_params_only(self, grad_out: np.ndarray) -> None:
        """Accumulate parameter gradients without computing dL/dx.

        For the first layer of a network, whose input (the data) needs no gradient; every
        Module has it, so a training loop calls ``model.backward_params_only(grad)`` whatever
        the model is. The default runs ``backward`` and drops the result; layers where dL/dx
        is costly (Linear, Conv2d) and Sequential override it to skip that work.
        """
        self.backward(grad_out)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.forward(x if self.LAYOUT_AWARE else c_order(x))

    def _require_cache(self, cache: Any) -> None:
        """Raise a clear error when ``backward`` is called without a preceding ``forward``."""
        if cache is None:
            raise RuntimeError(
                f"{type(self).__name__}.backward called before forward: run a forward pass first"
            )

    def _check_input(self, x: np.ndarray, ndim: tuple[int, ...] | None, expected: str,
                     size: tuple[int, int] | None = None) -> None:
        """Validate a layer's input: a floating array with ``x.ndim`` in ``ndim`` (None: any)
        and optionally ``x.shape[axis] == n`` for ``size=(axis, n)``. ``expected`` describes
        the shape wanted, e.g. ``"(N, 784)"``."""
        if not isinstance(x, np.ndarray) or not np.issubdtype(x.dtype, np.floating):
            got = x.dtype if isinstance(x, np.ndarray) else type(x).__name__
            raise TypeError(f"{self!r}: expected a float32 or float64 array {expected}, got {got}")
        if (ndim is not None and x.ndim not in ndim) or (
                size is not None and (x.ndim <= size[0] or x.shape[size[0]] != size[1])):
            raise ValueError(f"{self!r}: expected input of shape {expected}, got {x.shape}")

    def _check_grad(self, grad_out: np.ndarray, shape: tuple[int, ...]) -> None:
        """Raise if the upstream gradient does not have the shape of the forward output."""
        if getattr(grad_out, "shape", None) != shape:
            got = getattr(grad_out, "shape", type(grad_out).__name__)
            raise ValueError(f"{self!r}.backward: expected a gradient of shape {shape} "
                             f"(the forward output), got {got}")

    # -- traversal --------------------------------------------------------------------------
    def children(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def named_modules(self, prefix: str = "") -> Iterator[tuple[str, Module]]:
        """This module and every descendant, depth first, each once, with dotted names."""
        seen: set[int] = set()

        def walk(mod: Module, name: str) -> Iterator[tuple[str, Module]]:
            if id(mod) in seen:
                return
            seen.add(id(mod))
            yield name, mod
            for child_name, child in mod._modules.items():
                yield from walk(child, f"{name}.{child_name}" if name else child_name)

        return walk(self, prefix)

    def modules(self) -> Iterator[Module]:
        for _, m in self.named_modules():
            yield m

    def named_parameters(self, prefix: str = "") -> Iterator[tuple[str, Parameter]]:
        """Every parameter once (a shared one under its first name), in registration order."""
        seen: set[int] = set()
        for mod_name, mod in self.named_modules(prefix):
            for name, p in mod._parameters.items():
                if id(p) not in seen:
                    seen.add(id(p))
                    yield (f"{mod_name}.{name}" if mod_name else name), p

    def parameters(self) -> list[Parameter]:
        return [p for _, p in self.named_parameters()]

    def named_buffers(self, prefix: str = "") -> Iterator[tuple[str, np.ndarray]]:
        for mod_name, mod in self.named_modules(prefix):
            for name in mod._buffers:
                yield (f"{mod_name}.{name}" if mod_name else name), getattr(mod, name)

    def buffers(self) -> list[np.ndarray]:
        return [b for _, b in self.named_buffers()]

    def zero_grad(self) -> None:
        for p in self.parameters():
            p.zero_grad()

    def num_parameters(self) -> int:
        return int(sum(p.size for p in self.parameters()))

    # -- modes ------------------------------------------------------------------------------
    def train(self, mode: bool = True) -> Module:
        """Set training mode (``mode=True``) or evaluation mode on this module and every
        descendant; returns self."""
        if not isinstance(mode, bool):
            raise TypeError(f"{type(self).__name__}.train: mode must be a bool, got {mode!r}")
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

    def load_state_dict(self, state: dict[str, Any], strict: bool = True) -> IncompatibleKeys:
        """Copy arrays from ``state`` into this module's parameters and buffers.

        Arrays are cast to each parameter's dtype. Every problem (missing or unexpected key
        when ``strict``; a wrong shape or a non-numeric array always) is collected and reported
        in one ``ValueError``; nothing is changed unless the whole state fits. Returns the
        missing and unexpected keys (both empty when ``strict``).
        """
        own: dict[str, tuple[Module, str, bool]] = {}
        for mod_name, mod in self.named_modules():
            pre = f"{mod_name}." if mod_name else ""
            for name in mod._parameters:
                own[pre + name] = (mod, name, True)
            for name in mod._buffers:
                own[pre + name] = (mod, name, False)
        arrays = {str(k): np.asarray(v) for k, v in state.items()}
        # BatchNorm's num_batches_tracked counter is optional both ways (as in PyTorch, whose
        # older checkpoints lack it): an extra one is ignored, a missing one keeps its value.
        ignorable = {k for k in arrays if k.endswith("num_batches_tracked") and k not in own}
        missing = [k for k in own if k not in arrays and not k.endswith("num_batches_tracked")]
        unexpected = [k for k in arrays if k not in own and k not in ignorable]
        bad = []
        for k, (mod, name, is_param) in own.items():
            if k in arrays:
                current = mod._parameters[name].data if is_param else getattr(mod, name)
                if arrays[k].dtype.kind not in "biuf":
                    bad.append(f"{k}: expected a numeric array, got dtype {arrays[k].dtype}")
                elif arrays[k].shape != current.shape:
                    bad.append(f"{k}: expected {current.shape}, got {arrays[k].shape}")
        problems = []
        if missing and strict:
            problems.append("missing keys: " + ", ".join(missing))
        if unexpected and strict:
            problems.append("unexpected keys: " + ", ".join(unexpected))
        if bad:
            problems.append("wrong shapes or dtypes: " + "; ".join(bad))
        if problems:
            raise ValueError(f"load_state_dict into {type(self).__name__}: " + "; ".join(problems))
        for k, (mod, name, is_param) in own.items():
            if k not in arrays:
                continue
            if is_param:
                p = mod._parameters[name]
                data = np.empty_like(p.data)  # keeps the layer's memory layout (see Linear)
                data[...] = arrays[k]
                p.data, p.grad = data, np.zeros_like(data)
            else:
                cur = getattr(mod, name)
                setattr(mod, name, arrays[k].astype(cur.dtype, copy=True))
        return IncompatibleKeys(missing, unexpected)

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
