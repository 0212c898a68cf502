"""The training loop: determinism, resume equivalence, Ctrl-C, divergence, schedules, stopping."""
import numpy as np
import pytest

from barenet.errors import CheckpointError, ConfigError, TrainingDiverged
from barenet.train import Callback, TrainingInterrupted, load_run, resume_training, train_model
from barenet.train.resume import RESUME, read_resume_state

TINY = {"limit_train": 600, "limit_test": 200, "epochs": 2, "batch_size": 50, "hidden": 16}


def arrays(path):
    """Every array of an .npz except resume.npz's JSON text (which holds timings)."""
    with np.load(path, allow_pickle=False) as z:
        return {k: z[k] for k in z.files if k != "state"}


def same_arrays(a, b):
    return a.keys() == b.keys() and all(np.array_equal(a[k], b[k]) for k in a)


class InterruptAt(Callback):
    """Raise KeyboardInterrupt after batch ``batch`` of epoch ``epoch`` (a simulated Ctrl-C)."""

    def __init__(self, epoch, batch):
        self.at = (epoch, batch)

    def on_batch_end(self, epoch, batch, loss):
        if (epoch, batch) == self.at:
            raise KeyboardInterrupt


def no_temp_files(run_dir):
    return not [p.name for p in run_dir.iterdir() if p.name.endswith(".tmp")]


def test_same_seed_gives_identical_weights_and_history():
    a = train_model({**TINY, "seed": 7}, None, plots=False)
    b = train_model({**TINY, "seed": 7}, None, plots=False)
    c = train_model({**TINY, "seed": 8}, None, plots=False)
    assert same_arrays(a.model.state_dict(), b.model.state_dict())
    assert [h["train_loss"] for h in a.history] == [h["train_loss"] for h in b.history]
    assert not same_arrays(a.model.state_dict(), c.model.state_dict())


def test_history_records_and_accuracy_is_learned():
    r = train_model({**TINY, "epochs": 3, "hidden": 64}, None, plots=False)
    assert [h["epoch"] for h in r.history] == [1, 2, 3]
    for h in r.history:
        assert set(h) == {"epoch", "train_loss", "train_acc", "val_loss", "val_acc", "lr",
                          "seconds"}
        assert 0 <= h["train_acc"] <= 1 and 0 <= h["val_acc"] <= 1
    assert r.history[-1]["train_loss"] < r.history[0]["train_loss"]
    assert r.test_accuracy > 0.7 and r.evaluation["n"] == 200
    assert r.best_val_acc == max(h["val_acc"] for h in r.history)


@pytest.mark.parametrize("augment", [False, True])
def test_ctrl_c_then_resume_equals_an_uninterrupted_run(tmp_path, augment):
    cfg = {**TINY, "model": "mlp-deep", "hidden": [32, 16], "epochs": 3, "augment": augment,
           "scheduler": "onecycle", "optimizer": "adam"}
    full = train_model(cfg, tmp_path / "full", plots=False)
    with pytest.raises(TrainingInterrupted) as info:
        train_model(cfg, tmp_path / "cut", plots=False, callbacks=[InterruptAt(2, 3)])
    assert isinstance(info.value, KeyboardInterrupt)
    assert info.value.epoch == 1 and info.value.run_dir == tmp_path / "cut"
    state, _ = read_resume_state(tmp_path / "cut")
    assert state["epoch"] == 1 and no_temp_files(tmp_path / "cut")
    load_run(tmp_path / "cut")  # the checkpoint of epoch 1 is usable as it is
    resumed = resume_training(tmp_path / "cut", plots=False)
    assert resumed.resumed_from == 1
    for name in ("weights.npz", RESUME):
        assert same_arrays(arrays(tmp_path / "full" / name), arrays(tmp_path / "cut" / name)), name
    strip = [{k: v for k, v in h.items() if k != "seconds"} for h in full.history]
    assert strip == [{k: v for k, v in h.items() if k != "seconds"} for h in resumed.history]
    assert resumed.test_accuracy == full.test_accuracy
    with pytest.raises(ConfigError, match="already finished"):
        resume_training(tmp_path / "cut")


def test_interrupt_in_the_first_epoch_resumes_from_the_start(tmp_path):
    full = train_model(TINY, None, plots=False)
    with pytest.raises(TrainingInterrupted) as info:
        train_model(TINY, tmp_path / "r", plots=False, callbacks=[InterruptAt(1, 2)])
    assert info.value.epoch == 0
    resumed = resume_training(tmp_path / "r", plots=False)
    assert same_arrays(full.model.state_dict(), resumed.model.state_dict())


class PoisonAt(Callback):
    """Turn the weights to inf after batch 2 of ``epoch``, so the next loss is NaN."""

    def __init__(self, epoch):
        self.epoch, self.trainer = epoch, None

    def on_train_begin(self, trainer):
        self.trainer = trainer

    def on_batch_end(self, epoch, batch, loss):
        if (epoch, batch) == (self.epoch, 2):
            for p in self.trainer.model.parameters():
                p.data[...] = np.inf


def test_nan_loss_stops_and_keeps_the_last_good_checkpoint(tmp_path):
    run = tmp_path / "r"
    with pytest.raises(TrainingDiverged) as info:
        train_model({**TINY, "epochs": 3}, run, plots=False, callbacks=[PoisonAt(2)])
    msg = str(info.value)
    assert "epoch 2, batch 3" in msg and "lower --lr" in msg and "(epoch 1)" in msg
    assert "\n" not in msg
    state, groups = read_resume_state(run)
    assert state["epoch"] == 1
    assert all(np.all(np.isfinite(v)) for v in groups["model"].values())
    loaded = load_run(run)
    assert np.all(np.isfinite(loaded.predict_proba(np.zeros((2, 28, 28), np.uint8))))
    assert no_temp_files(run)


def test_huge_learning_rate_diverges_with_a_clear_message():
    with pytest.raises(TrainingDiverged, match=r"epoch 1, batch \d+ .*try a lower --lr"):
        train_model({**TINY, "lr": 1e6, "momentum": 0.0}, None, plots=False)


@pytest.mark.parametrize("scheduler", ["none", "step", "cosine", "onecycle", "plateau"])
@pytest.mark.parametrize("optimizer", ["sgd", "adam", "adamw", "rmsprop"])
def test_every_optimizer_and_schedule_trains(optimizer, scheduler):
    r = train_model({**TINY, "epochs": 3, "limit_train": 200, "hidden": 8,
                     "optimizer": optimizer, "scheduler": scheduler}, None,
                    evaluate_test=False)
    lrs = [h["lr"] for h in r.history]
    assert all(np.isfinite(h["train_loss"]) for h in r.history)
    if scheduler == "none":
        assert len(set(lrs)) == 1
    if scheduler in ("cosine", "step"):
        assert lrs[-1] < lrs[0]
    assert r.test_accuracy is None


def test_patience_stops_early_when_validation_does_not_improve():
    r = train_model({**TINY, "epochs": 6, "lr": 1e-12, "scheduler": "none", "patience": 2},
                    None, plots=False)
    assert r.stopped_early and r.epochs_completed == 3
    assert r.best_epoch == 3  # an equal accuracy keeps the later weights


def test_best_weights_are_kept(tmp_path):
    r = train_model({**TINY, "epochs": 3}, tmp_path / "r", plots=False)
    top = max(h["val_acc"] for h in r.history)
    best = [h["epoch"] for h in r.history if h["val_acc"] == top][-1]
    assert r.best_epoch == best
    state, groups = read_resume_state(tmp_path / "r")
    assert same_arrays(groups["best"], arrays(tmp_path / "r" / "weights.npz"))
    assert same_arrays(r.model.state_dict(), groups["best"])


def test_no_validation_split_keeps_the_last_epoch():
    r = train_model({**TINY, "val_split": 0.0}, None, plots=False)
    assert r.best_epoch == 2 and r.history[-1]["val_acc"] is None


def test_resume_of_a_run_without_resume_state_is_a_checkpoint_error(tmp_path):
    r = train_model(TINY, tmp_path / "r", plots=False)
    (r.run_dir / RESUME).unlink()
    with pytest.raises(CheckpointError, match="resume.npz: missing"):
        resume_training(r.run_dir)


def test_image_models_train_on_nchw_input_and_load_back(tmp_path):
    r = train_model({"model": "lenet5", "limit_train": 200, "limit_test": 50, "epochs": 1,
                     "batch_size": 50}, tmp_path / "r", plots=False)
    assert r.config["preprocessing"]["flatten"] is False
    run = load_run(tmp_path / "r")
    assert run.input_kind == "image"
    assert run.preprocess(np.zeros((2, 28, 28), np.uint8)).shape == (2, 1, 28, 28)
    probs = run.predict_proba(np.zeros((2, 28, 28), np.uint8))
    assert probs.shape == (2, 10) and np.allclose(probs.sum(axis=1), 1, atol=1e-5)


def test_resume_with_new_settings_keeps_the_progress_and_follows_the_new_schedule(tmp_path):
    import math

    run = tmp_path / "r"
    with pytest.raises(TrainingInterrupted):
        train_model({**TINY, "epochs": 3}, run, plots=False, callbacks=[InterruptAt(2, 3)])
    first = read_resume_state(run)[0]["history"]
    seen = []
    r = resume_training(run, plots=False, overrides={"lr": 0.01, "epochs": 4},
                        on_settings=lambda epoch, changed: seen.append((epoch, changed)))
    assert seen == [(1, {"lr": (0.05, 0.01), "epochs": (3, 4)})]
    assert r.resumed_from == 1 and r.epochs_completed == 4 and len(r.history) == 4
    assert r.history[0] == first[0]
    # cosine over 4 epochs from 0.01, one epoch of it done
    assert r.history[1]["lr"] == pytest.approx(0.01 * (1 + math.cos(math.pi / 4)) / 2, rel=1e-4)
    assert r.config["hyperparameters"]["lr"] == 0.01
    assert r.config["settings_changed"] == [{"after_epoch": 1, "lr": [0.05, 0.01],
                                             "epochs": [3, 4]}]


@pytest.mark.parametrize("overrides, match", [
    ({"seed": 1}, "seed cannot change"),
    ({"epochs": 1}, "--epochs 1: the run has already completed 1 epoch"),
    ({"lr": -1.0}, "--lr must be a number > 0"),
])
def test_resume_refuses_settings_it_cannot_honour(tmp_path, overrides, match):
    run = tmp_path / "r"
    with pytest.raises(TrainingInterrupted):
        train_model(TINY, run, plots=False, callbacks=[InterruptAt(2, 3)])
    before = (run / RESUME).read_bytes()
    with pytest.raises(ConfigError, match=match):
        resume_training(run, plots=False, overrides=overrides)
    assert (run / RESUME).read_bytes() == before
