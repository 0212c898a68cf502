"""Sequential: a chain of modules, run forward in order and backward in reverse."""
from __future__ import annotations

from typing import Iterator

import numpy as np

from .module import Module, c_order


class Sequential(Module):
    """A chain of modules: ``forward`` runs them in order, ``backward`` in reverse (each layer
    that is not ``LAYOUT_AWARE`` gets its upstream gradient in C order: see ``module.py``).

    Children are named ``"0"``, ``"1"``, ... so state_dict keys match PyTorch (``0.weight``).
    """

    LAYOUT_AWARE = True          # it hands x to its first layer, which decides

    def __init__(self, *layers: Module) -> None:
        super().__init__()
        for i, layer in enumerate(layers):
            if not isinstance(layer, Module):
                raise TypeError(f"Sequential: item {i} is {type(layer).__name__}, not a Module")
            setattr(self, str(i), layer)

    def __len__(self) -> int:
        return len(self._modules)

    def __getitem__(self, i: int | slice) -> Module:
        layers = list(self._modules.values())
        if isinstance(i, slice):
            return Sequential(*layers[i])
        return layers[i]

    def __iter__(self) -> Iterator[Module]:
        return iter(self._modules.values())

    def append(self, layer: Module) -> Sequential:
        if not isinstance(layer, Module):
            raise TypeError(f"Sequential.append: {type(layer).__name__} is not a Module")
        setattr(self, str(len(self)), layer)
        return self

    def forward(self, x: np.ndarray) -> np.ndarray:
        for layer in self._modules.values():
            x = layer(x)
        return x

    def backward(self, grad_out: np.ndarray) -> np.ndarray:
        """Run every layer's backward in reverse; returns dL/dx."""
        for layer in reversed(self._modules.values()):
            grad_out = layer.backward(grad_out if layer.LAYOUT_AWARE else c_order(grad_out))
        return grad_out

    def backward_params_only(self, grad_out: np.ndarray) -> None:
        """Like ``backward``, but no dL/dx of the input (training: the input is data). The
        backward stops at the first layer with parameters, which skips its own dL/dx; the
        parameterless layers in front of it (a Flatten, say) need no gradient at all."""
        layers = list(self._modules.values())
        first = next((i for i, layer in enumerate(layers) if layer.parameters()), len(layers))
        for layer in reversed(layers[first + 1:]):
            grad_out = layer.backward(grad_out if layer.LAYOUT_AWARE else c_order(grad_out))
        if first < len(layers):
            layer = layers[first]
            layer.backward_params_only(grad_out if layer.LAYOUT_AWARE else c_order(grad_out))

    def forward_with_activations(self, x: np.ndarray) -> tuple[np.ndarray, list[np.ndarray]]:
        """Like ``forward`` but also returns every layer's output, in order (for inspection)."""
        outs = []
        for layer in self._modules.values():
            x = layer(x)
            outs.append(x)
        return x, outs
