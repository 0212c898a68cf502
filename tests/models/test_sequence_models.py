"""The sequence models (rnn, lstm, gru: a digit read row by row) and the vision transformer
(vit: a digit cut into patches): architectures, parameter counts, settings, a few training
steps that learn, and a run saved and loaded that predicts bit-identically."""
import numpy as np
import pytest

from barenet import load_run, nn, optim, save_run
from barenet.errors import ConfigError
from barenet.models import (
    architecture_of,
    build_model,
    count_parameters,
    default_spec,
    get_entry,
    input_shape,
)
from barenet.train import Callback, TrainingInterrupted, resume_training, train_model

NAMES = ["rnn", "lstm", "gru", "vit"]


@pytest.mark.parametrize("name, params", [
    ("rnn", 128 * (28 + 128 + 2) + 1290),
    ("lstm", 4 * 128 * (28 + 128 + 2) + 1290),
    ("gru", 3 * 128 * (28 + 128 + 2) + 1290),
    # patches 64*(49+1), class token and 17 positions, 4 x (attention 4*64*65, MLP
    # 64*128+128+128*64+64, 2 LayerNorms 4*64), final LayerNorm 128, head 650
    ("vit", 64 * 50 + 64 + 17 * 64 + 4 * (4 * 64 * 65 + 2 * 64 * 128 + 192 + 256) + 128 + 650),
])
def test_default_models_and_their_sizes(name, params):
    model = build_model(name, rng=0)
    assert count_parameters(model) == params
    assert input_shape(name) == (1, 28, 28) and get_entry(name).input == "image"
    x = np.random.default_rng(1).standard_normal((2, 1, 28, 28)).astype(np.float32)
    model.eval()
    y = model(x)
    assert y.shape == (2, 10) and y.dtype == np.float32


def test_the_recurrent_models_read_rows_as_time_steps():
    arch = architecture_of({"name": "lstm", "hidden": 32, "layers": 2, "bidirectional": True,
                            "dropout": 0.1})
    kinds = [d["type"] for d in arch["layers"]]
    assert kinds == ["Flatten", "LSTM", "SelectStep", "Linear"]
    assert arch["layers"][1]["args"] == {"input_size": 28, "hidden_size": 32, "num_layers": 2,
                                         "bias": True, "batch_first": True, "dropout": 0.1,
                                         "bidirectional": True}
    assert arch["layers"][3]["args"]["in_features"] == 64


def test_vit_cuts_the_digit_into_patches():
    model = build_model({"name": "vit", "patch": 4, "dim": 8, "heads": 2, "depth": 1,
                         "mlp": 16}, rng=0)
    tokens = model[0](np.zeros((1, 1, 28, 28), np.float32))
    assert tokens.shape == (1, 1 + 49, 8)
    assert type(model[1]).__name__ == "TransformerEncoderLayer" and model[1].norm_first


@pytest.mark.parametrize("name", NAMES)
def test_a_few_adam_steps_fit_a_small_batch(name):
    """Learning works end to end: the loss on one batch falls."""
    small = {"vit": {"dim": 16, "heads": 2, "depth": 1, "mlp": 32},
             "rnn": {"hidden": 32}, "lstm": {"hidden": 32}, "gru": {"hidden": 32}}[name]
    model = build_model({"name": name, **small}, rng=0)
    rng = np.random.default_rng(1)
    x = rng.standard_normal((16, 1, 28, 28)).astype(np.float32)
    y = rng.integers(0, 10, 16)
    criterion, opt = nn.CrossEntropyLoss(), optim.Adam(model.parameters(), lr=1e-2)
    losses = []
    for _ in range(15):
        losses.append(criterion(model(x), y))
        opt.zero_grad()
        model.backward_params_only(criterion.backward())
        opt.step()
    assert losses[-1] < 0.7 * losses[0], losses


@pytest.mark.parametrize("name", NAMES)
def test_a_saved_run_predicts_bit_identically(name, tmp_path):
    small = {"vit": {"dim": 8, "heads": 2, "depth": 1, "mlp": 8}}.get(name, {"hidden": 8})
    model = build_model({"name": name, **small}, rng=0)
    save_run(tmp_path / name, model)
    again = load_run(tmp_path / name).model
    x = np.random.default_rng(1).standard_normal((5, 1, 28, 28)).astype(np.float32)
    model.eval(), again.eval()
    assert np.array_equal(model(x), again(x))


@pytest.mark.parametrize("spec, words", [
    ({"name": "lstm", "hidden": 0}, "lstm: hidden must be an integer"),
    ({"name": "gru", "layers": 9}, "gru: layers must be an integer in [1, 8]"),
    ({"name": "rnn", "bidirectional": 1}, "rnn: bidirectional must be true or false"),
    ({"name": "lstm", "dropout": 1.0}, "lstm: dropout must be a number in [0, 1)"),
    ({"name": "vit", "patch": 5}, "vit: patch must divide 28"),
    ({"name": "vit", "heads": 3}, "vit: heads must divide dim 64"),
    ({"name": "vit", "activation": "tanh"}, "vit: activation must be"),
    ({"name": "vit", "hidden": 3}, "no setting 'hidden'"),
])
def test_bad_settings_are_named(spec, words):
    with pytest.raises(ConfigError, match=None) as info:
        build_model(spec)
    assert words in str(info.value)


def test_defaults_and_training_settings():
    assert default_spec("lstm") == {"name": "lstm", "hidden": 128, "layers": 1,
                                    "bidirectional": False, "dropout": 0.0}
    assert default_spec("vit")["dim"] == 64 and default_spec("vit")["depth"] == 4
    assert get_entry("lstm").train["optimizer"] == "adam"
    assert get_entry("vit").train["optimizer"] == "adamw"


class InterruptAt(Callback):
    """A simulated Ctrl-C after batch ``batch`` of epoch ``epoch``."""

    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, epoch, batch, loss):
        if (epoch, batch) == self.at:
            raise KeyboardInterrupt


@pytest.mark.parametrize("spec", [
    {"name": "rnn", "hidden": 8, "layers": 2, "dropout": 0.3},
    {"name": "lstm", "hidden": 8, "layers": 2, "dropout": 0.3, "bidirectional": True},
    {"name": "gru", "hidden": 8, "layers": 2, "dropout": 0.3, "bidirectional": True},
    {"name": "vit", "dim": 8, "heads": 2, "depth": 1, "mlp": 8, "dropout": 0.2},
], ids=lambda s: s["name"])
def test_ctrl_c_then_resume_equals_an_uninterrupted_run(spec, tmp_path):
    """Dropout between recurrent layers and inside attention draws from generators that the
    checkpoint saves, so a resumed run ends with the same weights, bit for bit."""
    cfg = {"spec": spec, "limit_train": 240, "limit_test": 50, "epochs": 2, "batch_size": 40}
    full = train_model(cfg, tmp_path / "full", plots=False)
    with pytest.raises(TrainingInterrupted):
        train_model(cfg, tmp_path / "cut", plots=False, callbacks=[InterruptAt(2, 2)])
    resumed = resume_training(tmp_path / "cut", plots=False)
    a, b = full.model.state_dict(), resumed.model.state_dict()
    assert all(np.array_equal(a[k], b[k]) for k in a)
    assert resumed.test_accuracy == full.test_accuracy
