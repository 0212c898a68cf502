"""A throwaway PostgreSQL server for the tuning tests, and a fresh database per test.

The server is started once per test session from the PostgreSQL binaries found on PATH or in
Debian's /usr/lib/postgresql/VERSION/bin: ``initdb`` into a temporary directory, then
``pg_ctl start`` listening on 127.0.0.1 only, on a free port, with password authentication.
PostgreSQL refuses to run as root, so under root both run as the ``postgres`` user (or
``nobody``). At the end of the session the server is stopped and its directory removed.

Without PostgreSQL (or psycopg, or Optuna) the tests that use it skip with the reason; with
``BARENET_REQUIRE_POSTGRES=1`` in the environment (CI sets it) that is a failure instead.
"""
from __future__ import annotations

import itertools
import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
from dataclasses import dataclass
from pathlib import Path

import pytest

REQUIRE = os.environ.get("BARENET_REQUIRE_POSTGRES") == "1"


def unavailable(reason: str) -> None:
    """Skip the test for ``reason``, or fail it when PostgreSQL is required."""
    if REQUIRE:
        pytest.fail(f"BARENET_REQUIRE_POSTGRES=1 but {reason}", pytrace=False)
    pytest.skip(reason)


@dataclass
class PostgresServer:
    """A running server: superuser ``user`` with ``password`` on 127.0.0.1:``port``."""
    port: int
    user: str
    password: str

    def url(self, dbname: str, password: str | None = None) -> str:
        """``postgresql://user:password@127.0.0.1:port/dbname``, as users write it."""
        pw = self.password if password is None else password
        return f"postgresql://{self.user}:{pw}@127.0.0.1:{self.port}/{dbname}"

    def connect(self, dbname: str = "postgres"):
        """A psycopg connection in autocommit mode."""
        import psycopg

        return psycopg.connect(host="127.0.0.1", port=self.port, user=self.user,
                               password=self.password, dbname=dbname, autocommit=True,
                               connect_timeout=10)


def _version(path: str) -> tuple[int, ...]:
    return tuple(int(n) for n in re.findall(r"\d+", path))


def find_bindir() -> Path | None:
    """The directory holding initdb and pg_ctl: PATH first, then the newest Debian install."""
    found = shutil.which("pg_ctl")
    candidates = [str(Path(found).resolve().parent)] if found else []
    candidates += sorted((str(p.parent) for p in Path("/usr/lib/postgresql").glob("*/bin/pg_ctl")),
                         key=_version, reverse=True)
    for d in candidates:
        if all(os.access(Path(d, name), os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return Path(d)
    return None


def _server_user() -> dict:
    """subprocess arguments that run PostgreSQL as an unprivileged user when we are root."""
    if os.geteuid() != 0:
        return {}
    for name in ("postgres", "nobody"):
        try:
            entry = pwd.getpwnam(name)
        except KeyError:
            continue
        return {"user": entry.pw_uid, "group": entry.pw_gid, "extra_groups": []}
    unavailable("running as root and there is no postgres or nobody user to run PostgreSQL")
    return {}


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture
def free_port() -> int:
    """A TCP port on 127.0.0.1 that nothing listens on (just now)."""
    return _free_port()


def _run(cmd: list, as_user: dict, cwd: Path) -> subprocess.CompletedProcess:
    return subprocess.run([str(c) for c in cmd], cwd=cwd, capture_output=True, text=True,
                          timeout=120, **as_user)


@pytest.fixture(scope="session")
def postgres_server():
    """A throwaway PostgreSQL server on 127.0.0.1 for the whole session."""
    for module in ("psycopg", "optuna"):
        try:
            __import__(module)
            missing = None
        except ImportError:
            missing = module
        if missing:
            unavailable(f'{missing} is not installed (pip install "barenet[tune]")')
    bindir = find_bindir()
    if bindir is None:
        unavailable("no PostgreSQL binaries (initdb, pg_ctl) on PATH or in /usr/lib/postgresql "
                    "(Debian: apt-get install postgresql)")
    as_user = _server_user()
    # under root, in /tmp itself: the server user must reach it (TMPDIR may be root's alone)
    root = Path(tempfile.mkdtemp(prefix="barenet-pg-", dir="/tmp" if as_user else None))
    data, password = root / "data", secrets.token_urlsafe(12)
    (root / "pwfile").write_text(password + "\n")
    if as_user:
        for path in (root, root / "pwfile"):
            os.chown(path, as_user["user"], as_user["group"])
    started = False
    try:
        init = _run([bindir / "initdb", "-D", data, "-U", "postgres", "-A", "scram-sha-256",
                     f"--pwfile={root / 'pwfile'}", "--locale=C", "-E", "UTF8", "--no-sync"],
                    as_user, root)
        assert init.returncode == 0, f"initdb failed:\n{init.stdout}\n{init.stderr}"
        for attempt in range(3):   # another program may take the free port first
            port = _free_port()
            opts = (f"-p {port} -k {root} -c listen_addresses=127.0.0.1 -c fsync=off "
                    "-c synchronous_commit=off -c full_page_writes=off")
            start = _run([bindir / "pg_ctl", "-D", data, "-l", root / "server.log", "-w",
                          "-t", "60", "-o", opts, "start"], as_user, root)
            if start.returncode == 0:
                started = True
                break
        log = (root / "server.log").read_text() if (root / "server.log").exists() else ""
        assert started, f"pg_ctl start failed:\n{start.stdout}\n{start.stderr}\n{log}"
        yield PostgresServer(port=port, user="postgres", password=password)
    finally:
        if started:
            _run([bindir / "pg_ctl", "-D", data, "-m", "immediate", "-w", "stop"], as_user, root)
        shutil.rmtree(root, ignore_errors=True)


_numbers = itertools.count()


@pytest.fixture
def postgres_db(postgres_server, request) -> str:
    """The name of a new, empty database in the throwaway server, for this test alone."""
    test = re.sub(r"[^a-z0-9]+", "_", request.node.name.lower())
    name = f"t{next(_numbers)}_{test}"[:60]
    with postgres_server.connect() as con:
        con.execute(f'CREATE DATABASE "{name}"')
    return name
