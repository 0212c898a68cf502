"""The one registry of layers: built-ins and yours registered the same way; a layer of your own
described, rebuilt, shaped and measured from its constructor alone; the errors in one line."""
from __future__ import annotations

import numpy as np
import pytest

from barenet import nn
from barenet.nn.architecture import ArchitectureError, build, describe, validate
from barenet.nn.architecture_shapes import output_shape
from barenet.nn.registry import (
    LayerRegistryError,
    is_builtin,
    layer_class,
    registered,
    unregister_layer,
)
from barenet.nn.step_memory import step_bytes_per_sample


class Scale(nn.Module):
    """y = a * x + shift, ``a`` learnable (one number); the configuration is ``shift``."""

    def __init__(self, shift: float = 0.0, rng=None):
        super().__init__()
        self.shift = shift
        self.a = nn.Parameter(np.ones(1, dtype=np.float32))

    def forward(self, x):
        self._x = x
        return self.a.data[0] * x + self.shift

    def backward(self, grad_out):
        self.a.accumulate_grad(np.array([np.sum(grad_out * self._x)], dtype=self.a.data.dtype))
        return grad_out * self.a.data[0]


@pytest.fixture
def scale():
    cls = nn.register_layer(Scale)
    yield cls
    unregister_layer("Scale")


def test_every_built_in_layer_is_registered_by_its_class_name():
    builtins = {n: c for n, c in registered().items() if is_builtin(c)}
    exported = {name for name in nn.__all__ if isinstance(getattr(nn, name), type)
                and issubclass(getattr(nn, name), nn.Module)
                and not issubclass(getattr(nn, name), nn.Loss)} - {"Module", "Sequential"}
    assert set(builtins) == exported
    assert all(builtins[n].__name__ == n and builtins[n].EXAMPLE is not None for n in builtins)


def test_a_user_layer_round_trips_through_its_description(scale):
    model = nn.Sequential(nn.Linear(4, 3, rng=0), scale(shift=0.5))
    model[1].a.data[:] = 2.0
    desc = describe(model)
    assert desc["layers"][1] == {"type": "Scale", "args": {"shift": 0.5}}
    again = build(desc, rng=0)
    again.load_state_dict(model.state_dict())
    x = np.random.default_rng(0).standard_normal((5, 4)).astype(np.float32)
    np.testing.assert_array_equal(again(x), model(x))


def test_a_user_layers_shape_and_memory_are_measured(scale):
    desc = validate({"type": "Sequential", "layers": [
        {"type": "Linear", "args": {"in_features": 4, "out_features": 3}},
        {"type": "Scale", "args": {"shift": 1.0}}]})
    assert output_shape(desc, (4,)) == (3,)
    cost = Scale.step_memory({"shift": 1.0}, (3,), (3,), first=False)
    assert cost.keeps_input                    # it holds x by reference for backward
    assert step_bytes_per_sample(desc, (4,)) > 0
    assert Scale.count_numbers({"shift": 1.0}) == (1, 0)


def test_register_is_a_decorator_with_or_without_a_name():
    @nn.register_layer(name="Doubler")
    class Twice(nn.Module):
        def forward(self, x):
            return 2 * x

        def backward(self, g):
            return 2 * g
    try:
        assert layer_class("Doubler") is Twice
        assert describe(nn.Sequential(Twice()))["layers"][0] == {"type": "Doubler", "args": {}}
    finally:
        unregister_layer("Doubler")


def test_registering_the_same_class_again_replaces_it(scale):
    class Scale(nn.Module):   # the same module and name: a notebook cell run again
        def forward(self, x):
            return x

        def backward(self, g):
            return g
    Scale.__qualname__ = "Scale"
    nn.register_layer(Scale)
    assert layer_class("Scale") is Scale


@pytest.mark.parametrize("make, words", [
    (lambda: type("Linear", (nn.Module,), {"forward": lambda s, x: x,
                                           "backward": lambda s, g: g}),
     "the name 'Linear' is taken by barenet.nn.linear.Linear"),
    (lambda: type("NoBackward", (nn.Module,), {"forward": lambda s, x: x}),
     "NoBackward does not define backward"),
    (lambda: type("Star", (nn.Module,), {"forward": lambda s, x: x, "backward": lambda s, g: g,
                                         "__init__": lambda s, *sizes: None}),
     "Star cannot be rebuilt from its configuration"),
    (lambda: object, "is not a subclass of nn.Module"),
])
def test_a_class_that_cannot_be_a_layer_is_refused_in_one_line(make, words):
    with pytest.raises(LayerRegistryError) as info:
        nn.register_layer(make())
    assert words in str(info.value) and "\n" not in str(info.value)


def test_a_configuration_not_stored_under_its_own_name_is_named(scale):
    class Hidden(nn.Module):
        def __init__(self, width: int = 3):
            super().__init__()
            self._width = width

        def forward(self, x):
            return x

        def backward(self, g):
            return g
    nn.register_layer(Hidden)
    try:
        with pytest.raises(ArchitectureError, match=r"layer 0 \(Hidden\): .*self\.width"):
            describe(nn.Sequential(Hidden()))
    finally:
        unregister_layer("Hidden")


def test_an_unknown_layer_names_the_file_it_came_from():
    desc = {"type": "Sequential", "layers": [{"type": "Swish", "args": {}}]}
    with pytest.raises(ArchitectureError) as info:
        validate(desc, sources={"Swish": "my_layers.py"})
    assert "this run needs layer Swish from my_layers.py: pass --layers my_layers.py" \
        in str(info.value)
    with pytest.raises(ArchitectureError, match="unknown layer type 'Swish'"):
        validate(desc)


def test_a_user_layers_arguments_are_checked_as_json(scale):
    for bad in ({"shift": "x" * 500}, {"shift": float("nan")}, {"nope": 1}):
        with pytest.raises(ArchitectureError) as info:
            validate({"type": "Sequential", "layers": [{"type": "Scale", "args": bad}]})
        assert "layer 0 (Scale)" in str(info.value) and "\n" not in str(info.value)
