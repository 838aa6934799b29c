"""Comparing one source's tables with the target's rows for its simulation.

Both strategies read the source through the merge mapping, so they compare what the target
should hold with what it holds:

- SQLite target: the source is attached and each table is compared in both directions inside
  the engine (``EXCEPT``); exact, and as fast as the copy.
- PostgreSQL target: the two databases cannot meet in one query, so each side is streamed and
  reduced to an order-independent checksum (row count and the sum, modulo 2**64, of a 64-bit
  BLAKE2 hash of each row's values with their types).

Either way only the columns the source's layout feeds can be compared with it; every other
column of the central table (an older layout has no ``genome_id``, no ``births``) must be NULL
in that simulation's rows, since merge wrote nothing there. Both strategies count the rows where
one is not, so a value that appeared in such a column is caught too.
"""

from __future__ import annotations

from contextlib import closing
from dataclasses import dataclass

from sqlalchemy import Connection, text

from consolidate.layouts.central import checksum
from consolidate.layouts.mapping import TableMapping, quote
from consolidate.layouts.reading import OpenSource
from consolidate.schema import metadata
from consolidate.sinks import sqlite as sqlite_sink


@dataclass(frozen=True)
class TableComparison:
    """One table: rows on each side, and rows found on one side only (or a checksum verdict).

    ``unfed_rows`` counts the simulation's target rows holding a value in a central column the
    source's layout does not feed (see the module doc); it must be 0, and is reported on its own
    rather than folded into :attr:`identical`, so the two failures read differently.
    """

    table: str
    source_rows: int
    target_rows: int
    source_only: int
    target_only: int
    checksum_match: bool
    unfed_rows: int = 0

    @property
    def identical(self) -> bool:
        return self.checksum_match and self.source_only == 0 and self.target_only == 0

    def describe(self) -> str:
        if self.source_only or self.target_only:
            return (
                f"{self.source_only} source rows missing or changed, "
                f"{self.target_only} target rows not in the source"
            )
        return "the row checksums differ"


def compare_tables(
    conn: Connection, opened: OpenSource, simulation_id: str, own_id: str
) -> list[TableComparison]:
    """Compare every mapped table of ``opened`` with the target's rows of ``simulation_id``."""
    if conn.dialect.name == "sqlite":
        with sqlite_sink.session(conn, opened):
            return [_by_except(conn, m, simulation_id, own_id) for m in opened.mapping.tables]
    return [_by_checksum(conn, opened, m, simulation_id, own_id) for m in opened.mapping.tables]


def _by_except(conn: Connection, mapping: TableMapping, sim: str, own: str) -> TableComparison:
    raw = sqlite_sink.driver(conn)
    params = {"sim": sim, "own": own}
    legacy = mapping.select_sql(sqlite_sink.ALIAS)
    central = _central_select(mapping, "main.")
    (source_rows,) = raw.execute(mapping.count_sql(sqlite_sink.ALIAS), params).fetchone()
    target_rows, unfed = raw.execute(_target_counts_sql(mapping, "main."), params).fetchone()
    (lost,) = raw.execute(f"SELECT count(*) FROM ({legacy} EXCEPT {central})", params).fetchone()
    extra = 0
    # The target's rows are unique (its primary key), and so were the source's mapped rows when
    # they merged; with equal counts and nothing lost, the two sets are equal, so the reverse
    # EXCEPT is needed only to describe a difference.
    if lost or source_rows != target_rows:
        sql = f"SELECT count(*) FROM ({central} EXCEPT {legacy})"
        (extra,) = raw.execute(sql, params).fetchone()
    return TableComparison(
        mapping.central_table, source_rows, target_rows, lost, extra, True, unfed
    )


def _by_checksum(
    conn: Connection, opened: OpenSource, mapping: TableMapping, sim: str, own: str
) -> TableComparison:
    params = {"sim": sim, "own": own}
    with closing(opened.connect()) as source:
        source_rows, source_sum = checksum(source.execute(mapping.select_sql(), params))
    result = conn.execution_options(yield_per=5_000).execute(
        text(_central_select(mapping, "")), {"sim": sim}
    )
    target_rows, target_sum = checksum(result)
    same = source_rows == target_rows and source_sum == target_sum
    (_, unfed) = conn.execute(text(_target_counts_sql(mapping, "")), {"sim": sim}).one()
    return TableComparison(mapping.central_table, source_rows, target_rows, 0, 0, same, unfed)


def _central_select(mapping: TableMapping, prefix: str) -> str:
    columns = ", ".join(quote(c) for c in mapping.central_columns)
    return (
        f"SELECT {columns} FROM {prefix}{quote(mapping.central_table)} WHERE simulation_id = :sim"
    )


def _target_counts_sql(mapping: TableMapping, prefix: str) -> str:
    """The simulation's target rows, and how many hold a value in a column the source lacks.

    One scan gives both; ``sum`` over no rows is NULL, hence the ``coalesce``.
    """
    unfed = _unfed_columns(mapping)
    any_value = " OR ".join(f"{quote(c)} IS NOT NULL" for c in unfed) or "1 = 0"
    return (
        f"SELECT count(*), coalesce(sum(CASE WHEN {any_value} THEN 1 ELSE 0 END), 0) "
        f"FROM {prefix}{quote(mapping.central_table)} WHERE simulation_id = :sim"
    )


def _unfed_columns(mapping: TableMapping) -> tuple[str, ...]:
    """The central table's columns that ``mapping`` leaves unwritten (``simulation_id`` aside)."""
    fed = {*mapping.central_columns, "simulation_id"}
    return tuple(
        c.name for c in metadata.tables[mapping.central_table].columns if c.name not in fed
    )
