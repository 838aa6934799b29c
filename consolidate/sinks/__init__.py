"""Stage 3, sinks: where mapped rows are written: in-engine for SQLite, COPY for PostgreSQL.
May import: errors, schema, sources, layouts.

Each sink module provides the same three functions (:class:`Sink`); :func:`for_target` picks
the one for a connection's dialect.
"""

from __future__ import annotations

from collections.abc import Callable
from contextlib import AbstractContextManager
from typing import Protocol

from sqlalchemy import Connection

from consolidate.layouts.reading import OpenSource


class Sink(Protocol):
    def session(self, conn: Connection, opened: OpenSource) -> AbstractContextManager[None]:
        """Prepare ``conn`` to read ``opened``; entered before the source's transaction."""
        ...

    def lock(self, conn: Connection, key: str) -> None:
        """Serialise, for the current transaction, every merge that uses the same ``key``."""
        ...

    def copy_tables(
        self,
        conn: Connection,
        opened: OpenSource,
        simulation_id: str,
        own_id: str,
        *,
        on_table: Callable[[str, int, float], None] | None = None,
    ) -> dict[str, int]:
        """Copy every mapped table; rows written per central table."""
        ...


def for_target(conn: Connection) -> Sink:
    # Only the sink in use is imported: psycopg costs a SQLite merge a sixth of a second.
    if conn.dialect.name == "sqlite":
        from consolidate.sinks import sqlite

        return sqlite
    from consolidate.sinks import postgres

    return postgres
