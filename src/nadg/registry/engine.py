"""The database engine: URL handling, per-backend connection setup, error translation.

SQLite runs in WAL mode with a busy timeout, so the heartbeat, the CLI and the UI can write at
once, and write transactions start with BEGIN IMMEDIATE so two writers queue up instead of
failing. PostgreSQL goes through psycopg 3 without server-side prepared statements, which is
what Supabase's transaction pooler requires.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from sqlalchemy import URL, event, exc, make_url
from sqlalchemy.engine.interfaces import DBAPIConnection
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine
from sqlalchemy.pool import ConnectionPoolEntry

from nadg.errors import ConfigError, DatabaseUnavailable, RegistryError

logger = logging.getLogger(__name__)

SQLITE_BUSY_TIMEOUT_MS = 30_000
WRITE = "nadg_write"  # execution option: this transaction writes (BEGIN IMMEDIATE on SQLite)

_DRIVERS = {
    "sqlite": "sqlite+aiosqlite",
    "sqlite+aiosqlite": "sqlite+aiosqlite",
    "postgres": "postgresql+psycopg",
    "postgresql": "postgresql+psycopg",
    "postgresql+psycopg": "postgresql+psycopg",
    "postgresql+psycopg_async": "postgresql+psycopg",
}


def async_url(url: str) -> URL:
    """The SQLAlchemy URL with the async driver NADG uses for this backend."""
    try:
        parsed = make_url(url)
    except exc.ArgumentError as error:
        raise ConfigError(f"invalid database URL: {redact(url)}") from error
    driver = _DRIVERS.get(parsed.drivername)
    if driver is None:
        raise ConfigError(
            f"unsupported database URL scheme {parsed.drivername!r}: use sqlite:/// or postgresql://"
        )
    return parsed.set(drivername=driver)


def redact(url: str) -> str:
    """The URL with its password hidden, for messages and logs."""
    try:
        return make_url(url).render_as_string(hide_password=True)
    except exc.ArgumentError:
        return "<unparseable URL>"


def url_kind(url: URL) -> str:
    return "sqlite" if url.get_backend_name() == "sqlite" else "postgresql"


def create_engine(url: str) -> AsyncEngine:
    """An async engine for `url`; the SQLite file's folder is created when missing."""
    parsed = async_url(url)
    if url_kind(parsed) == "sqlite":
        return _sqlite_engine(parsed)
    return create_async_engine(
        parsed,
        connect_args={"prepare_threshold": None},
        pool_pre_ping=True,
        pool_size=5,
        max_overflow=10,
    )


def _sqlite_engine(url: URL) -> AsyncEngine:
    if url.database and url.database != ":memory:":
        folder = Path(url.database).expanduser().parent
        try:
            folder.mkdir(parents=True, exist_ok=True)
        except OSError as exc:
            raise ConfigError(
                f"cannot create the database folder {folder}: {exc.strerror}"
            ) from exc
    engine = create_async_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000})
    event.listen(engine.sync_engine, "connect", _sqlite_connect)
    event.listen(engine.sync_engine, "begin", _sqlite_begin)
    return engine


def _sqlite_connect(dbapi_connection: DBAPIConnection, record: ConnectionPoolEntry) -> None:
    # Let us emit BEGIN ourselves (see _sqlite_begin) instead of the driver's implicit one.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.close()


def _sqlite_begin(connection: Any) -> None:
    # A deferred transaction that reads and then writes fails at once with SQLITE_BUSY when
    # another writer got in between; IMMEDIATE takes the write lock first and waits for it.
    immediate = connection.get_execution_options().get(WRITE, False)
    connection.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")


@contextmanager
def translated(url: str) -> Iterator[None]:
    """Turn SQLAlchemy and driver errors into RegistryError, never showing the password."""
    try:
        yield
    except (exc.OperationalError, exc.InterfaceError, OSError) as error:
        raise DatabaseUnavailable(
            f"database unavailable ({redact(url)}): {_reason(error, url)}"
        ) from error
    except exc.SQLAlchemyError as error:
        raise RegistryError(f"database error ({redact(url)}): {_reason(error, url)}") from error


def _reason(error: BaseException, url: str) -> str:
    original = getattr(error, "orig", None) or error
    lines = str(original).strip().splitlines()
    text = lines[0] if lines else type(original).__name__
    password = _password(url)
    return text.replace(password, "***") if password else text


def _password(url: str) -> str | None:
    try:
        return make_url(url).password
    except exc.ArgumentError:
        return None
