"""Opening the central experiment database: one place decides URLs, pragmas and pooling."""

from __future__ import annotations

import os
import sqlite3
from pathlib import Path
from typing import Any

from sqlalchemy import URL, Engine, create_engine, event, make_url
from sqlalchemy.exc import ArgumentError

from consolidate.errors import NotATarget, TargetError, UsageError

#: Milliseconds a SQLite connection waits for another writer before "database is locked".
SQLITE_BUSY_TIMEOUT_MS = 60_000


def target_url(target: str | Path) -> URL:
    """The SQLAlchemy URL of a target given as a file path or as a URL.

    A plain path (anything without ``://``) is a SQLite file; it is opened as a ``file:`` URI so
    names with ``?``, ``#`` or ``%`` mean the file they name, and so ``ATTACH`` accepts URIs.
    """
    text = str(target)
    if text == ":memory:":  # a file by that name would appear in the working folder
        raise UsageError(
            "':memory:' is not an experiment database: give a file path (a temporary one for "
            "throwaway runs) or a database URL"
        )
    if "://" not in text:
        path = Path(text).expanduser().resolve()
        return URL.create("sqlite+pysqlite", database=path.as_uri(), query={"uri": "true"})
    try:
        url = make_url(text)
    except ArgumentError as exc:
        raise UsageError(f"{text}: not a file path or a database URL ({exc})") from exc
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    if url.get_backend_name() not in ("sqlite", "postgresql"):
        raise UsageError(f"{text}: only SQLite files and PostgreSQL URLs are supported")
    if url.get_backend_name() == "postgresql" and url.get_driver_name() != "psycopg":
        shown = url.render_as_string(hide_password=True)
        raise UsageError(
            f"{shown}: consolidate reaches PostgreSQL through psycopg 3, not "
            f"{url.get_driver_name()}: write the URL as "
            f"{url.set(drivername='postgresql+psycopg').render_as_string(hide_password=True)}"
        )
    return url


def describe(url: URL) -> str:
    """A human name for a target, without its password."""
    if url.get_backend_name() == "sqlite":
        return sqlite_path(url) or ":memory:"
    return url.render_as_string(hide_password=True)


def sqlite_path(url: URL) -> str | None:
    """The filesystem path of a SQLite URL (``None`` for in-memory databases)."""
    database = url.database or ""
    if database.startswith("file:"):
        from urllib.parse import unquote, urlparse

        return unquote(urlparse(database).path)
    return database or None


def _check_sqlite_path(path: Path, *, must_exist: bool) -> None:
    """What SQLite would only call "unable to open database file", said plainly."""
    if path.is_dir():
        raise NotATarget(f"{path}: is a folder, not a database file; name a file, e.g. {path}.db")
    if must_exist and not path.is_file():
        raise NotATarget(f"{path}: no such experiment database")
    if not path.parent.is_dir():
        raise NotATarget(f"{path}: the folder {path.parent} does not exist")
    if not path.exists() and not os.access(path.parent, os.W_OK | os.X_OK):
        raise TargetError(f"{path}: cannot be created: the folder {path.parent} is not writable")


def central_engine(
    target: str | Path | URL,
    *,
    must_exist: bool = False,
    wal_autocheckpoint: bool = True,
    **kwargs: Any,
) -> Engine:
    """An engine on the experiment database with the pragmas every writer relies on.

    SQLite: WAL (readers never block the writer), ``synchronous=NORMAL`` (durable at checkpoints,
    never corrupt), foreign keys on, and a long busy timeout because several processes may write.
    The pysqlite driver's own transaction handling is switched off so ``BEGIN`` is ours: SQLite
    refuses ``ATTACH`` inside a transaction and the driver would otherwise open one behind us.
    ``must_exist`` makes a missing SQLite file an error instead of creating it (for readers).
    ``wal_autocheckpoint=False``: the engine's SQLite connections never checkpoint the log; its
    owner must (a merge does, on a thread of its own: ``sinks.checkpoints``).

    Raises:
        NotATarget: a missing file (``must_exist``), a missing folder, or a folder named as the
            database file.
        TargetError: the file would have to be created in a folder that cannot be written.
    """
    url = target if isinstance(target, URL) else target_url(target)
    path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    if path is not None:
        _check_sqlite_path(Path(path), must_exist=must_exist)
    if url.get_backend_name() != "sqlite":
        return create_engine(url, pool_pre_ping=True, **kwargs)
    engine = create_engine(url, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_MS / 1000}, **kwargs)

    @event.listens_for(engine, "connect")
    def _on_connect(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.isolation_level = None
        cursor = dbapi_connection.cursor()
        cursor.execute(f"PRAGMA busy_timeout={SQLITE_BUSY_TIMEOUT_MS}")
        # WAL is written into the file's header, so it is set only on an empty database or one
        # of ours: pointing a command at some other SQLite file (a legacy run, by mistake) must
        # leave that file byte-identical.
        tables = {row[0] for row in cursor.execute("SELECT name FROM sqlite_master")}
        if not tables or "alembic_version" in tables:
            try:
                cursor.execute("PRAGMA journal_mode=WAL")
            except sqlite3.OperationalError as exc:
                # Switching modes needs the file to itself and does not wait on busy_timeout:
                # another process is building the schema right now, and sets WAL itself. This
                # connection follows the file into WAL as soon as that process commits.
                if "locked" not in str(exc):
                    raise
        cursor.execute("PRAGMA synchronous=NORMAL")
        cursor.execute("PRAGMA foreign_keys=ON")
        cursor.execute("PRAGMA cache_size=-16384")
        if not wal_autocheckpoint:
            cursor.execute("PRAGMA wal_autocheckpoint=0")
        cursor.close()

    @event.listens_for(engine, "begin")
    def _on_begin(conn: Any) -> None:
        # Writers ask for IMMEDIATE (execution option write_lock=True): it takes the write lock up
        # front, so two writers queue on busy_timeout instead of failing with SQLITE_BUSY when a
        # read transaction tries to upgrade. Readers keep a deferred BEGIN and never block.
        immediate = conn.get_execution_options().get("write_lock", False)
        conn.exec_driver_sql("BEGIN IMMEDIATE" if immediate else "BEGIN")

    return engine
