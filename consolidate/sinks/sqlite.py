"""The SQLite sink: rows move inside the engine, never through Python.

The source is attached to the target's connection and each legacy table is copied with one
``INSERT INTO central (...) SELECT <mapping> FROM src.legacy``, so memory stays flat whatever the
size of the source and the speed is SQLite's own.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import cast

from sqlalchemy import Connection

from consolidate.layouts.mapping import SourceMapping, quote
from consolidate.layouts.reading import OpenSource

ALIAS = "source"

#: id(mapping) -> (the mapping, its (central table, INSERT ... SELECT) statements). Sources of one
#: layout share one mapping object (see layouts.reading), so the text is built once per layout;
#: the mapping is held, so its id is never reused while the entry lives.
_INSERTS: dict[int, tuple[SourceMapping, tuple[tuple[str, str], ...]]] = {}
_INSERTS_MAX = 256


def _inserts(mapping: SourceMapping) -> tuple[tuple[str, str], ...]:
    known = _INSERTS.get(id(mapping))
    if known is not None and known[0] is mapping:
        return known[1]
    statements = tuple(
        (
            table.central_table,
            f"INSERT INTO main.{quote(table.central_table)} "
            f"({', '.join(quote(c) for c in table.central_columns)}) {table.select_sql(ALIAS)}",
        )
        for table in mapping.tables
    )
    if len(_INSERTS) >= _INSERTS_MAX:
        _INSERTS.clear()
    _INSERTS[id(mapping)] = (mapping, statements)
    return statements


def driver(conn: Connection) -> sqlite3.Connection:
    """The sqlite3 connection under a SQLAlchemy connection (same transaction)."""
    return cast(sqlite3.Connection, conn.connection.driver_connection)


def lock(conn: Connection, key: str) -> None:
    """Nothing to do: a writing transaction on SQLite (BEGIN IMMEDIATE) already excludes all
    other writers."""


@contextmanager
def session(conn: Connection, opened: OpenSource) -> Iterator[None]:
    """Attach the source read-only for the duration; must be entered outside a transaction,
    because SQLite refuses ATTACH and DETACH (and foreign-key switches) inside one.

    Foreign-key enforcement is off while attached: the only foreign key of a data table points
    at ``simulations``, and every copied row's simulation_id is the one the same transaction
    has just recorded (or NULL, which NOT NULL rejects). Checking it per row costs 15% of the
    copy; verify runs ``PRAGMA foreign_key_check`` over the result.
    """
    raw = driver(conn)
    # A bound parameter, not string formatting: a file name can never become SQL.
    raw.execute(f"ATTACH DATABASE ? AS {quote(ALIAS)}", (opened.read_uri,))
    raw.execute("PRAGMA foreign_keys=OFF")
    try:
        yield
    finally:
        # An interrupt (KeyboardInterrupt) in the middle of a statement or a commit makes
        # SQLAlchemy invalidate and close the connection: there is nothing left to restore, and
        # an error here would hide the interrupt and the source's real fate.
        if not conn.invalidated:
            raw.execute("PRAGMA foreign_keys=ON")
            raw.execute(f"DETACH DATABASE {quote(ALIAS)}")


def copy_tables(
    conn: Connection,
    opened: OpenSource,
    simulation_id: str,
    own_id: str,
    *,
    on_table: Callable[[str, int, float], None] | None = None,
) -> dict[str, int]:
    """Copy every mapped table of the attached source; returns rows written per central table.

    ``simulation_id`` is the id the run gets in the target; ``own_id`` the id the file gives
    itself (they differ when ``--on-conflict rename`` renamed it).

    Runs inside the caller's transaction. ``on_table(central_table, rows, seconds)`` is called
    after each table.
    """
    import time

    raw = driver(conn)
    written: dict[str, int] = {}
    ids = {"sim": simulation_id, "own": own_id}
    for central, statement in _inserts(opened.mapping):
        started = time.perf_counter()
        cursor = raw.execute(statement, ids)
        written[central] = written.get(central, 0) + cursor.rowcount
        if on_table is not None:
            on_table(central, cursor.rowcount, time.perf_counter() - started)
    return written
