"""The committee and test-time augmentation maths (``barenet.committee``) against numbers
computed by hand in NumPy: the mean of the members' probabilities, the documented shifts in
their documented order, one view being no augmentation, the checks on who may join."""
from __future__ import annotations

from dataclasses import replace
from types import SimpleNamespace

import numpy as np
import pytest

from barenet import nn, save_run
from barenet.committee import (
    SHIFTS,
    check_committee,
    committee_proba,
    evaluate_committee,
    shift_images,
    tta_shifts,
    view_proba,
)
from barenet.committee import average as average_module
from barenet.committee import shifts as shifts_module
from barenet.data.datasets import load_dataset
from barenet.data.specs import SPECS
from barenet.errors import ConfigError
from barenet.train.checkpoint import load_run
from barenet.train.evaluate import evaluate_run

#: The order the docs promise (shifts.py, docs/committee.md, --help): (dy, dx), dy rows down.
DOCUMENTED = [(0, 0), (0, 1), (0, -1), (1, 0), (-1, 0), (1, 1), (1, -1), (-1, 1), (-1, -1)]


@pytest.fixture(scope="module")
def test_set():
    full = load_dataset("mnist", "test")
    return replace(full, images=full.images[:300], labels=full.labels[:300])


def _mlp(seed: int, hidden: int) -> nn.Module:
    rng = np.random.default_rng(seed)
    model = nn.Sequential(nn.Linear(784, hidden), nn.ReLU(), nn.Linear(hidden, 10))
    for p in model.parameters():      # weights large enough for confident, varied answers
        p.data[...] = rng.normal(0, 0.2, p.data.shape).astype(np.float32)
    return model


@pytest.fixture(scope="module")
def runs(tmp_path_factory):
    root = tmp_path_factory.mktemp("committee")
    return [load_run(save_run(root / f"r{i}", _mlp(i, h))) for i, h in enumerate((16, 8, 12))]


def by_hand(run, images: np.ndarray) -> np.ndarray:
    """float64 softmax of a Linear-ReLU-Linear run on uint8 images, written out in NumPy."""
    spec = SPECS["mnist"]
    x = (images.reshape(len(images), -1).astype(np.float64) / 255 - spec.mean) / spec.std
    (w1, b1), (w2, b2) = [(run.model[i].weight.data.astype(np.float64),
                           run.model[i].bias.data.astype(np.float64)) for i in (0, 2)]
    z = np.maximum(x @ w1.T + b1, 0) @ w2.T + b2
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def shifted_by_hand(images: np.ndarray, dy: int, dx: int) -> np.ndarray:
    """Move by (dy, dx) through a zero-padded canvas: an independent way to the same picture."""
    h, w = images.shape[-2:]
    big = np.zeros(images.shape[:-2] + (h + 2, w + 2), images.dtype)
    big[..., 1:h + 1, 1:w + 1] = images
    return big[..., 1 - dy:h + 1 - dy, 1 - dx:w + 1 - dx]


# ---- the committee's mean -------------------------------------------------------------------

def test_committee_is_the_mean_of_the_members_probabilities(runs, test_set):
    probs = [by_hand(r, test_set.images) for r in runs]
    mean = sum(probs) / 3
    np.testing.assert_allclose(committee_proba(runs, test_set.images), mean, atol=1e-6)
    result = evaluate_committee(runs, test_set)
    labels = test_set.labels.astype(np.int64)
    assert np.array_equal(result["predictions"], mean.argmax(axis=1))
    assert result["accuracy"] == pytest.approx(np.mean(mean.argmax(axis=1) == labels), abs=0)
    assert result["loss"] == pytest.approx(-np.mean(np.log(mean[np.arange(300), labels])),
                                           rel=1e-6)
    own = [float(np.mean(p.argmax(axis=1) == labels)) for p in probs]
    assert [m["accuracy"] for m in result["members"]] == own
    assert result["gain"] == pytest.approx(result["accuracy"] - max(own))
    assert result["best_member"] == str(runs[int(np.argmax(own))].run_dir)
    assert result["confusion_matrix"].sum() == 300 == result["n"]
    # the members disagree, so the mean is not any one of them
    assert len({tuple(p.argmax(axis=1)) for p in probs + [mean]}) == 4


def test_a_committee_of_one_is_the_run_itself(runs, test_set):
    alone = evaluate_run(runs[0], test_set)
    one = evaluate_committee(runs[:1], test_set)
    assert one["accuracy"] == alone["accuracy"]
    assert one["loss"] == pytest.approx(alone["loss"], rel=1e-5)
    assert np.array_equal(one["confusion_matrix"], alone["confusion_matrix"])
    assert one["gain"] == 0


# ---- test-time augmentation -----------------------------------------------------------------

def test_one_view_is_no_augmentation(runs, test_set):
    plain, with_tta = view_proba(runs[0], test_set.images, tta=1)
    assert with_tta is plain
    np.testing.assert_allclose(plain, by_hand(runs[0], test_set.images), atol=1e-6)
    a, b = evaluate_committee(runs, test_set, tta=1), evaluate_committee(runs, test_set)
    assert a["accuracy"] == b["accuracy"] == a["without_tta"]["accuracy"]
    assert [m["accuracy_tta"] for m in a["members"]] == [m["accuracy"] for m in a["members"]]


@pytest.mark.parametrize("n", [2, 5, 9])
def test_views_are_averaged_as_documented(runs, test_set, n):
    expected = sum(by_hand(runs[1], shifted_by_hand(test_set.images, dy, dx))
                   for dy, dx in DOCUMENTED[:n]) / n
    plain, with_tta = view_proba(runs[1], test_set.images, tta=n)
    np.testing.assert_allclose(with_tta, expected, atol=1e-6)
    np.testing.assert_allclose(plain, by_hand(runs[1], test_set.images), atol=1e-6)
    result = evaluate_committee(runs[1:], test_set, tta=n)
    mean = (expected + sum(by_hand(runs[2], shifted_by_hand(test_set.images, dy, dx))
                           for dy, dx in DOCUMENTED[:n]) / n) / 2
    assert np.array_equal(result["predictions"], mean.argmax(axis=1))
    assert result["tta"] == n and result["shifts"] == [list(s) for s in DOCUMENTED[:n]]


def check_shift(shift, dy: int, dx: int) -> None:
    """``shift(images, dy, dx)`` moves every pixel by (dy, dx), fills zeros, keeps its input."""
    rng = np.random.default_rng(3)
    images = rng.integers(1, 256, size=(2, 6, 7)).astype(np.uint8)   # no zero inside
    before = images.copy()
    out = shift(images, dy, dx)
    assert out.dtype == np.uint8 and out.shape == images.shape
    assert np.array_equal(images, before)                    # the input is left alone
    assert np.array_equal(out, shifted_by_hand(images, dy, dx))
    for y in range(6):
        for x in range(7):
            inside = 0 <= y - dy < 6 and 0 <= x - dx < 7
            assert (out[:, y, x] == (images[:, y - dy, x - dx] if inside else 0)).all()


@pytest.mark.parametrize("dy, dx", DOCUMENTED)
def test_a_shift_moves_every_pixel_by_dy_dx_and_fills_zeros(dy, dx):
    check_shift(shift_images, dy, dx)


def test_shifted_by_hand_is_itself_right():
    """The test's own reference: a lit pixel moves down and right for positive dy, dx."""
    img = np.zeros((5, 5), np.uint8)
    img[2, 2] = 9
    assert shifted_by_hand(img, 1, -1)[3, 1] == 9 and shifted_by_hand(img, 1, -1).sum() == 9


class Probe:
    """A stand-in run whose 25 classes are the 25 pixels of a 5x5 picture: its probabilities
    say where the picture's one lit pixel is, so the views it saw can be read back."""
    classes = [str(i) for i in range(25)]

    def __init__(self, batch: int = 1000) -> None:
        self.batch, self.calls = batch, []

    def batch_size(self) -> int:
        return self.batch

    def logits(self, images: np.ndarray, batch_size: int | None = None) -> np.ndarray:
        self.calls.append(len(images))
        return images.reshape(len(images), -1).astype(np.float32) * 100


def views_seen(n: int) -> list[tuple[int, int]]:
    """The (dy, dx) of each view ``view_proba`` averages with ``tta`` 1..n, in order, read
    from where the centre pixel of a 5x5 picture ended up."""
    img = np.zeros((1, 5, 5), np.uint8)
    img[0, 2, 2] = 1
    seen: list[tuple[int, int]] = []
    for k in range(1, n + 1):
        total = np.rint(view_proba(Probe(), img, tta=k)[1][0] * k).astype(int)
        new = [divmod(int(i), 5) for i in np.flatnonzero(total)
               if (divmod(int(i), 5)[0] - 2, divmod(int(i), 5)[1] - 2) not in seen]
        assert len(new) == 1 and total.sum() == k
        seen.append((new[0][0] - 2, new[0][1] - 2))
    return seen


def test_the_views_are_the_documented_ones_in_the_documented_order():
    assert views_seen(9) == DOCUMENTED
    assert list(SHIFTS) == DOCUMENTED and list(tta_shifts(4)) == DOCUMENTED[:4]


def test_a_planted_wrong_shift_is_caught(monkeypatch):
    swapped = (SHIFTS[0], SHIFTS[2], SHIFTS[1], *SHIFTS[3:])      # left before right
    monkeypatch.setattr(shifts_module, "SHIFTS", swapped)
    assert views_seen(9) != DOCUMENTED
    monkeypatch.undo()

    def wraps_around(images, dy, dx):                               # np.roll: no zero fill
        return np.roll(images, (dy, dx), axis=(-2, -1))

    def transposed(images, dy, dx):                                 # dy and dx swapped
        return shift_images(images, dx, dy)

    for wrong in (wraps_around, transposed):
        with pytest.raises(AssertionError):
            check_shift(wrong, 0, 1)
    monkeypatch.setattr(average_module, "shift_images", wraps_around)
    img = np.zeros((1, 5, 5), np.uint8)
    img[0, 0, 4] = 1                                                # on the right edge
    total = view_proba(Probe(), img, tta=2)[1][0] * 2
    assert total[0] > 0.5    # rolled round to the left edge, where zero fill loses it


@pytest.mark.parametrize("bad", [0, 10, -1, 2.5, True, "3"])
def test_tta_out_of_range_is_one_line(bad):
    with pytest.raises(ConfigError, match=r"--tta must be an integer in 1\.\.9") as info:
        tta_shifts(bad)
    assert "\n" not in str(info.value)


def test_batches_are_the_runs_own_batch_size():
    probe = Probe(batch=7)
    images = np.zeros((30, 5, 5), np.uint8)
    images[:, 2, 2] = 1
    view_proba(probe, images, tta=3)
    assert probe.calls == [7, 7, 7] * 4 + [2, 2, 2]


# ---- who may join ---------------------------------------------------------------------------

def stand_in(name: str, dataset: str = "mnist", classes=None, side: int = 28, sha=None):
    spec = SimpleNamespace(sha256=sha if sha is not None else dict(SPECS["mnist"].sha256))
    return SimpleNamespace(run_dir=f"runs/{name}", dataset=dataset, image_size=side,
                           classes=list(classes or [str(i) for i in range(10)]),
                           dataset_spec=spec)


@pytest.mark.parametrize("other, words", [
    (stand_in("b", dataset="fashion-mnist"), "different datasets (mnist vs fashion-mnist)"),
    (stand_in("b", classes=[str(i) for i in range(9)]), "different classes (10 classes vs 9)"),
    (stand_in("b", classes=[*"012345678", "nine"]), "different classes (class 9 is 9 vs nine)"),
    (stand_in("b", side=32), "different input sizes (28x28 vs 32x32 pictures)"),
    (stand_in("b", sha={"t10k-images-idx3-ubyte.gz": "0" * 64}), "different data under one name"),
])
def test_runs_that_do_not_fit_together_are_refused_in_one_line(other, words):
    with pytest.raises(ConfigError) as info:
        check_committee([stand_in("a"), stand_in("c"), other])
    message = str(info.value)
    assert message.startswith("runs/a and runs/b: ") and words in message and "\n" not in message


def test_a_run_given_twice_is_refused():
    with pytest.raises(ConfigError, match="runs/a: given twice"):
        check_committee([stand_in("a"), stand_in("b"), stand_in("a")])
    with pytest.raises(ConfigError, match="at least one run"):
        check_committee([])
    check_committee([stand_in("a"), stand_in("b")])          # these two fit


def test_labels_beyond_the_classes_are_refused(runs, test_set):
    labels = test_set.labels.copy()
    labels[5] = 12
    with pytest.raises(ConfigError, match="labels run to 12, but the runs know 10 classes"):
        evaluate_committee(runs, replace(test_set, labels=labels))
