"""Upgrading a target that already holds data: every row of every table is carried across.

A target is built at revision 0001, given rows in every table (the values chosen by column type,
the awkward ones included: a fractional age stored by SQLite in the old bigint column), upgraded
to head, and read back column by column, renames followed. Every writing command refuses the old
target first, naming ``consolidate db upgrade``.
"""

from __future__ import annotations

from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from click.testing import CliRunner
from sqlalchemy import MetaData

from consolidate import ExperimentDatabase, merge
from consolidate.cli import cli
from consolidate.errors import SchemaOutOfDate
from consolidate.schema import migrations
from consolidate.schema.targets import central_engine
from tests.conftest import FIXTURES

RENAMED = {("experiments", "created_at"): "creation_date"}
WHEN = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


def value_for(table: str, column: sa.Column[Any], row: int) -> Any:
    if column.name == "simulation_id":
        return f"sim-{row}"
    if column.name == "experiment_id":
        return "exp"
    if column.name == "origin":
        return "merge"
    if isinstance(column.type, sa.DateTime):
        return WHEN
    if isinstance(column.type, sa.Integer):
        return 7 + row
    if isinstance(column.type, sa.Float):
        return 0.1 + row
    return f"{table}.{column.name} ’{row}"  # text, with a character outside ASCII


def naive(value: Any) -> Any:
    """A datetime as naive UTC: SQLite stores DateTime(timezone=True) without its zone."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(UTC).replace(tzinfo=None)
    return value


def fill_at_0001(target: str) -> dict[str, list[dict[str, Any]]]:
    """Rows written into every table of a target at revision 0001, per table."""
    engine = central_engine(target)
    migrations.upgrade(engine, "0001")
    old = MetaData()
    old.reflect(engine)
    written: dict[str, list[dict[str, Any]]] = {}
    with engine.begin() as conn:
        for table in old.sorted_tables:
            if table.name == "alembic_version":
                continue
            rows = [{c.name: value_for(table.name, c, r) for c in table.columns} for r in (0, 1)]
            if table.name == "experiments":
                rows = rows[:1]
            conn.execute(table.insert(), rows)
            written[table.name] = rows
        if conn.dialect.name == "sqlite":  # what a SQLite target merged from real runs holds
            age = "UPDATE simulation_steps SET average_agent_age = 7.741935483870968"
            conn.exec_driver_sql(age)
            for row in written["simulation_steps"]:
                row["average_agent_age"] = 7.741935483870968
    engine.dispose()
    return written


@pytest.mark.parametrize("any_target", ["sqlite", "postgresql"], indirect=True)
def test_upgrade_from_0001_carries_every_row_of_every_table(any_target: str) -> None:
    written = fill_at_0001(any_target)
    assert len(written) == 20  # every table of revision 0001 holds rows
    result = CliRunner().invoke(cli, ["db", "upgrade", any_target])
    assert result.exit_code == 0, result.output
    assert result.stdout.strip().endswith(f"at revision {migrations.HEAD}")

    engine = central_engine(any_target)
    new = MetaData()
    new.reflect(engine)
    with engine.connect() as conn:
        for name, rows in written.items():
            table = new.tables[name]
            order = [table.c[c.name] for c in table.primary_key.columns]
            selected = conn.execute(sa.select(table).order_by(*order))
            found = [{k: naive(v) for k, v in r._mapping.items()} for r in selected]
            expected = [{RENAMED.get((name, k), k): naive(v) for k, v in r.items()} for r in rows]
            assert found == expected, name
        first = conn.exec_driver_sql("SELECT * FROM experiments").keys()
    engine.dispose()
    # AgentFarm's readers unpack SELECT * FROM experiments by position, in this order.
    assert list(first) == [
        "experiment_id",
        "name",
        "description",
        "hypothesis",
        "creation_date",
        "last_updated",
        "status",
        "tags",
        "variables",
        "results_summary",
        "notes",
    ]


def test_every_writing_command_refuses_a_0001_target(tmp_path: Path) -> None:
    target = tmp_path / "old.db"
    fill_at_0001(str(target))
    before = target.read_bytes()
    fix = f"run: consolidate db upgrade {target}"
    merged = CliRunner().invoke(cli, ["merge", str(FIXTURES / "legacy"), "-o", str(target)])
    assert merged.exit_code != 0 and fix in merged.stderr, merged.output
    assert "Traceback" not in merged.output
    with pytest.raises(SchemaOutOfDate, match=fix):
        ExperimentDatabase(target, "exp")
    with pytest.raises(SchemaOutOfDate, match=fix):
        merge([FIXTURES / "legacy"], target)
    assert target.read_bytes() == before
    assert migrations.current(central_engine(target)) == "0001"
