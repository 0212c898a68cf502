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
import pytest

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


def test_a_silent_client_is_dropped_and_others_are_served(run, serving) -> None:
    with serving(make_server(run, "127.0.0.1", 0, timeout=0.5)) as srv:
        host, port = srv.server_address[:2]
        with socket.create_connection((host, port), timeout=10) as slow:
            slow.sendall(b"POST /api/predict HTTP/1.1\r\nHost: 127.0.0.1\r\n"
                         b"Content-Length: 50\r\n\r\n{")
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


def test_connections_over_the_cap_get_503_and_the_server_recovers(run, serving) -> None:
    with serving(make_server(run, "127.0.0.1", 0, max_connections=3)) as srv:
        host, port = srv.server_address[:2]
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


def _trickle(sock: socket.socket, data: bytes, every: float, until: float) -> bool:
    """Send ``data`` one byte every ``every`` seconds until the server closes the connection
    or ``until`` (a monotonic time) passes; return whether the server closed it."""
    sock.settimeout(every)
    for i in range(len(data)):
        if time.monotonic() > until:
            return False
        try:
            sock.sendall(data[i:i + 1])
            if not sock.recv(4096):
                return True
        except socket.timeout:
            continue
        except OSError:  # reset by the server, or closed by the test
            return True
    return False


def test_a_trickling_client_is_cut_at_the_request_deadline(run, serving) -> None:
    """One byte every 0.1 s never trips a per-read timeout of 1 s; the whole request must still
    arrive within that second."""
    with serving(make_server(run, "127.0.0.1", 0, timeout=1.0)) as srv:
        request = b"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: aaaa\r\n" * 20
        with socket.create_connection(srv.server_address[:2], timeout=5) as slow:
            t0 = time.monotonic()
            _trickle(slow, request, every=0.1, until=t0 + 6)
            assert time.monotonic() - t0 < 3, "the server kept reading a request past its deadline"


def test_slow_clients_do_not_lock_out_ordinary_requests(run, serving) -> None:
    """Every slot taken by clients sending a byte at a time: ordinary requests are still served
    (the connection waiting longest for its request is closed to make room)."""
    request = b"GET /api/model HTTP/1.1\r\nHost: 127.0.0.1\r\n" + b"X-Pad: aaaa\r\n" * 100
    with serving(make_server(run, "127.0.0.1", 0, timeout=30.0, max_connections=8)) as srv, \
            ThreadPoolExecutor(8) as pool:
        host, port = srv.server_address[:2]
        slow = [socket.create_connection((host, port), timeout=5) for _ in range(8)]
        try:
            futures = [pool.submit(_trickle, s, request, 0.2, time.monotonic() + 8) for s in slow]
            time.sleep(1.5)
            for _ in range(4):
                conn = http.client.HTTPConnection(host, port, timeout=10)
                conn.request("GET", "/api/model")
                res = conn.getresponse()
                assert res.status == 200, res.read()
                conn.close()
            deadline = time.monotonic() + 2
            while not any(f.done() for f in futures) and time.monotonic() < deadline:
                time.sleep(0.05)
            cut = sum(f.result() for f in futures if f.done())  # before their 8 s were up
        finally:
            for s in slow:
                s.close()
    assert cut >= 1


def test_ctrl_c_while_a_worker_starts_is_not_swallowed(run, serving, monkeypatch) -> None:
    """A KeyboardInterrupt raised in the accepting thread after the connection's worker has
    already finished (and freed its slot) must come out as a KeyboardInterrupt."""
    import socketserver

    def finish_then_interrupt(self, request, client_address):
        self.process_request_thread(request, client_address)
        raise KeyboardInterrupt

    srv = make_server(run, "127.0.0.1", 0, max_connections=2)
    a, b = socket.socketpair()
    b.close()
    monkeypatch.setattr(socketserver.ThreadingMixIn, "process_request", finish_then_interrupt)
    try:
        with pytest.raises(KeyboardInterrupt):
            srv.process_request(a, ("127.0.0.1", 1))
    finally:
        monkeypatch.undo()
        a.close()
    # both slots are still there: two idle connections are held, a third is refused
    with serving(srv):
        held = [socket.create_connection(srv.server_address[:2], timeout=5) for _ in range(2)]
        time.sleep(0.2)
        with socket.create_connection(srv.server_address[:2], timeout=5) as extra:
            assert extra.recv(4096).startswith(b"HTTP/1.1 503")
        for s in held:
            s.close()


def test_pictures_are_preprocessed_two_at_a_time(server, test_set, make_png, monkeypatch) -> None:
    """Preprocessing a big picture takes tens of MB for a moment: 8 uploads at once must not
    all do it at once (JSON pixels, which need none, are not held up)."""
    import barenet.serve.app as app_module

    original = app_module._decode_picture
    inside, most = [0], [0]
    lock = threading.Lock()

    def watched(data, log, *facts):
        with lock:
            inside[0] += 1
            most[0] = max(most[0], inside[0])
        try:
            time.sleep(0.05)
            return original(data, log, *facts)
        finally:
            with lock:
                inside[0] -= 1

    monkeypatch.setattr(app_module, "_decode_picture", watched)
    png = make_png(test_set.images[3], 112)
    host, port = server.server_address[:2]

    def post(_: int) -> int:
        conn = http.client.HTTPConnection(host, port, timeout=30)
        conn.request("POST", "/api/predict", png, {"Content-Type": "image/png"})
        status = conn.getresponse().status
        conn.close()
        return status

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(post, range(16)))
    assert statuses == [200] * 16
    assert most[0] == 2, most[0]
