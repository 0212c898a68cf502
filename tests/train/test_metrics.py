"""Metrics: accuracy, confusion matrix, precision/recall/F1, cross-entropy, R^2."""
import numpy as np
import pytest

from barenet.train.metrics import (
    accuracy,
    confusion_matrix,
    cross_entropy,
    precision_recall_f1,
    r2_score,
)


def test_confusion_matrix_rows_are_true_classes():
    cm = confusion_matrix(np.array([0, 0, 1, 2, 2, 2]), np.array([0, 1, 1, 2, 2, 0]), 3)
    assert cm.tolist() == [[1, 1, 0], [0, 1, 0], [1, 0, 2]]
    assert cm.dtype == np.int64


def test_precision_recall_f1_against_hand_computed():
    cm = np.array([[1, 1, 0], [0, 1, 0], [1, 0, 2]])
    p, r, f1, support = precision_recall_f1(cm)
    np.testing.assert_allclose(p, [1 / 2, 1 / 2, 1.0])
    np.testing.assert_allclose(r, [1 / 2, 1.0, 2 / 3])
    np.testing.assert_allclose(f1, [0.5, 2 / 3, 0.8])
    assert support.tolist() == [2, 1, 3]


def test_classes_never_predicted_score_zero_not_nan():
    p, r, f1, _ = precision_recall_f1(confusion_matrix(np.array([0, 1]), np.array([0, 0]), 3))
    assert np.all(np.isfinite(p)) and p[1] == 0 and r[2] == 0 and f1[1] == 0


def test_accuracy_and_errors():
    assert accuracy(np.array([1, 2, 3]), np.array([1, 0, 3])) == pytest.approx(2 / 3)
    with pytest.raises(ValueError, match="y_pred has 2"):
        accuracy(np.array([1, 2, 3]), np.array([1, 2]))
    with pytest.raises(ValueError, match="label 5 out of range"):
        confusion_matrix(np.array([5]), np.array([0]), 3)


def test_cross_entropy_is_stable_for_huge_logits():
    logits = np.array([[1e4, 0.0, -1e4], [0.0, 0.0, 0.0]], dtype=np.float32)
    loss = cross_entropy(logits, np.array([0, 1]))
    assert loss == pytest.approx(np.log(3) / 2)


def test_r2_score():
    y = np.array([1.0, 2.0, 3.0, 4.0])
    assert r2_score(y, y) == 1.0
    assert r2_score(y, np.full(4, y.mean())) == 0.0
    assert r2_score(y, y + 1) == pytest.approx(1 - 4 / 5)
