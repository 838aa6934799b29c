"""The SQL that tests a layout's values (``layouts.values`` runs it): per legacy table, the columns
merge writes and the statements that find a value no target can carry, built once per layout.
"""

from __future__ import annotations

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

# Codes per value, worst first; max() over a column gives the worst value it holds.
BLOB, NUL, NOT_A_NUMBER, FRACTION = 4, 3, 2, 1


@dataclass(frozen=True)
class Column:
    """A legacy column merge writes, and the central column (with its affinity) it goes to."""

    table: str  # legacy table, as stored
    column: str  # legacy column
    central: str  # 'central_table.column'
    central_affinity: str  # TEXT, INTEGER or REAL

    @property
    def raw(self) -> str:
        return f"s.{quote(self.column)}"


@dataclass(frozen=True)
class Scan:
    """One legacy table's checks: the columns merge writes and the SQL that tests them."""

    table: str
    columns: tuple[Column, ...]
    text: tuple[Column, ...]  # the columns whose central type is text
    #: The table's first rowid; None: the rowid cannot be named.
    start_sql: str | None
    #: Per window: whether a stored-type test fires, per text column the window's text as one
    #: BLOB, then the next rowid. None: the rowid cannot be named.
    window_sql: str | None
    rowless_types_sql: str  # whether a stored-type test fires, in one pass over the whole table
    values_sql: str  # every checked column of every row, for a small source (_in_python)
    codes_sql: str  # the worst code per column


@dataclass(frozen=True)
class Plan:
    """A layout's scans, and one statement that finds every windowed table's first rowid (a
    statement per table costs a small source more than its rows do)."""

    scans: tuple[Scan, ...]
    starts_sql: str | None  # one value per scan with a window_sql, in order; None: no such scan


#: id(mapping) -> (the mapping, its plan). Sources of one layout share one mapping object (see
#: layouts.reading), so a thousand small runs build this SQL once, not a thousand times (building
#: it cost a small source more than half a millisecond); the mapping is held, so its id is
#: never reused while the entry lives.
_PLANS: dict[int, tuple[SourceMapping, Plan]] = {}
_PLANS_MAX = 256


def plan_for(mapping: SourceMapping, shape: SourceShape) -> Plan:
    """The scans of ``mapping``'s layout (``shape`` is the source it was built from), built on
    its first source and reused for every other."""
    known = _PLANS.get(id(mapping))
    if known is not None and known[0] is mapping:
        return known[1]
    scans = []
    for table, columns in _groups(mapping.tables, mapping.simulation_table):
        if not columns:
            continue
        legacy = shape.table(table)
        names = frozenset(c.name.lower() for c in legacy.columns) if legacy else frozenset()
        scans.append(_table_scan(table, columns, names))
    starts = [f"({scan.start_sql})" for scan in scans if scan.start_sql is not None]
    plan = Plan(tuple(scans), f"SELECT {', '.join(starts)}" if starts else None)
    if len(_PLANS) >= _PLANS_MAX:
        _PLANS.clear()
    _PLANS[id(mapping)] = (mapping, plan)
    return plan


def _table_scan(table: str, columns: list[Column], names: frozenset[str]) -> Scan:
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
    return Scan(
        table=table,
        columns=tuple(columns),
        text=text,
        start_sql=start,
        window_sql=window,
        rowless_types_sql=f"SELECT EXISTS (SELECT 1 FROM {name} AS s WHERE {suspects})",
        values_sql=f"SELECT {', '.join(c.raw for c in columns)} FROM {name} AS s",
        codes_sql=f"SELECT {', '.join(f'max({_code(c)})' for c in columns)} FROM {name} AS s",
    )


def _groups(
    tables: Iterable[TableMapping], simulations: TableShape | None
) -> Iterable[tuple[str, list[Column]]]:
    """Per legacy table, the columns merge writes; all rows, even where a mapping selects one
    simulation of the table (an experiment database is checked once, whole)."""
    for mapping in tables:
        yield (
            mapping.legacy_table,
            [
                Column(
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
                Column(
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
def _suspect(column: Column) -> str:
    v = column.raw
    if column.central_affinity == "TEXT":
        return f"typeof({v}) = 'blob'"  # its text's bytes: see _first_pass
    if column.central_affinity == "INTEGER":
        return (
            f"typeof({v}) IN ('blob', 'text') OR "
            f"(typeof({v}) = 'real' AND {v} <> CAST({v} AS INTEGER))"
        )
    return f"typeof({v}) IN ('blob', 'text')"


def _fired(column: Column) -> str:
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


def _code(column: Column) -> str:
    v = column.raw
    kind = f"typeof({v})"
    if column.central_affinity == "TEXT":
        return (
            f"CASE {kind} WHEN 'blob' THEN {BLOB} WHEN 'text' THEN "
            f"CASE WHEN instr({v}, char(0)) > 0 THEN {NUL} ELSE 0 END ELSE 0 END"
        )
    if column.central_affinity == "INTEGER":
        digits = f"(ltrim({v}, '-') <> '' AND NOT ltrim({v}, '-') GLOB '*[^0-9]*')"
        return (
            f"CASE {kind} WHEN 'blob' THEN {BLOB} "
            f"WHEN 'real' THEN CASE WHEN {v} <> CAST({v} AS INTEGER) THEN {FRACTION} ELSE 0 END "
            f"WHEN 'text' THEN CASE WHEN {digits} THEN 0 ELSE {NOT_A_NUMBER} END ELSE 0 END"
        )
    # A comparison gives numeric affinity to the text side, so it equals its own CAST only
    # when SQLite (and PostgreSQL) read it as a number.
    number = f"coalesce(CAST({v} AS REAL) = {v}, 0)"
    return (
        f"CASE {kind} WHEN 'blob' THEN {BLOB} "
        f"WHEN 'text' THEN CASE WHEN {number} THEN 0 ELSE {NOT_A_NUMBER} END ELSE 0 END"
    )
