"""Where a study lives: the storage URL as users write it, one-line errors, and safe joining.

Several processes -- on one machine or on many -- may open the same PostgreSQL database at the
same moment, and Optuna prepares a database in check-then-create steps: the tables and their
enum types, a version row, an alembic stamp, then the study. Two processes starting together
both see "missing" and both create, and one dies with ``duplicate key value violates unique
constraint "pg_type_typname_nsp_index"``. Retrying would have to recognise every way each of
those steps can collide, and a retry after a half-done step can leave duplicate rows behind; so
on PostgreSQL every opening is instead done under a session advisory lock, held on a connection
of its own while the schema and the study are created. Openings take milliseconds, so waiting
is short, and the lock belongs to the connection: a process that dies holding it releases it.
"""
from __future__ import annotations

import contextlib
import time
import warnings
from typing import Any, Iterator
from urllib.parse import parse_qs, urlsplit

from ..errors import BarenetError, ConfigError
from .redaction import _hide, redact

OPTUNA_HINT = 'Optuna is not installed: pip install "barenet[tune]"'

#: The advisory lock key (a bigint; the bytes spell "barenet" and a 1) that serialises the
#: creation of Optuna's tables and studies in one PostgreSQL database.
SCHEMA_LOCK = 0x62617265_6E657401
#: How long an opening waits for another process's opening before giving up.
LOCK_WAIT_S = 120.0
#: Seconds to wait for a PostgreSQL server to answer before reporting it unreachable.
CONNECT_TIMEOUT_S = 10


def import_optuna() -> Any:
    """``optuna``, or ConfigError with the install hint. Its own log lines ("A new study
    created ...") are turned down to warnings: barenet reports the study and trials itself."""
    try:
        import optuna
    except ImportError:
        raise ConfigError(OPTUNA_HINT) from None
    if optuna.logging.get_verbosity() < optuna.logging.WARNING:
        optuna.logging.set_verbosity(optuna.logging.WARNING)
    return optuna


def storage_url(url: str) -> str:
    """``url`` with the PostgreSQL driver the ``tune`` extra installs (psycopg 3) made explicit.

    ``postgresql://`` and ``postgres://`` become ``postgresql+psycopg://`` (SQLAlchemy would
    otherwise look for psycopg2); a URL that names its driver, and any other URL, is unchanged.
    """
    scheme, sep, rest = url.partition("://")
    if sep and scheme.lower() in ("postgresql", "postgres"):
        return f"postgresql+psycopg://{rest}"
    return url


def is_postgres(url: str) -> bool:
    """True for a PostgreSQL URL, with or without a driver."""
    scheme = url.partition("://")[0].lower()
    return scheme.split("+")[0] in ("postgresql", "postgres")


#: The connection parameters that carry a secret: libpq's ``password`` and ``sslpassword``
#: (the client key's passphrase), matched in any case and percent-encoding.
DRIVER_PACKAGES = {"psycopg": '"barenet[tune]"', "psycopg2": "psycopg2-binary",
                   "MySQLdb": "mysqlclient", "pymysql": "PyMySQL",
                   "mysql": "mysql-connector-python", "mariadb": "mariadb",
                   "pg8000": "pg8000", "asyncpg": "asyncpg", "pyodbc": "pyodbc",
                   "pymssql": "pymssql", "oracledb": "oracledb", "cx_Oracle": "cx_Oracle"}


def _missing_module(exc: BaseException) -> str | None:
    """The top-level module whose import failed, from ``exc`` or what it was raised from
    (Optuna re-raises SQLAlchemy's ImportError with a message of its own and no name)."""
    seen = set()
    while exc is not None and id(exc) not in seen:
        seen.add(id(exc))
        name = getattr(exc, "name", None)
        if isinstance(exc, ImportError) and name:
            return name.split(".")[0]
        exc = exc.__cause__ or exc.__context__
    return None


def in_memory(url: str) -> bool:
    """True for an in-memory SQLite database (``sqlite://``, ``sqlite:///:memory:``, a
    ``file::memory:`` or ``mode=memory`` URI), which is gone when its connection closes."""
    scheme, sep, rest = url.partition("://")
    if not sep or scheme.split("+")[0].lower() != "sqlite":
        return False
    path, _, query = rest.partition("?")
    database = path[1:] if path.startswith("/") else path
    modes = [m.lower() for m in parse_qs(query).get("mode", [])]
    return database in ("", ":memory:") or database.startswith("file::memory:") or \
        "memory" in modes


def check_storage(url: str) -> None:
    """ConfigError in one line for a storage a search cannot use: an in-memory database, which
    each process and connection sees empty and which is lost when the search ends."""
    if in_memory(url):
        raise ConfigError(f"tune: --storage {redact(url)} is an in-memory database: the study "
                          "would be lost when the search ends (and worker processes could not "
                          "share it); give a file, e.g. sqlite:///study.db, or leave --storage "
                          "out for DIR/study.db")


def _error(url: str, exc: BaseException) -> ConfigError:
    """A one-line ConfigError for a storage that cannot be opened, without its password."""
    if isinstance(exc, ImportError):
        module = _missing_module(exc)
        if module is None:
            return ConfigError(f"tune: storage {redact(url)} needs a database driver that is "
                               "not installed (the one its URL's scheme names)")
        hint = f"pip install {DRIVER_PACKAGES.get(module, module)}"
        return ConfigError(f"tune: storage {redact(url)} needs the database driver {module}: "
                           f"{hint}")
    cause = getattr(exc, "orig", None) or exc   # SQLAlchemy wraps the driver's error
    lines = [line.strip() for line in str(cause).splitlines() if line.strip()]
    detail = lines[0] if lines else type(cause).__name__
    if len(lines) > 1 and lines[0].endswith("failed:"):
        detail += f" {lines[1]}"    # psycopg puts the reason on the next line
    return ConfigError(f"tune: cannot open storage {redact(url)}: {_hide(detail, url)}")


def _engine_kwargs(url: str) -> dict:
    if url.startswith("sqlite"):
        return {"connect_args": {"timeout": 60}}   # wait for another process's write
    if is_postgres(url) and "connect_timeout" not in parse_qs(urlsplit(url).query):
        return {"connect_args": {"connect_timeout": CONNECT_TIMEOUT_S}}
    return {}


@contextlib.contextmanager
def schema_lock(url: str) -> Iterator[None]:
    """Hold PostgreSQL's advisory lock ``SCHEMA_LOCK`` in the database of ``url`` (a no-op for
    other databases): one process at a time creates or opens Optuna's schema and studies."""
    if not is_postgres(url):
        yield
        return
    try:
        import sqlalchemy
        from sqlalchemy.pool import NullPool

        engine = sqlalchemy.create_engine(url, poolclass=NullPool, **_engine_kwargs(url))
        conn = engine.connect().execution_options(isolation_level="AUTOCOMMIT")
    except Exception as exc:   # no driver, unreachable server, bad credentials, bad URL
        raise _error(url, exc) from None
    try:
        deadline, pause = time.monotonic() + LOCK_WAIT_S, 0.02
        while not conn.execute(sqlalchemy.text("SELECT pg_try_advisory_lock(:key)"),
                               {"key": SCHEMA_LOCK}).scalar():
            if time.monotonic() > deadline:
                raise ConfigError(f"tune: storage {redact(url)}: another process has been "
                                  f"creating the study for over {LOCK_WAIT_S:.0f} s "
                                  f"(advisory lock {SCHEMA_LOCK})")
            time.sleep(pause)
            pause = min(2 * pause, 0.5)
        try:
            yield
        finally:
            conn.execute(sqlalchemy.text("SELECT pg_advisory_unlock(:key)"),
                         {"key": SCHEMA_LOCK})
    finally:
        conn.close()
        engine.dispose()


def _rdb_storage(url: str) -> Any:
    """Optuna's RDB storage for ``url`` (called with the schema lock held): sqlite waits for
    locks; trials whose process stopped sending heartbeats are failed after 30 s."""
    optuna = import_optuna()
    for attempt in range(3):
        try:
            with warnings.catch_warnings():  # heartbeats are marked experimental
                warnings.simplefilter("ignore", optuna.exceptions.ExperimentalWarning)
                return optuna.storages.RDBStorage(url, engine_kwargs=_engine_kwargs(url),
                                                  heartbeat_interval=10, grace_period=30)
        except Exception as exc:   # SQLAlchemy: bad URL, unreachable server, creation race
            # sqlite has no advisory lock: two processes creating one file's tables collide
            racing = url.startswith("sqlite") and "UNIQUE constraint" in str(exc)
            if attempt == 2 or not racing:
                raise _error(url, exc) from None
            time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def open_storage(url: str) -> Any:
    """An Optuna RDB storage for ``url`` (``postgresql://`` gets the psycopg driver), opened
    safely when other processes open it too; ConfigError in one line if it cannot be."""
    check_storage(url)
    url = storage_url(url)
    with schema_lock(url):
        return _rdb_storage(url)


def join_study(url: str, name: str, settings: dict) -> tuple[Any, Any, int]:
    """Create the study ``name`` in ``url`` or join it: ``(storage, study, joined)``.

    ``settings`` (the base config and the searched parameters) are recorded by the first
    process; a process with other settings gets ConfigError. ``joined`` counts the processes
    that joined before this one, so each can seed its sampler differently.
    """
    optuna = import_optuna()
    check_storage(url)
    url = storage_url(url)
    with schema_lock(url):
        store = _rdb_storage(url)
        try:
            study = optuna.create_study(study_name=name, storage=store, direction="maximize",
                                        load_if_exists=True)
            attrs = study.user_attrs
            if "settings" not in attrs:
                study.set_user_attr("settings", settings)
            elif attrs["settings"] != settings:
                raise ConfigError(f"tune: study {name!r} in {redact(url)} was started with other "
                                  "settings (model, dataset, epochs or parameters); use another "
                                  "--out or --study")
            joined = int(attrs.get("joined", 0))
            study.set_user_attr("joined", joined + 1)
        except BarenetError:
            raise
        except Exception as exc:   # e.g. the connection lost, or a study of another direction
            raise _error(url, exc) from None
    return store, study, joined
