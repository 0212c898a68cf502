"""``barenet serve`` of a committee (``serve/committee_api.py``): /api/predict answers the mean
of the runs' probabilities over the views, the one-network features say which run they use,
and runs that do not fit together are refused."""
from __future__ import annotations

import json

import numpy as np
import pytest

from barenet import nn, save_run
from barenet.committee import SHIFTS, shift_images
from barenet.errors import ConfigError
from barenet.serve import make_server
from barenet.serve.app import App
from barenet.train.checkpoint import load_run

JSON = "application/json"


@pytest.fixture(scope="module")
def second(tmp_path_factory):
    from barenet.train.api import train_model

    out = tmp_path_factory.mktemp("committee") / "second"
    train_model({"model": "mlp", "hidden": 32, "epochs": 1, "limit_train": 2000,
                 "limit_test": 200, "seed": 3}, out, plots=False)
    return load_run(out)


@pytest.fixture(scope="module")
def app(run, second):
    return App(run, seed=0, committee=[second])


def pixels(image: np.ndarray) -> bytes:
    return json.dumps({"pixels": image.reshape(-1).tolist()}).encode()


def by_hand(runs, image: np.ndarray, views: int = 1) -> list[np.ndarray]:
    """Each run's probabilities for ``image``, averaged over the first ``views`` shifts."""
    return [np.mean([r.predict_proba(shift_images(image[None], *s))[0] for s in SHIFTS[:views]],
                    axis=0) for r in runs]


@pytest.mark.parametrize("index", [0, 1, 2])
def test_predict_answers_the_mean_of_the_runs(app, run, second, test_set, index):
    image = test_set.images[index]
    doc = app.post("/api/predict", JSON, pixels(image), {})
    own = by_hand([run, second], image)
    mean = (own[0] + own[1]) / 2
    np.testing.assert_allclose(doc["probabilities"], mean, atol=2e-6)
    assert doc["prediction"] == int(mean.argmax())
    assert doc["label"] == run.classes[doc["prediction"]]
    committee = doc["committee"]
    assert committee["runs"] == [run.run_dir.name, second.run_dir.name] and committee["tta"] == 1
    for member, p in zip(committee["members"], own):
        np.testing.assert_allclose(member["probabilities"], p, atol=2e-6)
        assert member["prediction"] == int(p.argmax())
    np.testing.assert_allclose(committee["first"]["probabilities"], own[0], atol=2e-6)
    assert doc["activations"] and doc["input"] == image.reshape(-1).tolist()
    assert doc["note"] == f"activations and attention of the committee's first run alone " \
                          f"({run.run_dir.name})"


def test_the_model_says_what_the_page_shows(app, run, second):
    info = app.model_info()
    names = [run.run_dir.name, second.run_dir.name]
    assert info["run"].startswith(" + ".join(names) + " (a committee")
    assert f"layers, weights, why and teach show {names[0]}" in info["run"]
    assert info["test_accuracy"] is None                     # the committee's is not measured
    assert info["committee"] == {"runs": names, "tta": 1, "first": names[0],
                                 "test_accuracy": [run.config["test_accuracy"],
                                                   second.config["test_accuracy"]]}
    assert info["parameters"] == run.model.num_parameters()  # the layers are the first run's


def test_explain_and_learn_name_the_run_they_use(app, run, test_set):
    body = pixels(test_set.images[0])
    doc = app.post("/api/explain", JSON, body, {})
    assert doc["note"] == f"explained with the committee's first run alone ({run.run_dir.name})"
    learn = json.dumps({"pixels": test_set.images[0].reshape(-1).tolist(), "label": 7}).encode()
    doc = app.post("/api/learn", JSON, learn, {})
    assert doc["note"].startswith("learning on the committee's first run alone")


def test_views_alone_average_the_shifts_without_a_note(run, test_set):
    app = App(run, seed=0, tta=5)
    image = test_set.images[4]
    doc = app.post("/api/predict", JSON, pixels(image), {})
    np.testing.assert_allclose(doc["probabilities"], by_hand([run], image, 5)[0], atol=2e-6)
    assert doc["committee"]["tta"] == 5 and "note" not in doc
    assert app.model_info()["tta"] == 5 and app.model_info()["run"].endswith("over 5 views")
    app.set_committee([], 1)                                 # back to the run alone
    doc = app.post("/api/predict", JSON, pixels(image), {})
    assert "committee" not in doc and "tta" not in app.model_info()
    np.testing.assert_allclose(doc["probabilities"], run.predict_proba(image[None])[0],
                               atol=2e-6)


def test_runs_that_do_not_fit_are_refused(run, tmp_path):
    other = load_run(save_run(tmp_path / "fashion", nn.Sequential(nn.Linear(784, 10)),
                              dataset="fashion-mnist"))
    with pytest.raises(ConfigError, match="trained on different datasets"):
        App(run, committee=[other])
    with pytest.raises(ConfigError, match="given twice"):
        App(run, committee=[run])
    with pytest.raises(ConfigError, match="--tta must be an integer in 1..9"):
        App(run, tta=12)


def test_a_live_server_serves_the_committee(run, second, test_set, serving, client_class):
    srv = make_server(run, "127.0.0.1", 0, seed=0)
    srv.app.set_committee([second], 3)
    with serving(srv):
        client = client_class(*srv.server_address[:2])
        status, doc = client.post_pixels(test_set.images[5].reshape(-1).tolist())
        assert status == 200
        own = by_hand([run, second], test_set.images[5], 3)
        np.testing.assert_allclose(doc["probabilities"], (own[0] + own[1]) / 2, atol=2e-6)
        status, info = client.get("/api/model")
        assert status == 200 and info["committee"]["tta"] == 3
