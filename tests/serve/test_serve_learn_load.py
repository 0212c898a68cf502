"""200 learning calls from 20 sessions at once: the sessions stay within their count and byte
limits the whole time, the server's memory does not grow with the calls, and the run
directory on disk is byte for byte what it was."""
from __future__ import annotations

import hashlib
import http.client
import json
import os
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

from barenet.serve import make_server
from barenet.serve.sessions import model_bytes

SESSIONS, CALLS, CAP = 20, 10, 6


def tree_digest(root: Path) -> dict[str, str]:
    """Every file under ``root`` (relative name -> SHA-256 of its bytes)."""
    return {str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
            for p in sorted(root.rglob("*")) if p.is_file()}


def rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def test_200_learn_calls_from_20_sessions_stay_bounded(run, run_dir, test_set, serving) -> None:
    before = tree_digest(run_dir)
    stamps = {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()}
    one = model_bytes(run.model)
    with serving(make_server(run, "127.0.0.1", 0, timeout=60.0, max_sessions=CAP,
                             max_session_bytes=CAP * one)) as srv:
        store = srv.app.learning.store
        host, port = srv.server_address[:2]
        seen = {"count": 0, "bytes": 0}
        done = threading.Event()

        def watch() -> None:            # the store's size, sampled all through the run
            while not done.wait(0.005):
                seen["count"] = max(seen["count"], len(store))
                seen["bytes"] = max(seen["bytes"], store.nbytes)

        def session(worker: int, calls: int = CALLS) -> list[int]:
            """One page: ``calls`` teaching calls, in a new session whenever its was dropped."""
            conn = http.client.HTTPConnection(host, port, timeout=60)
            token, statuses = None, []
            for call in range(calls):
                image = test_set.images[worker * CALLS + call]
                body = {"pixels": image.tolist(), "label": int(test_set.labels[worker]),
                        "token": token, "lr": 0.01}
                conn.request("POST", "/api/learn", json.dumps(body),
                             {"Content-Type": "application/json"})
                res = conn.getresponse()
                doc = json.loads(res.read())
                statuses.append(res.status)
                # dropped to make room for another session: start a new one
                token = doc["token"] if res.status == 200 else None
            conn.close()
            return statuses

        # warm up: the test subset is loaded once, and the allocator sets up its per-thread
        # pools (memory it keeps for reuse); then measure
        with ThreadPoolExecutor(SESSIONS) as pool:
            assert 200 in [s for ss in pool.map(session, range(SESSIONS), [2] * SESSIONS)
                           for s in ss]
        rss0 = rss_bytes()
        watcher = threading.Thread(target=watch)
        watcher.start()
        try:
            with ThreadPoolExecutor(SESSIONS) as pool:
                statuses = [s for ss in pool.map(session, range(SESSIONS)) for s in ss]
        finally:
            done.set()
            watcher.join()
        grown = rss_bytes() - rss0
        assert len(statuses) == SESSIONS * CALLS == 200
        # a 404 (the session was dropped) is always followed by a new session's 200
        assert set(statuses) <= {200, 404} and "404, 404" not in str(statuses)
        assert statuses.count(200) >= 100
        assert store.dropped > 0                   # 20 sessions, room for 6: some were dropped
        assert seen["count"] <= CAP and len(store) <= CAP
        assert seen["bytes"] <= CAP * one and store.nbytes <= CAP * one
        assert grown < 32 * 2**20, f"RSS grew by {grown / 2**20:.1f} MiB"
    assert tree_digest(run_dir) == before
    assert {p.name: p.stat().st_mtime_ns for p in run_dir.iterdir()} == stamps
