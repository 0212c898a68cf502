"""Helpers for the layer tests: PyTorch parity of a layer's forward and every gradient."""
from __future__ import annotations

from typing import Any, Callable

import numpy as np
import pytest


def max_abs_diff(a: Any, b: Any) -> float:
    b = b.detach().numpy() if hasattr(b, "detach") else np.asarray(b)
    assert np.shape(a) == b.shape, f"shapes differ: {np.shape(a)} vs {b.shape}"
    return float(np.max(np.abs(np.asarray(a, dtype=np.float64) - b), initial=0.0))


@pytest.fixture
def torch_compare() -> Callable[..., dict[str, float]]:
    """``compare(layer, torch_layer, x, g, call=None, torch_call=None, backward=None)``: loads
    the torch layer's state_dict into the barenet layer (both float64), runs both forward on
    ``x`` (through ``call(layer, x)`` / ``torch_call(torch_layer, tx)`` when given),
    back-propagates the upstream ``g`` through both (``backward(layer, g)`` when given), and
    returns the largest absolute difference of the output, dL/dx
    ("input") and every parameter's gradient (by state_dict name)."""
    torch = pytest.importorskip("torch")

    def compare(layer, torch_layer, x, g, call=None, torch_call=None,
                backward=None) -> dict[str, float]:
        layer.load_state_dict({k: v.detach().numpy() for k, v in torch_layer.state_dict().items()})
        tx = torch.tensor(x, requires_grad=True)
        ty = torch_call(torch_layer, tx) if torch_call else torch_layer(tx)
        (ty * torch.tensor(g)).sum().backward()
        y = call(layer, x) if call else layer(x)
        dx = backward(layer, g) if backward else layer.backward(g)
        diffs = {"output": max_abs_diff(y, ty), "input": max_abs_diff(dx, tx.grad)}
        own = dict(layer.named_parameters())
        theirs = dict(torch_layer.named_parameters())
        assert set(own) == set(theirs)
        for name, p in theirs.items():
            diffs[name] = max_abs_diff(own[name].grad, p.grad)
        return diffs

    return compare
