"""``POST /api/explain`` against a live server: the same fields and numbers as
``barenet.explain.explain`` (what ``barenet explain --json`` prints), any class on request, and
every kind of bad input a one-line 4xx; explanations run one at a time."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest

from barenet.data.images import from_bytes, to_mnist
from barenet.explain import explain
from barenet.serve import make_server

FIELDS = {"prediction", "label", "probabilities", "target", "input_gradient"}


def post(client, body: dict | bytes, kind: str = "application/json", path: str = "/api/explain"):
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    status, _, doc = client.request("POST", path, data, {"Content-Type": kind})
    return status, doc


def check_same(doc: dict, want: dict) -> None:
    assert set(doc) == FIELDS
    assert doc["prediction"] == want["prediction"] and doc["label"] == want["label"]
    assert doc["target"] == want["target"]
    np.testing.assert_allclose(doc["probabilities"], want["probabilities"], atol=1e-7)
    np.testing.assert_allclose(doc["input_gradient"], want["input_gradient"], rtol=1e-5,
                               atol=1e-7)


@pytest.mark.parametrize("index", [0, 5])
def test_explain_answers_what_explain_json_prints(client, run, test_set, index) -> None:
    image = test_set.images[index]
    status, doc = post(client, {"pixels": image.reshape(-1).tolist()})
    assert status == 200, doc
    want = explain(run, image[None] / 255.0)[0]
    check_same(doc, want)
    assert np.asarray(doc["input_gradient"]).shape == (28, 28)
    assert doc["target"] == doc["prediction"] == int(np.argmax(run.predict_proba(image[None])))


def test_a_clicked_class_is_explained(client, run, test_set) -> None:
    image = test_set.images[1]
    pred = int(np.argmax(run.predict_proba(image[None])))
    other = (pred + 3) % 10
    status, doc = post(client, {"pixels": image.tolist(), "target": other})
    assert status == 200, doc
    assert doc["target"] == other and doc["prediction"] == pred
    check_same(doc, explain(run, image[None] / 255.0, target=other)[0])
    _, mine = post(client, {"pixels": image.tolist()})
    assert not np.allclose(doc["input_gradient"], mine["input_gradient"])


def test_smoothgrad_and_a_picture_with_options_in_the_query(client, run, test_set,
                                                            make_png) -> None:
    image = test_set.images[2]
    status, doc = post(client, {"pixels": image.tolist(), "smooth": 4, "target": 2})
    assert status == 200, doc
    check_same(doc, explain(run, image[None] / 255.0, target=2, smooth=4)[0])
    png = make_png(test_set.images[3], 140)
    status, doc = post(client, png, "image/png", "/api/explain?target=5&smooth=0")
    assert status == 200, doc
    check_same(doc, explain(run, to_mnist(from_bytes(png))[None] / 255.0, target=5)[0])


def test_explaining_does_not_disturb_predictions(client, run, test_set) -> None:
    image = test_set.images[4]
    for _ in range(2):
        assert post(client, {"pixels": image.tolist(), "smooth": 2})[0] == 200
        status, doc = client.post_pixels(image.tolist())
        assert status == 200
        np.testing.assert_allclose(doc["probabilities"], run.predict_proba(image[None])[0],
                                   atol=1e-5)
    assert all(not p.grad.any() for p in run.model.parameters())


PIX = [0] * 783 + [255]
BAD = [
    (b'{"pixels": [1, 2,', "application/json", 400, "bad JSON"),
    (b"[1, 2]", "application/json", 400, "expected an object"),
    (json.dumps({"pixels": PIX[:-1]}).encode(), "application/json", 400, "784"),
    (json.dumps({"pixels": [0] * 784}).encode(), "application/json", 400, "no ink"),
    (json.dumps({"pixels": PIX, "target": 10}).encode(), "application/json", 400, "'target'"),
    (json.dumps({"pixels": PIX, "target": -1}).encode(), "application/json", 400, "'target'"),
    (json.dumps({"pixels": PIX, "target": "3"}).encode(), "application/json", 400, "'target'"),
    (json.dumps({"pixels": PIX, "target": True}).encode(), "application/json", 400, "'target'"),
    (json.dumps({"pixels": PIX, "target": 2.5}).encode(), "application/json", 400, "'target'"),
    (json.dumps({"pixels": PIX, "smooth": 51}).encode(), "application/json", 400, "'smooth'"),
    (json.dumps({"pixels": PIX, "smooth": -1}).encode(), "application/json", 400, "'smooth'"),
    (('{"pixels": [' + "0," * 783 + '1], "target": ' + "9" * 400 + "}").encode(),
     "application/json", 400, "bad JSON"),
    (b'{"pixels": [0], "target": NaN}', "application/json", 400, "NaN"),
    (b"", "application/json", 400, "empty body"),
    (b"hello", "text/plain", 415, "Content-Type"),
    (b"not a picture", "image/png", 400, "not a picture"),
]


@pytest.mark.parametrize("body,kind,status,fragment", BAD, ids=[str(i) for i in range(len(BAD))])
def test_bad_input_gets_a_json_4xx(client, body, kind, status, fragment) -> None:
    got, doc = post(client, body, kind)
    assert got == status, doc
    assert fragment in doc["error"] and "\n" not in doc["error"]


@pytest.mark.parametrize("query,fragment", [("target=x", "'target'"), ("target=12", "'target'"),
                                            ("smooth=1000", "'smooth'")])
def test_bad_query_options_for_a_picture(client, test_set, make_png, query, fragment) -> None:
    got, doc = post(client, make_png(test_set.images[0], 56), "image/png", f"/api/explain?{query}")
    assert got == 400 and fragment in doc["error"]


@pytest.mark.parametrize("path", ["/api/explain", "/api/learn", "/api/learn/reset"])
def test_size_limit_and_method(client, server, path) -> None:
    """An oversized body is refused from its Content-Length, before anything is read."""
    head = (f"POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n"
            f"Content-Length: {server.app.max_body + 1}\r\n\r\n").encode()
    with socket.create_connection(server.server_address[:2], timeout=10) as s:
        s.sendall(head + b"{" * 1000)
        raw = b""
        while chunk := s.recv(65536):
            raw += chunk
    assert raw.startswith(b"HTTP/1.1 413") and b"limit" in raw
    status, _, doc = client.request("GET", path)
    assert status == 405 and "POST" in doc["error"]
    status, _, doc = client.request("GET", "/api/explain")
    assert status == 405 and "POST" in doc["error"]


def test_explanations_run_one_at_a_time_and_a_long_wait_is_a_503(run, test_set, serving,
                                                                   monkeypatch) -> None:
    import barenet.serve.explain_api as explain_api

    inside, most, lock = [0], [0], threading.Lock()
    original = explain_api.explain

    def watched(*args, **kwargs):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            time.sleep(0.02)
            return original(*args, **kwargs)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(explain_api, "explain", watched)
    body = json.dumps({"pixels": test_set.images[7].tolist()})
    with serving(make_server(run, "127.0.0.1", 0, timeout=2.0)) as srv:
        host, port = srv.server_address[:2]

        def call(_: int) -> int:
            conn = http.client.HTTPConnection(host, port, timeout=30)
            conn.request("POST", "/api/explain", body, {"Content-Type": "application/json"})
            res = conn.getresponse()
            doc = json.loads(res.read())
            conn.close()
            return res.status if res.status != 200 or doc["target"] == doc["prediction"] else -1

        with ThreadPoolExecutor(8) as pool:
            assert list(pool.map(call, range(16))) == [200] * 16
        assert most[0] == 1
        with srv.app.explainer.lock:   # one explanation stuck: the next waits 2 s, then 503
            t0 = time.monotonic()
            assert call(0) == 503
            assert 1.5 < time.monotonic() - t0 < 10
