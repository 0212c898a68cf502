"""Many clients at once: every answer is right (the model's forward cache is shared, so the server
must serialise inference), slow clients are dropped, and the server shuts down cleanly."""
from __future__ import annotations

import http.client
import json
import socket
import threading
import time
from concurrent.futures import ThreadPoolExecutor

import numpy as np

from barenet.data.images import from_bytes, to_mnist
from barenet.serve import make_server

CLIENTS = 10
REQUESTS = 300


def test_300_requests_from_10_concurrent_clients(server, run, test_set, make_png) -> None:
    # 30 distinct inputs, half JSON pixels, half PNG pictures, with their expected answers
    cases = []
    for i in range(30):
        image = test_set.images[100 + i]
        if i % 2:
            body = json.dumps({"pixels": image.reshape(-1).tolist()}).encode()
            kind, seen = "application/json", image
        else:
            body = make_png(image, 112)
            kind, seen = "image/png", to_mnist(from_bytes(body))
        probs = run.predict_proba(seen[None])[0]
        cases.append((body, kind, int(np.argmax(probs)), probs))
    assert len({c[2] for c in cases}) >= 5, "inputs should give several different answers"

    host, port = server.server_address[:2]
    start = threading.Barrier(CLIENTS)

    def client(worker: int) -> list[tuple[int, int, int, float]]:
        conn = http.client.HTTPConnection(host, port, timeout=60)
        results = []
        start.wait()
        for j in range(REQUESTS // CLIENTS):
            n = (worker * 7 + j) % len(cases)
            body, kind, _, probs = cases[n]
            conn.request("POST", "/api/predict", body, {"Content-Type": kind})
            res = conn.getresponse()
            doc = json.loads(res.read())
            err = float(np.max(np.abs(np.asarray(doc["probabilities"]) - probs))) \
                if res.status == 200 else 1.0
            results.append((n, res.status, doc.get("prediction", -1), err))
        conn.close()
        return results

    with ThreadPoolExecutor(CLIENTS) as pool:
        answers = [r for rs in pool.map(client, range(CLIENTS)) for r in rs]
    assert len(answers) == REQUESTS
    wrong = [(n, status, got) for n, status, got, err in answers
             if status != 200 or got != cases[n][2] or err > 1e-5]
    assert not wrong, f"{len(wrong)} wrong answers, first: {wrong[:3]}"


def test_a_silent_client_is_dropped_and_others_are_served(run, test_set) -> None:
    srv = make_server(run, "127.0.0.1", 0, timeout=0.5)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    try:
        host, port = srv.server_address[:2]
        with socket.create_connection((host, port), timeout=10) as slow:
            slow.sendall(b"POST /api/predict HTTP/1.1\r\nContent-Length: 50\r\n\r\n{")
            conn = http.client.HTTPConnection(host, port, timeout=10)
            conn.request("GET", "/api/model")
            assert conn.getresponse().status == 200  # served while the slow one waits
            conn.close()
            t0 = time.monotonic()
            answer = b""
            while chunk := slow.recv(4096):
                answer += chunk
            assert time.monotonic() - t0 < 5  # closed after the timeout, not left hanging
            assert answer.startswith(b"HTTP/1.1 408") and b"timed out" in answer
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
    assert not thread.is_alive()


def test_shutdown_stops_serving(run) -> None:
    srv = make_server(run, "127.0.0.1", 0)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    host, port = srv.server_address[:2]
    conn = http.client.HTTPConnection(host, port, timeout=10)
    conn.request("GET", "/api/model")
    assert conn.getresponse().status == 200
    conn.close()
    srv.shutdown()
    srv.server_close()
    thread.join(5)
    assert not thread.is_alive()
    try:
        socket.create_connection((host, port), timeout=2).close()
        refused = False
    except OSError:
        refused = True
    assert refused


def test_connections_over_the_cap_get_503_and_the_server_recovers(run) -> None:
    srv = make_server(run, "127.0.0.1", 0, max_connections=3)
    thread = threading.Thread(target=srv.serve_forever, kwargs={"poll_interval": 0.05})
    thread.start()
    host, port = srv.server_address[:2]
    try:
        idle = [socket.create_connection((host, port), timeout=10) for _ in range(3)]
        time.sleep(0.2)  # let the server accept them
        with socket.create_connection((host, port), timeout=10) as extra:
            answer = b""
            while chunk := extra.recv(4096):
                answer += chunk
        assert answer.startswith(b"HTTP/1.1 503") and json.loads(answer.split(b"\r\n\r\n")[1])
        for s in idle:
            s.close()
        deadline = time.monotonic() + 5
        while True:  # the slots come back once the idle connections are gone
            conn = http.client.HTTPConnection(host, port, timeout=10)
            try:
                conn.request("GET", "/api/model")
                if conn.getresponse().status == 200:
                    break
            except (ConnectionError, http.client.HTTPException):
                pass
            finally:
                conn.close()
            assert time.monotonic() < deadline, "server did not recover"
            time.sleep(0.05)
    finally:
        srv.shutdown()
        srv.server_close()
        thread.join(5)
