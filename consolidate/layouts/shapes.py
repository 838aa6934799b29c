"""The structure of a source database as SQLite reports it: tables, columns, keys, indexes.

What recognition fingerprints and mapping maps; read once per source, never written.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass


@dataclass(frozen=True)
class ColumnShape:
    """One column as reported by ``PRAGMA table_info``.

    Attributes:
        declared_type: Type text exactly as declared (``''`` when untyped); not normalised.
        pk_position: 1-based position in the primary key, 0 when not part of it.
    """

    name: str
    declared_type: str
    not_null: bool
    pk_position: int


@dataclass(frozen=True)
class TableShape:
    """One user table: its columns in declaration order and its explicit index names.

    Attributes:
        indexes: Sorted names of ``CREATE INDEX`` indexes; automatic indexes backing
            PRIMARY KEY / UNIQUE constraints (``sqlite_autoindex_*``) are left out.
    """

    name: str
    columns: tuple[ColumnShape, ...]
    indexes: tuple[str, ...]

    def column(self, name: str) -> ColumnShape | None:
        """Return the column called exactly ``name``, or None."""
        return next((c for c in self.columns if c.name == name), None)

    def has(self, name: str) -> bool:
        """Return whether a column called exactly ``name`` exists."""
        return self.column(name) is not None

    @property
    def primary_key(self) -> tuple[str, ...]:
        """Primary-key column names in key order; empty for tables without a declared PK."""
        pk = sorted((c for c in self.columns if c.pk_position), key=lambda c: c.pk_position)
        return tuple(c.name for c in pk)


@dataclass(frozen=True)
class SourceShape:
    """The user tables of a database in creation order (``sqlite_*`` internal tables excluded)."""

    tables: tuple[TableShape, ...]

    def table(self, name: str) -> TableShape | None:
        """Return the table whose stored name is exactly ``name``, or None."""
        return next((t for t in self.tables if t.name == name), None)

    def table_ci(self, name: str) -> TableShape | None:
        """Return the table whose name matches ``name`` ignoring case, as SQLite resolves it."""
        folded = name.casefold()
        return next((t for t in self.tables if t.name.casefold() == folded), None)


def read_shape(conn: sqlite3.Connection) -> SourceShape:
    """Read the structure of every user table of ``conn``; only reads, never writes.

    Table names reach the ``pragma_*`` table-valued functions as bound parameters, so no
    identifier is ever spliced into SQL text.
    """
    names = conn.execute(
        "SELECT name FROM sqlite_master WHERE type = 'table'"
        " AND name NOT LIKE 'sqlite\\_%' ESCAPE '\\' ORDER BY rowid"
    ).fetchall()
    tables = []
    for (name,) in names:
        info = conn.execute('SELECT name, type, "notnull", pk FROM pragma_table_info(?)', (name,))
        columns = tuple(ColumnShape(str(c), str(t or ""), bool(n), int(k)) for c, t, n, k in info)
        # origin "c" = CREATE INDEX; "pk" / "u" are automatic indexes of constraints.
        rows = conn.execute("SELECT name FROM pragma_index_list(?) WHERE origin = 'c'", (name,))
        tables.append(TableShape(str(name), columns, tuple(sorted(str(i) for (i,) in rows))))
    return SourceShape(tuple(tables))
