"""Tests for consolidate.layouts.recognition against the legacy DDL corpus and real sample files."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from consolidate.layouts.recognition import KNOWN_TABLES, Layout, recognise
from consolidate.layouts.shapes import SourceShape, read_shape

_SHARED = Path(__file__).resolve().parents[1].parent / "shared" / "legacy"
_DDL_DIR = _SHARED / "ddl"
_SAMPLES_DIR = _SHARED / "samples"

# Side variant df3857f6 has DDL identical to v18, so it can only ever be reported as v18.
_INDISTINGUISHABLE = {"side-df3857f6": "v18"}

_DDL_FILES = sorted(_DDL_DIR.glob("*.sql")) if _DDL_DIR.is_dir() else []
_needs_ddl = pytest.mark.skipif(not _DDL_FILES, reason=f"legacy DDL corpus not found at {_DDL_DIR}")


def _expected(path: Path) -> Layout:
    """Family and version from a name like ``f7-slim-actions__v33-04e234f3.sql``."""
    family, version = path.stem.split("__")
    if version.startswith("v"):
        version = version.split("-")[0]
    return Layout(family, _INDISTINGUISHABLE.get(version, version))


def _load(path: Path, *extra_sql: str) -> SourceShape:
    conn = sqlite3.connect(":memory:")
    try:
        conn.executescript(path.read_text())
        for statement in extra_sql:
            conn.execute(statement)
        return read_shape(conn)
    finally:
        conn.close()


def _agents_table(path: Path) -> str:
    """Stored name of the agents table (PascalCase in the raw-SQL families)."""
    shape = _load(path)
    table = shape.table_ci("agents")
    assert table is not None
    return table.name


_ddl_params = pytest.mark.parametrize(
    "ddl", [pytest.param(p, id=p.stem) for p in _DDL_FILES] or [pytest.param(None, id="no-ddl")]
)


@_needs_ddl
@_ddl_params
def test_ddl_is_recognised_exactly(ddl: Path) -> None:
    assert recognise(_load(ddl)) == _expected(ddl)


@_needs_ddl
@_ddl_params
def test_unknown_extra_table_is_ignored(ddl: Path) -> None:
    shape = _load(ddl, "CREATE TABLE multi_sim_steps (id INTEGER PRIMARY KEY, simulation_id TEXT)")
    assert shape.table("multi_sim_steps") is not None
    assert recognise(shape) == _expected(ddl)


@_needs_ddl
@_ddl_params
def test_extra_agents_column_is_unknown_with_nearest_family(ddl: Path) -> None:
    agents = _agents_table(ddl)
    shape = _load(ddl, f'ALTER TABLE "{agents}" ADD COLUMN favourite_colour TEXT')
    assert recognise(shape) == Layout("unknown", "unknown", _expected(ddl).family)


@_needs_ddl
@_ddl_params
def test_missing_agents_column_is_unknown_with_nearest_family(ddl: Path) -> None:
    agents = _agents_table(ddl)
    shape = _load(ddl, f'ALTER TABLE "{agents}" DROP COLUMN initial_resources')
    assert recognise(shape) == Layout("unknown", "unknown", _expected(ddl).family)


@_needs_ddl
def test_every_ddl_table_is_known() -> None:
    for ddl in _DDL_FILES:
        for table in _load(ddl).tables:
            assert table.name.lower() in KNOWN_TABLES, (ddl.name, table.name)
    assert "multi_sim_steps" not in KNOWN_TABLES


@pytest.mark.parametrize(
    ("name", "version", "family"),
    [
        pytest.param("v31-empty-tables-15a1bb5b.db", "v31", "f6-simid-interactions", id="15a1bb5b"),
        pytest.param("v31-stub-505b4dcd.db", "v31", "f6-simid-interactions", id="505b4dcd"),
        pytest.param("v33-full-run-1329de01.db", "v33", "f7-slim-actions", id="1329de01"),
    ],
)
def test_real_samples(name: str, version: str, family: str) -> None:
    path = _SAMPLES_DIR / name
    if not path.is_file():
        pytest.skip(f"sample {path} not available")
    # immutable=1: read-only and no -wal/-shm side files are created next to the sample.
    conn = sqlite3.connect(path.as_uri() + "?immutable=1", uri=True)
    try:
        shape = read_shape(conn)
    finally:
        conn.close()
    assert recognise(shape) == Layout(family, version)


def test_empty_database_is_unknown_without_nearest_family() -> None:
    conn = sqlite3.connect(":memory:")
    assert recognise(read_shape(conn)) == Layout("unknown", "unknown", None)


def test_only_foreign_tables_is_unknown_without_nearest_family() -> None:
    conn = sqlite3.connect(":memory:")
    conn.execute("CREATE TABLE research (id INTEGER PRIMARY KEY, name TEXT)")
    assert recognise(read_shape(conn)) == Layout("unknown", "unknown", None)


def test_read_shape_details() -> None:
    conn = sqlite3.connect(":memory:")
    odd_sql = '"odd ""name"""'  # a table name with a space and a double quote in it
    conn.executescript(
        f"CREATE TABLE {odd_sql} (b TEXT NOT NULL, a INTEGER, PRIMARY KEY (a, b), UNIQUE (b));"
        f"CREATE INDEX idx_odd ON {odd_sql} (b);"
        "CREATE TABLE t (id INTEGER PRIMARY KEY AUTOINCREMENT, v);"
    )
    shape = read_shape(conn)
    assert [t.name for t in shape.tables] == ['odd "name"', "t"]  # no sqlite_sequence
    odd = shape.table('odd "name"')
    assert odd is not None and shape.table_ci('ODD "NAME"') is odd
    assert shape.table('ODD "NAME"') is None
    assert odd.indexes == ("idx_odd",)  # autoindexes for PK / UNIQUE left out
    assert odd.primary_key == ("a", "b")
    b = odd.column("b")
    assert b is not None and b.not_null and b.declared_type == "TEXT" and b.pk_position == 2
    assert odd.has("a") and not odd.has("A")
    v = shape.tables[1].column("v")
    assert v is not None and v.declared_type == ""
