"""A new SQLite target gets the DDL the revisions produce at head, without running them: it must
be exactly their schema, and Alembic must treat such a target as its own."""

from __future__ import annotations

from pathlib import Path

from alembic import command
from click.testing import CliRunner

from consolidate.cli import cli
from consolidate.schema import migrations
from consolidate.schema.targets import central_engine
from tests.fresh_schema import GENERATED, catalog, migrated_catalog, module_text


def test_the_generated_schema_is_the_revisions_at_head() -> None:
    assert GENERATED.read_text() == module_text(), (
        "consolidate/schema/sqlite_head.py is out of date: run .venv/bin/python -m "
        "tests.fresh_schema"
    )


def gate_made(path: Path) -> Path:
    """A new target made the way every writing command makes one."""
    engine = central_engine(str(path))
    try:
        migrations.require_current(engine, name=str(path), create=True)
    finally:
        engine.dispose()
    return path


def test_a_new_target_holds_exactly_what_the_revisions_build(tmp_path: Path) -> None:
    made = gate_made(tmp_path / "new.db")
    assert catalog(made) == migrated_catalog()
    engine = central_engine(str(made))
    try:
        assert migrations.current(engine) == migrations.head()
        with engine.begin() as conn:
            command.check(migrations.alembic_config(conn))  # tables match: no autogenerate diff
    finally:
        engine.dispose()


def test_alembic_downgrades_and_upgrades_such_a_target(tmp_path: Path, runner: CliRunner) -> None:
    made = gate_made(tmp_path / "new.db")
    engine = central_engine(str(made))
    try:
        migrations.downgrade(engine, "base")
        assert migrations.current(engine) is None
    finally:
        engine.dispose()
    up = runner.invoke(cli, ["db", "upgrade", str(made)])
    assert up.exit_code == 0, up.output
    assert catalog(made) == migrated_catalog()
