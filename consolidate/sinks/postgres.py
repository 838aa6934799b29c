"""The PostgreSQL sink: the legacy layer's SELECT streamed out of SQLite into COPY.

The same mapping SELECT that the SQLite sink runs inside the engine runs here on the source;
its rows are written to ``COPY ... FROM STDIN`` in the target's transaction, a batch at a time,
so memory stays flat whatever the size of the source.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from contextlib import closing, contextmanager
from typing import Any, cast

import psycopg
from sqlalchemy import Connection, text

from consolidate.errors import SourceError
from consolidate.layouts.mapping import TableMapping, quote
from consolidate.layouts.reading import OpenSource
from consolidate.layouts.values import postgres_type

BATCH_ROWS = 5_000


@contextmanager
def session(conn: Connection, opened: OpenSource) -> Iterator[None]:
    """Nothing to prepare: rows are read from the source by the sink itself."""
    yield


def lock(conn: Connection, key: str) -> None:
    """A transaction-scoped advisory lock, so merges on several machines never merge one
    simulation_id (or one content) twice at the same time; it is released at commit."""
    conn.execute(text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"), {"key": key})


def copy_tables(
    conn: Connection,
    opened: OpenSource,
    simulation_id: str,
    own_id: str,
    *,
    on_table: Callable[[str, int, float], None] | None = None,
) -> dict[str, int]:
    """Copy every mapped table of the source into the target; rows written per central table.

    Runs inside the caller's transaction (``conn`` is a psycopg connection under SQLAlchemy).
    """
    cursor = cast(Any, conn.connection.driver_connection).cursor()
    written: dict[str, int] = {}
    params = {"sim": simulation_id, "own": own_id}
    with closing(opened.connect()) as source, cursor:
        for table in opened.mapping.tables:
            started = time.perf_counter()
            columns = ", ".join(quote(c) for c in table.central_columns)
            rows = 0
            reader = source.execute(table.select_sql(), params)
            statement = f"COPY {quote(table.central_table)} ({columns}) FROM STDIN"
            try:
                with cursor.copy(statement) as copy:
                    while batch := reader.fetchmany(BATCH_ROWS):
                        for row in batch:
                            if bytes in map(type, row):
                                raise SourceError(str(opened.path), _blob(table, row))
                            copy.write_row(row)
                        rows += len(batch)
            except psycopg.Error as exc:
                raise SourceError(str(opened.path), _reason(exc, table.legacy_table)) from exc
            written[table.central_table] = written.get(table.central_table, 0) + rows
            if on_table is not None:
                on_table(table.central_table, rows, time.perf_counter() - started)
    return written


def _blob(table: TableMapping, row: tuple[Any, ...]) -> str:
    # psycopg would write bytes into a text column as '\x..' hex text: a silent change of value.
    # Unreachable after the value check (consolidate.layouts.values), kept as the last guard.
    column = table.central_columns[[type(v) for v in row].index(bytes)]
    kind = postgres_type(table.central_table, column)
    return (
        f"{table.legacy_table}.{column} holds a BLOB value (stored type blob), which the "
        f"{kind} column {table.central_table}.{column} cannot store on PostgreSQL"
    )


def _reason(exc: psycopg.Error, table: str) -> str:
    message = (str(exc).splitlines() or [type(exc).__name__])[0]
    if isinstance(exc, psycopg.errors.NotNullViolation) and '"simulation_id"' in message:
        return f"rows of {table} carry a simulation_id other than the file's"
    if "0x00" in message or "NUL" in message:
        return f"{table} holds text with a NUL character, which PostgreSQL text cannot store"
    return f"PostgreSQL refused a row of {table}: {message}"
