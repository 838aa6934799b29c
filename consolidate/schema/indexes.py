"""The indexes the schema declares: which a target lacks, dropping them, building them again.

The tables (``metadata``) are the one list: the names and columns here are those of the
``Index`` objects, so a target built by the migrations and one whose indexes were rebuilt here
carry the same indexes (``tests/test_migrations.py`` keeps the tables and the migrations equal).
"""

from __future__ import annotations

from sqlalchemy import Connection, Index, inspect
from sqlalchemy.schema import CreateIndex, DropIndex

from consolidate.schema import DATA_TABLES, metadata


def declared() -> list[Index]:
    """Every index the schema declares, table by table in a stable order."""
    return [
        index
        for table in metadata.sorted_tables
        for index in sorted(table.indexes, key=lambda i: str(i.name))
    ]


def deferrable() -> list[Index]:
    """The indexes a bulk load may build after the rows are in: the non-unique ones of the data
    tables. Unique indexes keep rows apart, and ``simulations``' two serve the ledger's lookups
    of a source by its content hash and by its path, once per source: those always stay."""
    data = set(DATA_TABLES)
    return [i for i in declared() if i.table is not None and i.table.name in data and not i.unique]


def missing(conn: Connection) -> list[Index]:
    """The declared indexes the target does not have (by name), in :func:`declared` order."""
    present: set[tuple[str, str]]
    if conn.dialect.name == "sqlite":
        # One read of the catalog: the inspector reads it once per table, and every merge asks
        # twice (4-6 ms, a merge of one small run's 2%).
        listed = conn.exec_driver_sql(
            "SELECT tbl_name, name FROM main.sqlite_master WHERE type = 'index'"
        )
        present = {(str(table), str(name)) for table, name in listed}
    else:
        found = inspect(conn)
        present = {(t, str(ix["name"])) for t in metadata.tables for ix in found.get_indexes(t)}
    return [i for i in declared() if i.table is not None and (i.table.name, i.name) not in present]


def drop(conn: Connection, indexes: list[Index]) -> None:
    """Drop ``indexes`` where they exist, inside the caller's transaction."""
    for index in indexes:
        conn.execute(DropIndex(index, if_exists=True))


def build(conn: Connection, indexes: list[Index]) -> None:
    """Create ``indexes`` where they do not exist yet, inside the caller's transaction."""
    for index in indexes:
        conn.execute(CreateIndex(index, if_not_exists=True))
