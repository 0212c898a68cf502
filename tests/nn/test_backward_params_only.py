"""``backward_params_only``: the same parameter gradients as ``backward``, without the
product that would make dL/dx of the network's input.

A weight whose matrix products are counted shows that the product with the first layer's
input-side weight (the one that only dL/dx needs) is skipped, and that ``Sequential`` does
not run the backward of parameterless layers in front of its first layer with parameters.
"""
from __future__ import annotations

import numpy as np
import pytest

from barenet import nn


class Counted(np.ndarray):
    """An array that counts the matrix products it takes part in."""
    products = 0

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if ufunc is np.matmul:
            Counted.products += 1
        plain = [np.asarray(a) if isinstance(a, Counted) else a for a in inputs]
        if "out" in kwargs:
            kwargs["out"] = tuple(np.asarray(o) for o in kwargs["out"])
        return getattr(ufunc, method)(*plain, **kwargs)


def count_products_of(param: nn.Parameter) -> None:
    param.data = param.data.view(Counted)


def grads(model: nn.Module) -> dict[str, np.ndarray]:
    return {k: np.array(p.grad) for k, p in model.named_parameters()}


def both_ways(make, x: np.ndarray, watch: str) -> tuple[dict, dict, int, int]:
    """Parameter gradients and counted products of ``watch`` from backward and from
    backward_params_only, on two identical models."""
    out = []
    for params_only in (False, True):
        model = make()
        count_products_of(dict(model.named_parameters())[watch])
        y = model(x)
        g = np.random.default_rng(1).standard_normal(y.shape).astype(y.dtype)
        Counted.products = 0
        result = model.backward_params_only(g) if params_only else model.backward(g)
        assert (result is None) == params_only
        out.append((grads(model), Counted.products))
    (full, used_full), (partial, used_partial) = out
    return full, partial, used_full, used_partial


RECURRENT = [(kind, layers, bidirectional) for kind in ("RNN", "LSTM", "GRU")
             for layers in (1, 2) for bidirectional in (False, True)]


@pytest.mark.parametrize("kind, layers, bidirectional", RECURRENT)
def test_recurrent_layer_skips_the_input_product_of_its_first_layer(kind, layers,
                                                                     bidirectional):
    def make():
        return getattr(nn, kind)(3, 4, num_layers=layers, bidirectional=bidirectional,
                                 rng=0).astype(np.float64)
    x = np.random.default_rng(0).standard_normal((2, 5, 3))
    full, partial, used_full, used_partial = both_ways(make, x, "weight_ih_l0")
    assert used_full >= 1 and used_partial == 0
    assert full.keys() == partial.keys()
    for k in full:
        np.testing.assert_allclose(partial[k], full[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_patch_embedding_skips_the_input_product():
    def make():
        return nn.PatchEmbedding(image_size=8, patch_size=4, in_channels=2, embed_dim=5,
                                 rng=0).astype(np.float64)
    x = np.random.default_rng(0).standard_normal((3, 2, 8, 8))
    full, partial, used_full, used_partial = both_ways(make, x, "weight")
    assert used_full >= 1 and used_partial == 0
    for k in full:
        np.testing.assert_allclose(partial[k], full[k], rtol=1e-12, atol=1e-12, err_msg=k)


class Spy(nn.Flatten):
    """A Flatten that records its backward calls."""
    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.calls = 0

    def backward(self, grad_out):
        self.calls += 1
        return super().backward(grad_out)


def test_sequential_starts_at_its_first_layer_with_parameters():
    """A row-by-row LSTM model begins with a parameterless Flatten: backward_params_only
    neither runs its backward nor makes the LSTM's dL/dx for it."""
    def make():
        return nn.Sequential(Spy(start_dim=1, end_dim=2),
                             nn.LSTM(6, 4, rng=0).astype(np.float64),
                             nn.SelectStep(-1), nn.Linear(4, 3, rng=1).astype(np.float64))
    x = np.random.default_rng(0).standard_normal((2, 1, 5, 6))
    spies = []
    for params_only in (False, True):
        model = make()
        model(x)
        g = np.ones((2, 3))
        model.backward_params_only(g) if params_only else model.backward(g)
        spies.append(model[0].calls)
    assert spies == [1, 0]
    full, partial, used_full, used_partial = both_ways(make, x, "1.weight_ih_l0")
    assert used_full >= 1 and used_partial == 0
    for k in full:
        np.testing.assert_allclose(partial[k], full[k], rtol=1e-12, atol=1e-12, err_msg=k)


def test_sequential_without_parameters_does_nothing():
    model = nn.Sequential(Spy(), nn.ReLU())
    model(np.ones((2, 3, 4)))
    assert model.backward_params_only(np.ones((2, 12))) is None
    assert model[0].calls == 0
