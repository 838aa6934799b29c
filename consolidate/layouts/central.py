"""An experiment database as a source: our own layout, at the current or an older revision.

``consolidate merge experiment.db -o postgresql+psycopg://host/lab`` moves a laptop's work to a
server, ``merge a.db b.db -o both.db`` combines two. Such a file is recognised by its
``alembic_version`` table and a ``simulations`` table with an ``origin`` column; its layout is
``central`` and its schema version the revision it is at.

Each data table maps onto itself through the same :class:`TableMapping` legacy tables use, with a
``where`` that selects one simulation (``:own``, its id in the source) and ``:sim`` for the id it
gets in the target, so both sinks and verify copy and compare it unchanged. The ``simulations``
and ``experiments`` rows are read with their central types (datetimes become datetimes again);
older revisions are read through :data:`RENAMED` (revision 0001 named ``creation_date``
``created_at``). Nothing is recomputed: provenance and recorded counts are carried over.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import closing
from typing import Any

from consolidate.layouts.mapping import (
    ColumnMapping,
    SourceMapping,
    TableMapping,
    affinity,
    central_affinity,
    convert,
    quote,
)
from consolidate.layouts.shapes import SourceShape
from consolidate.schema.columns import CENTRAL_COLUMNS

FAMILY = "central"
#: Central column -> its name at an older revision, per table.
RENAMED = {"experiments": {"creation_date": "created_at"}}
_OWN_TABLES = frozenset({"alembic_version", "experiments", "simulations"})
#: Tables of per-simulation rows (the plain catalog: no SQLAlchemy for ``inspect``).
DATA_TABLES = frozenset(CENTRAL_COLUMNS) - {"experiments", "simulations"}
_MASK = (1 << 64) - 1


def is_central(shape: SourceShape) -> bool:
    """Whether ``shape`` is an experiment database made by consolidate (merge or the writer)."""
    sims = shape.table("simulations")
    return (
        shape.table("alembic_version") is not None
        and shape.table("experiments") is not None
        and sims is not None
        and sims.has("origin")
    )


def revision(conn: sqlite3.Connection) -> str:
    """The schema revision the source is at (``unknown`` when it records none or several)."""
    rows = conn.execute("SELECT version_num FROM alembic_version").fetchall()
    return str(rows[0][0]) if len(rows) == 1 else "unknown"


def map_central(shape: SourceShape) -> SourceMapping:
    """Every data table of an experiment database, one simulation at a time."""
    tables: list[TableMapping] = []
    homeless: list[str] = []
    for legacy in shape.tables:
        if legacy.name in _OWN_TABLES or legacy.name.startswith("sqlite_"):
            continue
        if legacy.name not in DATA_TABLES or not legacy.has("simulation_id"):
            continue  # reported as unknown below
        central = CENTRAL_COLUMNS[legacy.name]
        columns = [ColumnMapping("simulation_id", ":sim", None, "derived")]
        for col in legacy.columns:
            if col.name == "simulation_id":
                continue
            if col.name not in central:
                homeless.append(f"{legacy.name}.{col.name}")
                continue
            expr = f"s.{quote(col.name)}"
            # An older revision's type (bigint average ages) gets the central affinity.
            converted = convert(
                expr, affinity(col.declared_type), central_affinity(legacy.name, col.name)
            )
            how = "converted" if converted != expr else "direct"
            columns.append(ColumnMapping(col.name, converted, col.name, how))
        tables.append(
            TableMapping(legacy.name, legacy.name, tuple(columns), "s.simulation_id = :own")
        )
    unknown = tuple(
        t.name
        for t in shape.tables
        if t.name not in _OWN_TABLES and t.name not in DATA_TABLES and t.name != "sqlite_sequence"
    )
    return SourceMapping(tuple(tables), None, tuple(homeless), unknown)


def _reader(shape: SourceShape, name: str) -> Any:
    """A SELECT of the source's ``name`` with the central types, older names mapped."""
    from sqlalchemy import column, select, table

    from consolidate.schema import metadata

    renamed = RENAMED.get(name, {})
    present = shape.table(name)
    assert present is not None
    columns = []
    for col in metadata.tables[name].columns:
        stored = col.name if present.has(col.name) else renamed.get(col.name)
        if stored is not None and present.has(stored):
            columns.append(column(stored, col.type).label(col.name))
    return select(*columns).select_from(table(name))


def central_rows(
    connect: Any, shape: SourceShape, name: str, order_by: str
) -> list[dict[str, Any]]:
    """Every row of the source's ``simulations`` or ``experiments`` with its central types.

    Args:
        connect: returns a new read-only sqlite3 connection on the source.
    """
    from sqlalchemy import column, create_engine

    engine = create_engine("sqlite+pysqlite://", creator=connect)
    try:
        query = _reader(shape, name).order_by(column(order_by))
        with engine.connect() as conn:
            return [dict(row._mapping) for row in conn.execute(query)]
    finally:
        engine.dispose()


def checksum(rows: Iterable[Any]) -> tuple[int, int]:
    """Row count and an order-independent sum of row hashes (values and their Python types)."""
    import hashlib  # verify's work: `inspect` and `--help` do not load OpenSSL

    count = total = 0
    for row in rows:
        encoded = "\x1f".join(f"{type(v).__name__}:{v!r}" for v in row).encode()
        total = (total + int.from_bytes(hashlib.blake2b(encoded, digest_size=8).digest())) & _MASK
        count += 1
    return count, total


def source_checksums(
    conn: sqlite3.Connection, mapping: SourceMapping, own: str
) -> dict[str, tuple[int, int]]:
    """Per central table, the checksum of one simulation's rows as the mapping reads them."""
    return {
        t.central_table: checksum(conn.execute(t.select_sql(), {"sim": own, "own": own}))
        for t in mapping.tables
    }


def source_counts(conn: sqlite3.Connection, mapping: SourceMapping, own: str) -> dict[str, int]:
    """Rows per central table of one simulation of the source."""
    counts = {}
    for t in mapping.tables:
        (counts[t.central_table],) = conn.execute(t.count_sql(), {"own": own}).fetchone()
    return counts


def own_counts(connect: Any, mapping: SourceMapping, own: str) -> dict[str, int]:
    """:func:`source_counts` on a connection of its own."""
    with closing(connect()) as conn:
        return source_counts(conn, mapping, own)
