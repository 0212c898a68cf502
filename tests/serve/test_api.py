"""The JSON API of ``barenet serve`` against a live server: good input gives the same answer as
``Run.predict_proba``, every kind of bad input a 4xx JSON error, and the server keeps going."""
from __future__ import annotations

import json
import socket
import struct
import zlib

import numpy as np
import pytest

from barenet.data.images import from_bytes, to_mnist


def expected(run, image: np.ndarray) -> tuple[int, np.ndarray]:
    probs = run.predict_proba(image[None])[0]
    return int(np.argmax(probs)), probs


def check_answer(doc: dict, run, image: np.ndarray) -> None:
    k, probs = expected(run, image)
    assert doc["prediction"] == k
    assert doc["label"] == run.classes[k]
    np.testing.assert_allclose(doc["probabilities"], probs, atol=1e-5)
    assert doc["input"] == image.reshape(-1).tolist()


# -- good input -------------------------------------------------------------------------------
def test_model_describes_the_network(client, run) -> None:
    status, doc = client.get("/api/model")
    assert status == 200
    assert doc["classes"] == list(run.classes)
    assert doc["dataset"] == "mnist"
    assert doc["parameters"] == run.model.num_parameters()
    assert [layer["type"] for layer in doc["layers"]][0] == "Linear"
    assert doc["layers"][-1]["output_shape"] == [10]
    assert all("repr" in layer and layer["parameters"] >= 0 for layer in doc["layers"])
    assert doc["test_accuracy"] == run.config.get("test_accuracy")


def test_page_and_static_files(client) -> None:
    status, headers, body = client.request("GET", "/")
    assert status == 200 and headers["content-type"].startswith("text/html")
    assert b'<canvas id="pad"' in body and b"/static/app.js" in body
    assert "default-src 'self'" in headers["content-security-policy"]
    for name in ("views.js", "app.js", "why.js", "teach.js"):
        assert f'src="/static/{name}"'.encode() in body
    for name, kind in (("app.js", "text/javascript"), ("style.css", "text/css"),
                       ("views.js", "text/javascript"), ("why.js", "text/javascript"),
                       ("teach.js", "text/javascript")):
        status, headers, body = client.request("GET", f"/static/{name}")
        assert status == 200 and headers["content-type"].startswith(kind) and body
    status, headers, body = client.request("HEAD", "/")
    assert status == 200 and body == b"" and int(headers["content-length"]) > 100


@pytest.mark.parametrize("index", [0, 1, 2, 3, 4, 5, 6, 7])
def test_pixels_predict_like_the_run(client, run, test_set, index) -> None:
    image = test_set.images[index]
    status, doc = client.post_pixels(image.reshape(-1).tolist())
    assert status == 200, doc
    check_answer(doc, run, image)
    acts = doc["activations"]
    assert acts, "hidden layers should be reported"
    for entry in acts.values():
        assert len(entry["values"]) == int(np.prod(entry["shape"]))
        assert entry["kind"] in ("dense", "maps") and entry["label"]


def test_pixels_accept_rows_and_non_integers(client, run, test_set) -> None:
    image = test_set.images[11]
    status, doc = client.post_pixels(image.tolist())  # 28 rows of 28
    assert status == 200 and doc["prediction"] == expected(run, image)[0]
    status, doc = client.post_pixels((image.reshape(-1) + 0.3).clip(0, 255).tolist())
    assert status == 200 and doc["input"] == image.reshape(-1).tolist()  # rounded


@pytest.mark.parametrize("index,size,invert", [(0, 140, True), (1, 280, True), (2, 28, False),
                                                (3, 500, True), (9, 96, False)])
def test_png_predicts_like_the_run_on_the_same_preprocessing(client, run, test_set, make_png,
                                                               index, size, invert) -> None:
    png = make_png(test_set.images[index], size, invert)
    status, doc = client.post(png, "image/png")
    assert status == 200, doc
    check_answer(doc, run, to_mnist(from_bytes(png)))


def test_sample_returns_a_test_image(client, test_set) -> None:
    status, doc = client.get("/api/sample?index=17")
    assert status == 200
    assert doc["index"] == 17 and doc["label"] == int(test_set.labels[17])
    assert doc["pixels"] == test_set.images[17].reshape(-1).tolist()
    seen = set()
    for _ in range(5):
        status, doc = client.get("/api/sample")
        assert status == 200 and len(doc["pixels"]) == 784 and 0 <= doc["label"] <= 9
        seen.add(doc["index"])
    assert len(seen) > 1
    for bad in ("-1", "10000", "x"):
        status, doc = client.get(f"/api/sample?index={bad}")
        assert status == 400 and "index" in doc["error"]


def test_weights_are_first_layer_images(client, run) -> None:
    status, doc = client.get("/api/weights")
    assert status == 200
    n, h, w = doc["shape"]
    assert (h, w) == (28, 28) and doc["count"] == run.model[0].weight.shape[0]
    np.testing.assert_allclose(np.reshape(doc["values"], (n, 784)),
                               run.model[0].weight.data[:n], atol=1e-4)


# -- bad input --------------------------------------------------------------------------------
def _png(width: int, height: int, value: int = 255) -> bytes:
    """A valid gray PNG of one colour, written by hand."""
    raw = b"".join(b"\x00" + bytes([value]) * width for _ in range(height))

    def chunk(kind: bytes, data: bytes) -> bytes:
        return (struct.pack(">I", len(data)) + kind + data
                + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))

    return (b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(raw)) + chunk(b"IEND", b""))


PIX = [0] * 783 + [255]
BAD = [
    ("image/png", b"this is not a picture", 400, "not a picture"),
    ("image/png", _png(64, 64)[:60], 400, "upload"),
    ("image/png", _png(64, 64, 255), 400, "no ink"),
    ("image/png", _png(3000, 3000, 0), 400, "too large"),
    ("application/json", b'{"pixels": [1, 2,', 400, "bad JSON"),
    ("application/json", b"[1, 2, 3]", 400, "expected an object"),
    ("application/json", b'{"pix": []}', 400, "expected an object"),
    ("application/json", b"\xff\xfe{}", 400, "UTF-8"),
    ("application/json", b"[" * 100000 + b"]" * 100000, 400, "bad JSON"),
    ("application/json", json.dumps({"pixels": PIX[:-1]}).encode(), 400, "784"),
    ("application/json", json.dumps({"pixels": PIX + [0]}).encode(), 400, "784"),
    ("application/json", json.dumps({"pixels": "0" * 784}).encode(), 400, "list"),
    ("application/json", json.dumps({"pixels": [[0] * 27] * 28}).encode(), 400, "784"),
    ("application/json", json.dumps({"pixels": PIX[:-1] + ["7"]}).encode(), 400, "numbers"),
    ("application/json", json.dumps({"pixels": PIX[:-1] + [None]}).encode(), 400, "numbers"),
    ("application/json", json.dumps({"pixels": PIX[:-1] + [True]}).encode(), 400, "numbers"),
    ("application/json", json.dumps({"pixels": PIX[:-1] + [[1]]}).encode(), 400, "numbers"),
    ("application/json", json.dumps({"pixels": PIX[:-1] + [float("nan")]}).encode(), 400, "NaN"),
    ("application/json", json.dumps({"pixels": PIX[:-1] + [float("inf")]}).encode(), 400, "Infinity"),
    ("application/json", ('{"pixels": [' + "0," * 783 + "1e999]}").encode(), 400, "finite"),
    ("application/json", json.dumps({"pixels": PIX[:-1] + [256]}).encode(), 400, "0..255"),
    ("application/json", ('{"pixels": [' + "0," * 783 + "9" * 5000 + "]}").encode(), 400,
     "bad JSON"),
    ("application/json", ('{"pixels": [' + "0," * 783 + "9" * 400 + "]}").encode(), 400,
     "bad JSON"),
    ("application/json", ('{"pixels": [' + "0," * 783 + "1" + "0" * 400 + ".5]}").encode(), 400,
     "finite"),
    ("application/json", json.dumps({"pixels": PIX[:-1] + [-0.6]}).encode(), 400, "0..255"),
    ("application/json", json.dumps({"pixels": [0] * 784}).encode(), 400, "no ink"),
    ("application/json", b"", 400, "empty body"),
    ("image/png", b"", 400, "empty body"),
    ("text/plain", b"hello", 415, "Content-Type"),
    ("application/x-www-form-urlencoded", b"pixels=1", 415, "Content-Type"),
    (None, b'{"pixels": []}', 415, "Content-Type"),
]


@pytest.mark.parametrize("content_type,body,status,fragment", BAD,
                         ids=[f"{i}-{b[2]}" for i, b in enumerate(BAD)])
def test_bad_input_gets_a_json_4xx(client, content_type, body, status, fragment) -> None:
    got, doc = client.post(body, content_type)
    assert got == status, doc
    assert fragment in doc["error"], doc["error"]
    assert "\n" not in doc["error"]


@pytest.mark.parametrize("method,path,status", [
    ("GET", "/nope", 404), ("GET", "/api/predictions", 404), ("POST", "/api/model", 405),
    ("GET", "/api/predict", 405), ("PUT", "/api/predict", 405), ("DELETE", "/", 405),
    ("PATCH", "/api/model", 405), ("OPTIONS", "/", 405), ("BREW", "/", 405),
    ("GET", "/static/../app.py", 404), ("GET", "/static/%2e%2e/app.py", 404),
    ("GET", "/static/", 404), ("POST", "/nope", 404),
])
def test_unknown_routes_and_methods(client, method, path, status) -> None:
    got, headers, doc = client.request(method, path, b"{}" if method == "POST" else None)
    assert got == status and headers["content-type"] == "application/json", doc
    assert doc["error"]


POST = b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"


def _raw(server, data: bytes, shut: bool = False, wait: float = 10.0) -> bytes:
    """Send raw bytes; return everything the server answers until it closes (or ``wait``)."""
    with socket.create_connection(server.server_address[:2], timeout=wait) as s:
        s.sendall(data)
        if shut:
            s.shutdown(socket.SHUT_WR)
        out = b""
        while chunk := s.recv(65536):
            out += chunk
        return out


def _status_and_error(raw: bytes) -> tuple[int, str]:
    head, _, body = raw.partition(b"\r\n\r\n")
    return int(head.split()[1]), json.loads(body)["error"]


def test_size_limit_answers_413_without_reading_the_body(server) -> None:
    claimed = server.app.max_body + 1
    raw = _raw(server, POST + b"Content-Type: image/png\r\n"
                       b"Content-Length: %d\r\n\r\n" % claimed + b"\x89PNG" * 1000)
    status, error = _status_and_error(raw)
    assert status == 413 and "limit" in error
    assert b"Connection: close" in raw


def test_expect_100_continue_with_an_oversized_body_is_refused_up_front(server) -> None:
    raw = _raw(server, POST + b"Content-Type: image/png\r\n"
                       b"Expect: 100-continue\r\nContent-Length: %d\r\n\r\n" % (50 * 2**20))
    status, error = _status_and_error(raw)
    assert status == 413 and "limit" in error


def test_a_real_oversized_upload_is_refused(client, server) -> None:
    body = b"\x00" * (server.app.max_body + 10)
    try:
        status, doc = client.post(body, "image/png")
    except (BrokenPipeError, ConnectionResetError):
        return  # the server may close before the client finished sending: also a refusal
    assert status == 413 and "limit" in doc["error"]


@pytest.mark.parametrize("headers,status,fragment", [
    (b"Content-Type: image/png\r\n", 411, "Content-Length"),
    (b"Content-Length: abc\r\n", 400, "Content-Length"),
    (b"Content-Length: -5\r\n", 400, "Content-Length"),
    (b"Transfer-Encoding: chunked\r\n", 411, "chunked"),
    (b"Content-Length: 1_0\r\n", 400, "Content-Length"),
    (b"Content-Length: +10\r\n", 400, "Content-Length"),
    (b"Content-Length: \xd9\xa1\r\n", 400, "Content-Length"),
    (b"Content-Length: 2\r\nContent-Length: 2\r\n", 400, "Content-Length"),
    (b"Content-Length: 2\r\nTransfer-Encoding: chunked\r\n", 400, "Transfer-Encoding"),
])
def test_bad_framing(server, headers, status, fragment) -> None:
    raw = _raw(server, POST + headers + b"\r\n", shut=True)
    got, error = _status_and_error(raw)
    assert got == status and fragment in error


def test_truncated_body_and_garbage_request_line(server) -> None:
    raw = _raw(server, POST + b"Content-Type: application/json"
                       b"\r\nContent-Length: 100\r\n\r\n{\"pixels\"", shut=True)
    status, error = _status_and_error(raw)
    assert status == 400 and "ended after" in error
    raw = _raw(server, b"GARBAGE\r\n\r\n")  # an HTTP/0.9-style line: a bare body answers it
    assert "Bad request" in json.loads(raw)["error"]
    status, error = _status_and_error(_raw(server, b"GET /" + b"a" * 70000 + b" HTTP/1.1\r\n\r\n"))
    assert status == 414 and error


def test_keep_alive_serves_several_requests_on_one_connection(server, test_set) -> None:
    import http.client

    conn = http.client.HTTPConnection(*server.server_address[:2], timeout=10)
    for i in range(3):
        body = json.dumps({"pixels": test_set.images[i].reshape(-1).tolist()})
        conn.request("POST", "/api/predict", body, {"Content-Type": "application/json"})
        res = conn.getresponse()
        assert res.status == 200 and json.loads(res.read())["prediction"] in range(10)
        conn.request("GET", "/nope")
        res = conn.getresponse()
        assert res.status == 404 and json.loads(res.read())["error"]
    conn.close()
