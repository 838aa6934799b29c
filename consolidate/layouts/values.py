"""Values no target can be trusted with: the one rule both sinks follow, checked before a copy.

SQLite keeps whatever is stored; PostgreSQL refuses a NUL in text, bytes in a text column, text
that is not valid UTF-8, a fraction in a bigint column and words in a numeric one. A source that
holds any of them is rejected on every target (SQLite too) with the same one-line reason naming
the table, the column, the value's stored type and the central column's type, so a run never
merges into one experiment database and not into another.

The check looks at what the merge mapping's SELECT yields (the value as it would be written, after
the documented conversions), by *stored* type (``typeof``), never by the declaration. Each table
is read once, in windows of rowids: per window, aggregates say whether a stored-type test fires
(the type of a column's largest value, a fraction's own test) and each text column's text is
concatenated in SQL and tested in Python for a NUL or any byte outside ASCII (no SQL function
sees every such byte: ``length`` and ``LIKE`` both miss a stray continuation byte). Only a table
where something fires is looked at column by column, and only text outside ASCII is decoded,
value by value, to test its UTF-8. Merge runs it in a check thread beside the copy; ``inspect``
and ``merge --dry-run`` run it to predict.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
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
    #: The table's first rowid; None: the rowid cannot be named.
    start_sql: str | None
    #: Per window: whether a stored-type test fires, per text column the window's text as one
    #: BLOB, then the next rowid. None: the rowid cannot be named.
    window_sql: str | None
    rowless_types_sql: str  # whether a stored-type test fires, in one pass over the whole table
    codes_sql: str  # the worst code per column


@dataclass(frozen=True)
class _Plan:
    """A layout's scans, and one statement that finds every windowed table's first rowid (a
    statement per table costs a small source more than its rows do)."""

    scans: tuple[_Scan, ...]
    starts_sql: str | None  # one value per scan with a window_sql, in order; None: no such scan


#: id(mapping) -> (the mapping, its plan). Sources of one layout share one mapping object (see
#: layouts.reading), so a thousand small runs build this SQL once, not a thousand times (building
#: it cost a small source more than half a millisecond); the mapping is held, so its id is
#: never reused while the entry lives.
_PLANS: dict[int, tuple[SourceMapping, _Plan]] = {}
_PLANS_MAX = 256


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
    plan = _plan(mapping, shape)
    for scan, start in zip(plan.scans, _starts(conn, plan), strict=True):
        typed, odd = _first_pass(conn, scan, start)
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


# What _starts gives a table whose rowid cannot be named, or whose first rowid was not found.
_ROWLESS = object()


def _starts(conn: sqlite3.Connection, plan: _Plan) -> list[object]:
    """Per scan its first rowid (None: an empty table), or _ROWLESS."""
    windowed = [scan for scan in plan.scans if scan.start_sql is not None]
    firsts: list[object] = []
    if plan.starts_sql is not None:
        try:
            firsts = list(conn.execute(plan.starts_sql).fetchone())
        except sqlite3.OperationalError:  # a WITHOUT ROWID table: "no such column: _rowid_"
            firsts = [_first_rowid(conn, scan) for scan in windowed]
    found = iter(firsts)
    return [next(found) if scan.start_sql is not None else _ROWLESS for scan in plan.scans]


def _first_rowid(conn: sqlite3.Connection, scan: _Scan) -> object:
    assert scan.start_sql is not None
    try:
        return conn.execute(scan.start_sql).fetchone()[0]
    except sqlite3.OperationalError:
        return _ROWLESS


def _first_pass(conn: sqlite3.Connection, scan: _Scan, rowid: object) -> tuple[bool, list[_Column]]:
    """Whether a stored-type test fires, and the text columns holding a NUL or a byte outside
    ASCII somewhere."""
    if rowid is _ROWLESS or scan.window_sql is None:
        return _rowless(conn, scan)
    odd: set[int] = set()
    typed = False
    # Windows of rowid values, each starting at a rowid that exists: a dense table (every
    # legacy one) is read once, in about rows / 5,000 queries, one window in memory at a time.
    limit = conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, _LIMIT)
    try:
        while isinstance(rowid, int):
            last = min(rowid + _WINDOW - 1, _MAX_ROWID)
            fired, *texts, rowid = conn.execute(scan.window_sql, (rowid, last)).fetchone()
            if isinstance(rowid, int) and rowid <= last:
                # Only a damaged b-tree answers a rowid after ``last`` with one before it; the
                # loop would never end (merge scans beside integrity_check, which names it).
                raise sqlite3.DatabaseError(
                    "database disk image is malformed (rowids out of order)"
                )
            typed = typed or bool(fired)
            for n, text in enumerate(texts):
                if text is not None and (not text.isascii() or b"\0" in text):
                    odd.add(n)
    except sqlite3.DataError:  # "string or blob too big": more than a window may hold
        return _rowless(conn, scan)
    finally:
        conn.setlimit(sqlite3.SQLITE_LIMIT_LENGTH, limit)
    return typed, [scan.text[n] for n in sorted(odd)]


def _rowless(conn: sqlite3.Connection, scan: _Scan) -> tuple[bool, list[_Column]]:
    """The stored-type tests in one pass, every text column to be checked value by value."""
    (typed,) = conn.execute(scan.rowless_types_sql).fetchone()
    return bool(typed), list(scan.text)


def _plan(mapping: SourceMapping, shape: SourceShape) -> _Plan:
    known = _PLANS.get(id(mapping))
    if known is not None and known[0] is mapping:
        return known[1]
    scans = []
    for table, columns in _groups(mapping.tables, mapping.simulation_table):
        if not columns:
            continue
        legacy = shape.table(table)
        names = frozenset(c.name.lower() for c in legacy.columns) if legacy else frozenset()
        scans.append(_scan(table, columns, names))
    starts = [f"({scan.start_sql})" for scan in scans if scan.start_sql is not None]
    plan = _Plan(tuple(scans), f"SELECT {', '.join(starts)}" if starts else None)
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[id(mapping)] = (mapping, plan)
    return plan


def _scan(table: str, columns: list[_Column], names: frozenset[str]) -> _Scan:
    """``names``: every column of the legacy table, lower case (a column may take the name of
    the rowid)."""
    name = quote(table)
    text = tuple(c for c in columns if c.central_affinity == "TEXT")
    suspects = " OR ".join(f"({_suspect(c)})" for c in columns)
    rowid = next((a for a in ("_rowid_", "rowid", "oid") if a not in names), None)
    start = window = None
    if rowid is not None:
        # Aggregates, not a test per value: a test per value and column cost a 20-run source
        # more than reading its text did.
        fired = " OR ".join(f"({_fired(c)})" for c in columns)
        texts = "".join(f", CAST(group_concat({c.raw}, '') AS BLOB)" for c in text)
        start = f"SELECT min({rowid}) FROM {name}"
        window = (
            f"SELECT {fired}{texts}, (SELECT min({rowid}) FROM {name} WHERE {rowid} > ?2) "
            f"FROM {name} AS s WHERE s.{rowid} BETWEEN ?1 AND ?2"
        )
    return _Scan(
        table=table,
        columns=tuple(columns),
        text=text,
        start_sql=start,
        window_sql=window,
        rowless_types_sql=f"SELECT EXISTS (SELECT 1 FROM {name} AS s WHERE {suspects})",
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


def _fired(column: _Column) -> str:
    """:func:`_suspect` over a window, as aggregates: a BLOB sorts above every other value and
    text above every number, so the type of a column's largest value says whether the window
    holds a BLOB (or text) in it; a fraction needs its own test."""
    v = column.raw
    if column.central_affinity == "TEXT":
        return f"typeof(max({v})) = 'blob'"  # its text's bytes: see _first_pass
    kinds = f"typeof(max({v})) IN ('blob', 'text')"
    if column.central_affinity == "INTEGER":
        return f"{kinds} OR max({v} <> CAST({v} AS INTEGER))"  # a real compares as itself
    return kinds


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
