"""``POST /api/learn`` and ``/api/learn/reset`` against a live server: the numbers equal a hand-run
SGD step on a copy of the model, sessions keep their own copy and never touch the run's, and
every kind of bad input is a one-line 4xx."""
from __future__ import annotations

import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from barenet import nn, optim
from barenet.nn.architecture import build, describe
from barenet.serve import make_server
from barenet.serve.app import App
from barenet.serve.errors import HTTPError


def learn(client, body: dict | bytes, path: str = "/api/learn", kind: str = "application/json"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _, doc = client.request("POST", path, data, {"Content-Type": kind})
    return status, doc


def wrong_label(run, image: np.ndarray) -> int:
    return (int(np.argmax(run.predict_proba(image[None]))) + 1) % 10


def test_one_step_equals_a_hand_run_sgd_step(client, run, test_set) -> None:
    image, lr = test_set.images[0], 0.05
    label = wrong_label(run, image)
    status, doc = learn(client, {"pixels": image.tolist(), "label": label, "lr": lr})
    assert status == 200, doc
    # the same step by hand, on a copy
    model = build(describe(run.model), rng=1)
    model.load_state_dict(run.model.state_dict())
    model.eval()
    x, y = run.normalize(image[None]), np.array([label])
    loss_fn, opt = nn.CrossEntropyLoss(), optim.SGD(model.parameters(), lr=lr)
    before = model(x)
    loss = loss_fn(before, y)
    opt.zero_grad()
    model.backward(loss_fn.backward())
    norms = [float(np.sqrt(sum(np.sum(p.grad.astype(np.float64) ** 2)
                               for p in layer.parameters())))
             for layer in model if layer.parameters()]
    w0 = model[0].weight.data.copy()
    opt.step()
    after = model(x)
    acc = float(np.mean(model(run.normalize(test_set.images[:1000])).argmax(1)
                        == test_set.labels[:1000]))
    np.testing.assert_allclose(doc["before"]["probabilities"],
                               run.predict_proba(image[None])[0], atol=2e-6)
    np.testing.assert_allclose(doc["after"]["probabilities"],
                               nn.functional.softmax(after.astype(np.float64), axis=1)[0], atol=2e-6)
    assert doc["before"]["loss"] == pytest.approx(loss, rel=1e-5)
    assert doc["after"]["probabilities"][label] > doc["before"]["probabilities"][label]
    assert [layer["name"] for layer in doc["layers"]] == ["0 Linear", "2 Linear"]
    np.testing.assert_allclose([layer["gradient_norms"][0] for layer in doc["layers"]], norms,
                               rtol=1e-4)
    assert doc["history"] == [{"step": 1, "loss": doc["before"]["loss"], "accuracy": acc}]
    assert doc["subset"] == 1000 and doc["accuracy_note"] is None
    assert doc["accuracy_before"] == pytest.approx(float(np.mean(
        run.predict(test_set.images[:1000]) == test_set.labels[:1000])))
    assert doc["total_steps"] == 1 and doc["label"] == label and "eval mode" in doc["mode"]
    # the first layer moved by -lr * grad; for one picture each unit's change is a multiple
    # of the (normalised) picture
    moved = doc["first_layer"]
    n = moved["shape"][0]
    delta = np.reshape(moved["values"], (n, 784)) * moved["max_abs"]
    np.testing.assert_allclose(delta, (model[0].weight.data - w0)[:n], atol=moved["max_abs"] * 2e-4)
    unit = int(np.argmax(np.abs(delta).sum(axis=1)))
    assert abs(np.corrcoef(delta[unit], x[0])[0, 1]) > 0.999
    assert moved["change_norm"] == pytest.approx(moved["total_change_norm"], rel=1e-4)


def test_a_session_keeps_its_copy_and_others_start_fresh(client, run, test_set) -> None:
    image = test_set.images[1]
    label = wrong_label(run, image)
    original = run.predict_proba(image[None])[0]
    first = learn(client, {"pixels": image.tolist(), "label": label, "steps": 3, "lr": 0.02})[1]
    assert first["total_steps"] == 3 and [h["step"] for h in first["history"]] == [1, 2, 3]
    losses = [h["loss"] for h in first["history"]]
    assert losses == sorted(losses, reverse=True)
    again = learn(client, {"pixels": image.tolist(), "label": label, "token": first["token"]})[1]
    assert again["token"] == first["token"] and again["total_steps"] == 4
    np.testing.assert_allclose(again["before"]["probabilities"], first["after"]["probabilities"],
                               atol=2e-6)
    assert again["accuracy_before"] == first["history"][-1]["accuracy"]
    other = learn(client, {"pixels": image.tolist(), "label": label})[1]
    assert other["token"] != first["token"] and other["total_steps"] == 1
    np.testing.assert_allclose(other["before"]["probabilities"], original, atol=2e-6)
    # the run's own model still answers as before
    status, doc = client.post_pixels(image.tolist())
    np.testing.assert_allclose(doc["probabilities"], original, atol=1e-6)
    # reset: the copy has the run's weights again, its token stays valid
    status, reset = learn(client, {"token": first["token"]}, "/api/learn/reset")
    assert status == 200 and reset["token"] == first["token"] and reset["total_steps"] == 0
    assert reset["accuracy"] == first["accuracy_before"]
    after = learn(client, {"pixels": image.tolist(), "label": label, "token": first["token"]})[1]
    np.testing.assert_allclose(after["before"]["probabilities"], original, atol=2e-6)
    assert after["total_steps"] == 1


PIX = [0] * 783 + [255]
UNKNOWN = "A" * 24


def body(**fields) -> bytes:
    return json.dumps({"pixels": PIX, "label": 3, **fields}).encode()


BAD = [
    ("/api/learn", json.dumps({"pixels": PIX}).encode(), 400, "'label' is required"),
    ("/api/learn", body(label=10), 400, "'label' must be in 0..9"),
    ("/api/learn", body(label=-1), 400, "'label'"),
    ("/api/learn", body(label="3"), 400, "'label' must be an integer"),
    ("/api/learn", body(label=True), 400, "'label'"),
    ("/api/learn", body(label=1.5), 400, "'label'"),
    ("/api/learn", body(steps=0), 400, "'steps' must be in 1..10"),
    ("/api/learn", body(steps=11), 400, "'steps'"),
    ("/api/learn", body(steps=10**15), 400, "'steps'"),
    ("/api/learn", body(steps=10**30), 400, "bad JSON"),
    ("/api/learn", body(steps=[1]), 400, "'steps'"),
    ("/api/learn", body(lr=0), 400, "'lr'"),
    ("/api/learn", body(lr=-0.1), 400, "'lr'"),
    ("/api/learn", body(lr=1.5), 400, "'lr'"),
    ("/api/learn", body(lr="0.1"), 400, "'lr'"),
    ("/api/learn", body(lr=0.5)[:-4] + b"1e999}", 400, "'lr'"),
    ("/api/learn", body(token=123), 400, "'token'"),
    ("/api/learn", body(token="short"), 400, "'token'"),
    ("/api/learn", body(token="../../" + "a" * 20), 400, "'token'"),
    ("/api/learn", body(token=UNKNOWN), 404, "unknown or expired"),
    ("/api/learn", json.dumps({"pixels": PIX[:-1], "label": 3}).encode(), 400, "784"),
    ("/api/learn", json.dumps({"pixels": [0] * 784, "label": 3}).encode(), 400, "no ink"),
    ("/api/learn", json.dumps({"label": 3}).encode(), 400, "'pixels'"),
    ("/api/learn", b'{"pixels": [1,', 400, "bad JSON"),
    ("/api/learn", b"[]", 400, "expected an object"),
    ("/api/learn", b'{"label": Infinity}', 400, "Infinity"),
    ("/api/learn", b"", 400, "empty body"),
    ("/api/learn/reset", b"{}", 400, "'token' is required"),
    ("/api/learn/reset", json.dumps({"token": UNKNOWN}).encode(), 404, "unknown or expired"),
    ("/api/learn/reset", json.dumps({"token": ["x"]}).encode(), 400, "'token'"),
]


@pytest.mark.parametrize("path,data,status,fragment", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_gets_a_json_4xx(client, path, data, status, fragment) -> None:
    got, doc = learn(client, data, path)
    assert got == status, doc
    assert fragment in doc["error"] and "\n" not in doc["error"]


@pytest.mark.parametrize("kind", ["image/png", "text/plain", "multipart/form-data; boundary=x"])
def test_learning_takes_json_only(client, kind) -> None:
    got, doc = learn(client, body(), kind=kind)
    assert got == 415 and "application/json" in doc["error"]


def test_an_expired_session_is_a_404(run, test_set, serving, client_class) -> None:
    now = [0.0]
    with serving(make_server(run, "127.0.0.1", 0, session_ttl=60.0)) as srv:
        srv.app.learning.store.clock = lambda: now[0]
        client = client_class(*srv.server_address[:2])
        doc = learn(client, {"pixels": test_set.images[0].tolist(), "label": 1})[1]
        now[0] = 59.0
        assert learn(client, {"token": doc["token"]}, "/api/learn/reset")[0] == 200
        now[0] = 119.5
        status, again = learn(client, {"pixels": PIX, "label": 1, "token": doc["token"]})
        assert status == 404 and "expired" in again["error"]
        assert len(srv.app.learning.store) == 0


def test_without_a_test_set_accuracy_is_skipped_and_said(run, test_set) -> None:
    app = App(run)

    def missing():
        raise HTTPError(503, "test set not available: no mnist files in /nowhere")

    app.learning.teacher._load = missing
    doc = app.post("/api/learn", "application/json",
                   json.dumps({"pixels": test_set.images[0].tolist(), "label": 4,
                               "steps": 2}).encode(), {})
    assert doc["accuracy_before"] is None and doc["subset"] == 0
    assert [h["accuracy"] for h in doc["history"]] == [None, None]
    assert "not available" in doc["accuracy_note"]
    assert doc["after"]["probabilities"][4] > doc["before"]["probabilities"][4]


def test_learning_calls_are_bounded_and_a_busy_session_waits(run, test_set, serving,
                                                              monkeypatch) -> None:
    from barenet.serve.learn import Teacher

    inside, most, lock = [0], [0], threading.Lock()
    original = Teacher.learn

    def watched(self, *args, **kwargs):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            time.sleep(0.05)
            return original(self, *args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(Teacher, "learn", watched)
    data = json.dumps({"pixels": test_set.images[5].tolist(), "label": 2})
    with serving(make_server(run, "127.0.0.1", 0, timeout=20.0, max_learning=2)) as srv:
        host, port = srv.server_address[:2]

        def call(extra: dict | None = None) -> tuple[int, dict]:
            conn = http.client.HTTPConnection(host, port, timeout=30)
            payload = data if extra is None else json.dumps({**json.loads(data), **extra})
            conn.request("POST", "/api/learn", payload, {"Content-Type": "application/json"})
            res = conn.getresponse()
            doc = json.loads(res.read())
            conn.close()
            return res.status, doc

        with ThreadPoolExecutor(6) as pool:
            statuses = [s for s, _ in pool.map(lambda _: call(), range(12))]
        assert statuses == [200] * 12
        assert most[0] == 2
        token = call()[1]["token"]
        session = srv.app.learning.store.get(token)
        srv.app.learning.timeout = 0.5
        with session.lock:                       # the session is busy: 503 after 0.5 s
            status, doc = call({"token": token})
        assert status == 503 and "busy" in doc["error"]
