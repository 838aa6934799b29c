"""Values no target can be trusted with: the one rule both sinks follow, checked before a copy.

SQLite keeps whatever is stored; PostgreSQL refuses a NUL in text, bytes in a text column, text
that is not valid UTF-8, a fraction in a bigint column and words in a numeric one. A source that
holds any of them is rejected on every target (SQLite too) with the same one-line reason naming
the table, the column, the value's stored type and the central column's type, so a run never
merges into one experiment database and not into another.

The check looks at what the merge mapping's SELECT yields (the value as it would be written, after
the documented conversions), by *stored* type (``typeof``), never by the declaration. Per table,
one SQL scan tests every column's stored type; the text columns' bytes are read in windows of
rowids, each column's text of a window concatenated in SQL and tested in Python for a NUL or any
byte outside ASCII (no SQL function sees every such byte: ``length`` and ``LIKE`` both miss a
stray continuation byte). Only a table where something fires is looked at column by column, and
only text outside ASCII is decoded, value by value, to test its UTF-8. Merge runs it in a check
thread beside the copy; ``inspect`` and ``merge --dry-run`` run it to predict.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

from consolidate.layouts.mapping import (
    SIMULATION_ROW,
    SourceMapping,
    TableMapping,
    central_affinity,
    quote,
)
from consolidate.layouts.shapes import SourceShape, TableShape

#: What the central column is called on PostgreSQL, per SQLite affinity of its type.
_PG_TYPE = {"TEXT": "text", "INTEGER": "bigint", "REAL": "double precision"}


#: Rowids per window of the text scan, and the most text SQLite may build for one column of a
#: window: SQLite refuses a longer string (or a longer value), and that table's text columns are
#: then checked value by value, so a window holds a few MB whatever the source. A table whose
#: rowid cannot be named (WITHOUT ROWID, or columns called rowid, _rowid_ and oid) is checked
#: value by value too.
_WINDOW = 5000
_LIMIT = 2 * 1024 * 1024
_MAX_ROWID = 2**63 - 1


# Codes per value, worst first; max() over a column gives the worst value it holds.
_BLOB, _NUL, _NOT_A_NUMBER, _FRACTION = 4, 3, 2, 1
_WHAT = {
    _BLOB: "a BLOB value (stored type blob)",
    _NUL: "text with a NUL character (stored type text)",
    _NOT_A_NUMBER: "text that is not a number (stored type text)",
    _FRACTION: "a fractional number (stored type real)",
}


@dataclass(frozen=True)
class _Column:
    table: str  # legacy table, as stored
    column: str  # legacy column
    central: str  # 'central_table.column'
    central_affinity: str  # TEXT, INTEGER or REAL

    @property
    def raw(self) -> str:
        return f"s.{quote(self.column)}"


@dataclass(frozen=True)
class _Scan:
    """One legacy table's checks: the columns merge writes and the SQL that tests them."""

    table: str
    columns: tuple[_Column, ...]
    text: tuple[_Column, ...]  # the columns whose central type is text
    types_sql: str  # (a row the stored-type tests fire on?, the first rowid)
    rowless_types_sql: str  # the test alone, for a table whose rowid cannot be named
    #: Per text column its window's text as one BLOB, then the next rowid.
    window_sql: str | None  # None: the rowid cannot be named
    codes_sql: str  # the worst code per column


#: id(mapping) -> (the mapping, its scans). Sources of one layout share one mapping object (see
#: layouts.reading), so a thousand small runs build this SQL once, not a thousand times (building
#: it cost a small source more than half a millisecond); the mapping is held, so its id is
#: never reused while the entry lives.
_SCANS: dict[int, tuple[SourceMapping, tuple[_Scan, ...]]] = {}
_SCANS_MAX = 256


def check_values(
    conn: sqlite3.Connection, mapping: SourceMapping, shape: SourceShape
) -> str | None:
    """The first value no target can carry, as a one-line reason, or None when there is none.

    The columns checked are those the mapping writes, and the legacy ``simulations`` row's.

    Args:
        conn: a read-only connection on the source.
        mapping: the source's mapping.
        shape: the source's shape (the mapping was built from it).
    """
    for scan in _scans(mapping, shape):
        typed, odd = _first_pass(conn, scan)
        if not typed and not odd:
            continue
        worst = conn.execute(scan.codes_sql).fetchone()
        for column, code in zip(scan.columns, worst, strict=True):
            if code:
                return _reason(column, _WHAT[code])
        source = f"{quote(scan.table)} AS s"
        for column in odd:
            if not _valid_utf8(conn, column, source):
                return _reason(column, "text that is not valid UTF-8 (stored type text)")
    return None


def _first_pass(conn: sqlite3.Connection, scan: _Scan) -> tuple[bool, list[_Column]]:
    """Whether a stored-type test fires, and the text columns holding a NUL or a byte outside
    ASCII somewhere."""
    odd: set[int] = set()

    def look(texts: Sequence[bytes | None]) -> None:
        for n, text in enumerate(texts):
            if text is not None and (not text.isascii() or b"\0" in text):
                odd.add(n)

    if scan.window_sql is None:
        (typed,) = conn.execute(scan.rowless_types_sql).fetchone()
        return bool(typed), list(scan.text)
    try:
        typed, rowid = conn.execute(scan.types_sql).fetchone()
    except sqlite3.OperationalError:  # WITHOUT ROWID: "no such column: _rowid_"
        (typed,) = conn.execute(scan.rowless_types_sql).fetchone()
        return bool(typed), list(scan.text)
    # Windows of rowid values, each starting at a rowid that exists: a dense table (every
    # legacy one) is read once, in about rows / 5,000 queries, one window in memory at a time.
    width = len(scan.text)
    limit = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _LIMIT)
    try:
        while width and rowid is not None:
            last = min(rowid + _WINDOW - 1, _MAX_ROWID)
            *texts, rowid = conn.execute(scan.window_sql, (rowid, last)).fetchone()
            look(texts)
    except sqlite3.DataError:  # "string or blob too big": more text than a window may hold
        return bool(typed), list(scan.text)
    finally:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
    return bool(typed), [scan.text[n] for n in sorted(odd)]


def _scans(mapping: SourceMapping, shape: SourceShape) -> tuple[_Scan, ...]:
    known = _SCANS.get(id(mapping))
    if known is not None and known[0] is mapping:
        return known[1]
    scans = []
    for table, columns in _groups(mapping.tables, mapping.simulation_table):
        if not columns:
            continue
        legacy = shape.table(table)
        names = frozenset(c.name.lower() for c in legacy.columns) if legacy else frozenset()
        scans.append(_scan(table, columns, names))
    if len(_SCANS) >= _SCANS_MAX:
        _SCANS.clear()
    _SCANS[id(mapping)] = (mapping, tuple(scans))
    return tuple(scans)


def _scan(table: str, columns: list[_Column], names: frozenset[str]) -> _Scan:
    """``names``: every column of the legacy table, lower case (a column may take the name of
    the rowid)."""
    name = quote(table)
    text = tuple(c for c in columns if c.central_affinity == "TEXT")
    types = " OR ".join(f"({_suspect(c)})" for c in columns)
    exists = f"SELECT 1 FROM {name} AS s WHERE {types}"
    rowid = next((a for a in ("_rowid_", "rowid", "oid") if a not in names), None)

    window = None
    if rowid is not None:
        texts = ", ".join(
            f"CAST(group_concat(CASE WHEN typeof({c.raw}) = 'text' THEN {c.raw} END, '') AS BLOB)"
            for c in text
        )
        window = (
            f"SELECT {texts}, (SELECT min({rowid}) FROM {name} WHERE {rowid} > ?2) "
            f"FROM {name} AS s WHERE s.{rowid} BETWEEN ?1 AND ?2"
        )
    return _Scan(
        table=table,
        columns=tuple(columns),
        text=text,
        types_sql=f"SELECT EXISTS ({exists}), (SELECT min({rowid}) FROM {name})",
        rowless_types_sql=f"SELECT EXISTS ({exists})",
        window_sql=window,
        codes_sql=f"SELECT {', '.join(f'max({_code(c)})' for c in columns)} FROM {name} AS s",
    )


def _groups(
    tables: Iterable[TableMapping], simulations: TableShape | None
) -> Iterable[tuple[str, list[_Column]]]:
    """Per legacy table, the columns merge writes; all rows, even where a mapping selects one
    simulation of the table (an experiment database is checked once, whole)."""
    for mapping in tables:
        yield (
            mapping.legacy_table,
            [
                _Column(
                    mapping.legacy_table,
                    c.legacy,
                    f"{mapping.central_table}.{c.central}",
                    central_affinity(mapping.central_table, c.central),
                )
                for c in mapping.columns
                if c.legacy is not None and "{schema}" not in c.expression
            ],
        )
    if simulations is not None:
        yield (
            simulations.name,
            [
                _Column(
                    simulations.name,
                    c.name,
                    f"simulations.{SIMULATION_ROW[c.name]}",
                    central_affinity("simulations", SIMULATION_ROW[c.name]),
                )
                for c in simulations.columns
                if c.name in SIMULATION_ROW
            ],
        )


# The mapping's conversions change only integers and reals (into text, or between the two), so
# a blob or a text value reaches the target as stored, and a real reaches a bigint column as an
# integer exactly when it is integral: testing the stored value is testing what is written.
def _suspect(column: _Column) -> str:
    v = column.raw
    if column.central_affinity == "TEXT":
        return f"typeof({v}) = 'blob'"  # its text's bytes: see _first_pass
    if column.central_affinity == "INTEGER":
        return (
            f"typeof({v}) IN ('blob', 'text') OR "
            f"(typeof({v}) = 'real' AND {v} <> CAST({v} AS INTEGER))"
        )
    return f"typeof({v}) IN ('blob', 'text')"


def _code(column: _Column) -> str:
    v = column.raw
    kind = f"typeof({v})"
    if column.central_affinity == "TEXT":
        return (
            f"CASE {kind} WHEN 'blob' THEN {_BLOB} WHEN 'text' THEN "
            f"CASE WHEN instr({v}, char(0)) > 0 THEN {_NUL} ELSE 0 END ELSE 0 END"
        )
    if column.central_affinity == "INTEGER":
        digits = f"(ltrim({v}, '-') <> '' AND NOT ltrim({v}, '-') GLOB '*[^0-9]*')"
        return (
            f"CASE {kind} WHEN 'blob' THEN {_BLOB} "
            f"WHEN 'real' THEN CASE WHEN {v} <> CAST({v} AS INTEGER) THEN {_FRACTION} ELSE 0 END "
            f"WHEN 'text' THEN CASE WHEN {digits} THEN 0 ELSE {_NOT_A_NUMBER} END ELSE 0 END"
        )
    # A comparison gives numeric affinity to the text side, so it equals its own CAST only
    # when SQLite (and PostgreSQL) read it as a number.
    number = f"coalesce(CAST({v} AS REAL) = {v}, 0)"
    return (
        f"CASE {kind} WHEN 'blob' THEN {_BLOB} "
        f"WHEN 'text' THEN CASE WHEN {number} THEN 0 ELSE {_NOT_A_NUMBER} END ELSE 0 END"
    )


def _valid_utf8(conn: sqlite3.Connection, column: _Column, source: str) -> bool:
    v = column.raw
    # Every text value of a column known to hold a byte outside ASCII: the SQL tests cannot
    # tell a stray continuation byte from ASCII, so none may narrow this down.
    rows = conn.execute(f"SELECT CAST({v} AS BLOB) FROM {source} WHERE typeof({v}) = 'text'")
    try:
        for (raw,) in rows:
            bytes(raw).decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


def postgres_type(central_table: str, column: str) -> str:
    """The PostgreSQL type of a central column, as the reasons name it."""
    return _PG_TYPE[central_affinity(central_table, column)]


def _reason(column: _Column, what: str) -> str:
    kind = _PG_TYPE.get(column.central_affinity, column.central_affinity.lower())
    return (
        f"{column.table}.{column.column} holds {what}, which the {kind} column "
        f"{column.central} cannot store on PostgreSQL (rejected on every target)"
    )
