"""Presets take the number of classes and the image size from the dataset (spec keys
``num_classes`` and ``image_size``); without them they are MNIST's, as they always were."""
from __future__ import annotations

import pytest

from barenet.errors import ConfigError
from barenet.models import MODEL_NAMES, architecture_of, default_spec, input_shape, resolve_spec
from barenet.nn.architecture_shapes import output_shape

#: Settings a preset needs for 16x16 images (a ViT's patches must divide the side).
FOR_16 = {"vit": {"patch": 4}}


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_presets_fit_26_classes_of_16x16(name):
    spec = {**default_spec(name), **FOR_16.get(name, {}), "num_classes": 26, "image_size": 16}
    shape = input_shape(spec)
    assert shape in ((256,), (1, 16, 16))
    assert output_shape(architecture_of(spec), shape) == (26,)


@pytest.mark.parametrize("name", MODEL_NAMES)
def test_without_data_keys_presets_are_mnist_s(name):
    spec = resolve_spec(name)
    assert "num_classes" not in spec and "image_size" not in spec
    assert input_shape(spec) in ((784,), (1, 28, 28))
    assert output_shape(architecture_of(spec), input_shape(spec)) == (10,)


@pytest.mark.parametrize("spec, expected", [
    ({"name": "mlp", "num_classes": 1}, "num_classes must be an integer in [2, 1000]"),
    ({"name": "mlp", "num_classes": 5000}, "num_classes must be an integer in [2, 1000]"),
    ({"name": "cnn", "image_size": 0}, "image_size must be an integer in [1, 512]"),
    ({"name": "cnn", "image_size": 6, "channels": [8, 8]}, "shrink a 6x6 image to nothing"),
    ({"name": "lenet5", "image_size": 8}, "lenet5: needs images of at least 10x10"),
    ({"name": "vit", "image_size": 16}, "vit: patch must divide 16"),
])
def test_bad_data_keys_are_refused(spec, expected):
    with pytest.raises(ConfigError) as exc:
        architecture_of(spec)
    assert expected in str(exc.value)
