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
value by value, to test its UTF-8. A source of at most 1 MB (UTF-8) has the same tests made
on its values in Python instead (:data:`_IN_PYTHON_BYTES`), and the scan only where its text
is not valid UTF-8. The SQL is built once per layout (``layouts.value_scans``). Merge runs the
check in a worker beside the copy; ``inspect`` and ``merge --dry-run`` run it to predict.
"""

from __future__ import annotations

import math
import sqlite3

from consolidate.layouts.mapping import SourceMapping, central_affinity, quote
from consolidate.layouts.shapes import SourceShape
from consolidate.layouts.value_scans import (
    BLOB,
    FRACTION,
    NOT_A_NUMBER,
    NUL,
    Column,
    Plan,
    Scan,
    plan_for,
)

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
#: A source file this small has its values read into Python for the stored-type and text tests
#: (every value is smaller than the file): the scan's statements, prepared again for every
#: file, cost a small run 2.5 ms of its check, its values 0.3 ms. UTF-8 files only: the scan
#: reads another encoding's text as its bytes, and both ways must give the same answer.
_IN_PYTHON_BYTES = 1 << 20


_WHAT = {
    BLOB: "a BLOB value (stored type blob)",
    NUL: "text with a NUL character (stored type text)",
    NOT_A_NUMBER: "text that is not a number (stored type text)",
    FRACTION: "a fractional number (stored type real)",
}


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
    plan = plan_for(mapping, shape)
    small = _small(conn)
    starts = [None] * len(plan.scans) if small else _starts(conn, plan)
    for scan, start in zip(plan.scans, starts, strict=True):
        found = _in_python(conn, scan) if small else None
        if found is None and small:
            start = _first_rowid(conn, scan) if scan.start_sql is not None else _ROWLESS
        typed, odd = found or _first_pass(conn, scan, start)
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


def _starts(conn: sqlite3.Connection, plan: Plan) -> list[object]:
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


def _first_rowid(conn: sqlite3.Connection, scan: Scan) -> object:
    assert scan.start_sql is not None
    try:
        return conn.execute(scan.start_sql).fetchone()[0]
    except sqlite3.OperationalError:
        return _ROWLESS


def _first_pass(conn: sqlite3.Connection, scan: Scan, rowid: object) -> tuple[bool, list[Column]]:
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


def _small(conn: sqlite3.Connection) -> bool:
    pages, size, encoding = conn.execute(
        "SELECT * FROM pragma_page_count(), pragma_page_size(), pragma_encoding()"
    ).fetchone()
    return bool(pages * size <= _IN_PYTHON_BYTES and encoding == "UTF-8")


def _in_python(conn: sqlite3.Connection, scan: Scan) -> tuple[bool, list[Column]] | None:
    """What :func:`_first_pass` would answer, from the values themselves (sqlite3 gives each
    stored type its own Python type), where it leads to the same reason: the text columns
    given are those holding a NUL. None when text is not valid UTF-8 (sqlite3 cannot decode
    it), which only the scan can name."""
    try:
        rows = conn.execute(scan.values_sql).fetchall()
    except sqlite3.OperationalError:  # "Could not decode to UTF-8": the scan finds which
        return None
    typed = False
    odd: list[Column] = []
    for column, values in zip(scan.columns, zip(*rows, strict=True), strict=False):
        kinds = set(map(type, values))
        if column.central_affinity == "TEXT":
            if bytes in kinds:  # its BLOB's code is the reason: what else it holds is moot
                typed = True
                continue
            # Text sqlite3 could decode is valid UTF-8: only a NUL is left to find (its code).
            texts = "".join(filter(None, values) if kinds <= _TEXT else _texts(values))
            if "\0" in texts:
                odd.append(column)
        elif bytes in kinds or str in kinds:
            typed = True
        elif column.central_affinity == "INTEGER" and float in kinds:
            typed = typed or any(_fraction(v) for v in values if type(v) is float)
    return typed, odd


_TEXT = {str, type(None)}


def _texts(values: tuple[object, ...]) -> list[str]:
    return [v for v in values if type(v) is str]


def _fraction(value: float) -> bool:
    """``v <> CAST(v AS INTEGER)`` for a stored real: SQLite's cast truncates and clamps to
    64 bits, and compares the two exactly."""
    if not math.isfinite(value) or not value.is_integer():
        return True
    return not -(2**63) <= int(value) <= 2**63 - 1


def _rowless(conn: sqlite3.Connection, scan: Scan) -> tuple[bool, list[Column]]:
    """The stored-type tests in one pass, every text column to be checked value by value."""
    (typed,) = conn.execute(scan.rowless_types_sql).fetchone()
    return bool(typed), list(scan.text)


def _valid_utf8(conn: sqlite3.Connection, column: Column, source: str) -> bool:
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


def _reason(column: Column, what: str) -> str:
    kind = _PG_TYPE.get(column.central_affinity, column.central_affinity.lower())
    return (
        f"{column.table}.{column.column} holds {what}, which the {kind} column "
        f"{column.central} cannot store on PostgreSQL (rejected on every target)"
    )
