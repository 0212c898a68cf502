"""Committees of runs and test-time augmentation.

A committee averages the softmax probabilities of several runs trained on the same dataset
(``check_committee`` says which runs may join); test-time augmentation (TTA) averages a run's
probabilities over a picture and its one-pixel shifts (``SHIFTS``, in a fixed order). Both
only average probabilities, so they combine: M runs and V views give the mean of M x V
softmax outputs per picture.

    from barenet.committee import evaluate_committee
    result = evaluate_committee([load_run("runs/mlp"), load_run("runs/cnn")], test_set, tta=5)
    result["accuracy"], result["members"], result["gain"]
"""
from .average import committee_proba, view_proba
from .evaluate import evaluate_committee
from .members import check_committee
from .shifts import MAX_TTA, SHIFTS, shift_images, tta_shifts

__all__ = ["MAX_TTA", "SHIFTS", "check_committee", "committee_proba", "evaluate_committee",
           "shift_images", "tta_shifts", "view_proba"]
