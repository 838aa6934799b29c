"""``verify`` passes on clean merges and names every kind of silent loss."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import URL, create_engine, text

from consolidate.cli import cli
from consolidate.merging.pipeline import merge
from consolidate.proof.verification import verify
from tests.helpers import LEGACY_FIXTURES, fixture

SOURCE = "f7-slim-actions__v33"
OTHER = "f8-consolidated__v40"


@pytest.fixture
def merged(tmp_path: Path) -> tuple[Path, Path]:
    runs = tmp_path / "runs"
    runs.mkdir()
    for stem in (SOURCE, OTHER):
        shutil.copy(fixture(stem), runs / f"{stem}.db")
    target = tmp_path / "experiment.db"
    assert merge([str(runs)], str(target)).ok
    return target, runs


def sim_of(target: Path, stem: str) -> str:
    with sqlite3.connect(target) as conn:
        return str(
            conn.execute(
                "SELECT simulation_id FROM simulations WHERE source_path LIKE ?", (f"%{stem}.db",)
            ).fetchone()[0]
        )


def damage(target: Path, sql: str, *params: object) -> None:
    with sqlite3.connect(target) as conn:
        conn.execute("PRAGMA foreign_keys = OFF")
        cursor = conn.execute(sql, params)
        assert cursor.rowcount != 0, sql


def test_clean_merge_of_every_layout_verifies(tmp_path: Path, runner: CliRunner) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for path in LEGACY_FIXTURES:
        shutil.copy(path, runs / path.name)
    target = tmp_path / "experiment.db"
    assert merge([str(runs)], str(target)).ok
    result = runner.invoke(cli, ["verify", str(target), "--json"])
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    assert report["ok"] and report["mismatches"] == []
    assert len(report["sources_compared"]) == len(LEGACY_FIXTURES)
    assert report["rows_compared"] > 0
    with_sources = runner.invoke(cli, ["verify", str(target), str(runs)])
    assert with_sources.exit_code == 0, with_sources.output
    assert with_sources.stdout.rstrip().endswith("OK")


DAMAGES: dict[str, tuple[Callable[[str, str], tuple[str, tuple[object, ...]]], str, str]] = {
    "deleted row": (
        lambda sim, _o: (
            "DELETE FROM agent_actions WHERE simulation_id = ? AND action_id = 2",
            (sim,),
        ),
        "agent_actions",
        "rows vs recorded count",
    ),
    "changed number": (
        lambda sim, _o: (
            "UPDATE agent_states SET current_health = current_health + 1e-9 "
            "WHERE simulation_id = ? AND rowid = (SELECT min(rowid) FROM "
            "agent_states WHERE simulation_id = ?)",
            (sim, sim),
        ),
        "agent_states",
        "row contents",
    ),
    "one character of JSON": (
        lambda sim, _o: (
            "UPDATE simulation_config SET config_data = "
            "replace(config_data, '\"', '''') WHERE simulation_id = ?",
            (sim,),
        ),
        "simulation_config",
        "row contents",
    ),
    "row moved to another simulation": (
        lambda sim, other: (
            "UPDATE health_incidents SET simulation_id = ?, incident_id = 1000 "
            "WHERE simulation_id = ? AND incident_id = 1",
            (other, sim),
        ),
        "health_incidents",
        "rows vs recorded count",
    ),
}


@pytest.mark.parametrize("kind", sorted(DAMAGES), ids=str)
def test_damage_is_caught_and_named(merged: tuple[Path, Path], kind: str) -> None:
    target, _runs = merged
    sim, other = sim_of(target, SOURCE), sim_of(target, OTHER)
    make, table, check = DAMAGES[kind]
    sql, params = make(sim, other)
    damage(target, sql, *params)
    report = verify(str(target))
    assert not report.ok
    named = [m for m in report.mismatches if m.simulation_id == sim and m.table == table]
    assert any(m.check == check for m in named), report.mismatches
    assert report.cells[(sim, table)] is False
    # a line about a source's rows names the source, then where in the target
    assert all(str(m).startswith(f"{m.source}: {sim}/{table}") for m in named if m.source)
    assert all(str(m).startswith(f"{sim}/{table}") for m in named if not m.source)


def test_one_character_in_json_is_caught_with_recorded_counts_intact(
    merged: tuple[Path, Path],
) -> None:
    target, _ = merged
    sim = sim_of(target, SOURCE)
    damage(
        target,
        "UPDATE agent_actions SET details = substr(details, 1, length(details) - 2)"
        " || 'X' || substr(details, -1) WHERE simulation_id = ? AND details IS NOT NULL "
        "AND action_id = (SELECT min(action_id) FROM agent_actions WHERE simulation_id = ? "
        "AND details IS NOT NULL)",
        sim,
        sim,
    )
    (mismatch,) = verify(str(target)).mismatches
    assert (mismatch.simulation_id, mismatch.table, mismatch.check) == (
        sim,
        "agent_actions",
        "row contents",
    )
    assert "1 source rows missing or changed, 1 target rows not in the source" in str(mismatch)


def test_deleted_simulation_row_is_caught(merged: tuple[Path, Path], runner: CliRunner) -> None:
    target, runs = merged
    sim = sim_of(target, SOURCE)
    damage(target, "DELETE FROM simulations WHERE simulation_id = ?", sim)
    result = runner.invoke(cli, ["verify", str(target), str(runs)])
    assert result.exit_code == 1
    assert "rows whose simulation_id is not in simulations" in result.stderr
    assert f"{runs / SOURCE}.db: source merged: expected in the target, found absent" in (
        result.stderr
    )


def test_missing_source_is_reported_not_fatal(merged: tuple[Path, Path]) -> None:
    target, runs = merged
    (runs / f"{SOURCE}.db").unlink()
    report = verify(str(target))
    assert report.ok
    assert any("no longer exists" in n for n in report.notes)


def test_recorded_counts_catch_loss_without_sources(merged: tuple[Path, Path]) -> None:
    target, runs = merged
    shutil.rmtree(runs)
    sim = sim_of(target, SOURCE)
    damage(
        target,
        "DELETE FROM agents WHERE simulation_id = ? AND rowid = "
        "(SELECT max(rowid) FROM agents WHERE simulation_id = ?)",
        sim,
        sim,
    )
    (mismatch,) = verify(str(target)).mismatches
    assert (mismatch.table, mismatch.check) == ("agents", "rows vs recorded count")


def test_missing_provenance_is_caught(merged: tuple[Path, Path]) -> None:
    target, _ = merged
    damage(
        target,
        "UPDATE simulations SET source_row_counts = NULL WHERE simulation_id = ?",
        sim_of(target, OTHER),
    )
    assert any(m.check == "provenance" for m in verify(str(target)).mismatches)


def test_changed_source_is_named(merged: tuple[Path, Path]) -> None:
    target, runs = merged
    with sqlite3.connect(runs / f"{OTHER}.db") as conn:
        conn.execute("DELETE FROM agent_actions WHERE action_id = 1")
    assert [m.check for m in verify(str(target)).mismatches] == ["source sha256"]


def test_schema_not_at_head_fails(merged: tuple[Path, Path], runner: CliRunner) -> None:
    target, _ = merged
    damage(target, "UPDATE alembic_version SET version_num = '0000'")
    result = runner.invoke(cli, ["verify", str(target)])
    assert result.exit_code == 1
    assert "schema revision" in result.stderr


def test_missing_target_is_one_line_error(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(cli, ["verify", str(tmp_path / "none.db")])
    assert result.exit_code == 2  # a name that names nothing: a usage error
    assert result.stderr.count("\n") == 1 and "no such experiment database" in result.stderr


def test_missing_index_is_caught(merged: tuple[Path, Path]) -> None:
    target, _ = merged
    damage(target, "DROP INDEX ix_agent_states_simulation_id_step_number")
    (mismatch,) = verify(str(target)).mismatches
    assert (mismatch.table, mismatch.check) == ("agent_states", "indexes present")


F1 = "f1-raw-stepid__v02"  # no legacy simulations table: its path gives its id
F3 = "f3-orm-intids__v20"  # a legacy simulations table with no row
UNFED = "values in columns the source has no data for"


@pytest.fixture
def merged_all(tmp_path: Path) -> Path:
    runs = tmp_path / "runs"
    runs.mkdir()
    for path in LEGACY_FIXTURES:
        shutil.copy(path, runs / path.name)
    target = tmp_path / "x.db"
    assert merge([str(runs)], str(target)).ok
    assert verify(str(target)).ok
    return target


def test_values_in_columns_the_layout_does_not_feed_are_caught(merged_all: Path) -> None:
    # f1's agents have no genome_id or generation and its steps no births: merge wrote NULL.
    damage(
        merged_all,
        "UPDATE agents SET genome_id = 'INJECTED', generation = 99 WHERE simulation_id = ?",
        F1,
    )
    damage(merged_all, "UPDATE simulation_steps SET births = 12345 WHERE simulation_id = ?", F1)
    report = verify(str(merged_all))
    named = {(m.simulation_id, m.table, m.check, m.expected, m.found) for m in report.mismatches}
    assert named == {(F1, "agents", UNFED, 0, 4), (F1, "simulation_steps", UNFED, 0, 3)}
    assert report.cells[(F1, "agents")] is False


@pytest.mark.parametrize(
    ("stem", "column", "value"),
    [
        ("f7-slim-actions__v33", "iteration_number", 7),  # a column its layout lacks
        (F1, "status", "x"),  # no legacy simulations table at all
        (F3, "status", "x"),  # a legacy simulations table with no row
        (F3, "legacy_simulation_id", "x"),
    ],
    ids=str,
)
def test_values_the_source_never_gave_the_simulations_row_are_caught(
    merged_all: Path, stem: str, column: str, value: object
) -> None:
    sim = sim_of(merged_all, stem)
    damage(merged_all, f"UPDATE simulations SET {column} = ? WHERE simulation_id = ?", value, sim)
    (mismatch,) = verify(str(merged_all)).mismatches
    assert (mismatch.simulation_id, mismatch.table, mismatch.check) == (
        sim,
        "simulations",
        f"simulations.{column}",
    )
    assert (mismatch.expected, mismatch.found) == (None, value)


def test_target_inside_the_scanned_directory_is_not_a_source(
    tmp_path: Path, runner: CliRunner
) -> None:
    runs = tmp_path / "runs"
    (runs / "out").mkdir(parents=True)
    for stem in (SOURCE, OTHER):
        shutil.copy(fixture(stem), runs / f"{stem}.db")
    target = runs / "out" / "exp.db"
    assert merge([str(runs)], str(target)).ok
    report = verify(str(target), [str(runs)])
    assert report.ok, report.mismatches
    assert len(report.sources_compared) == 2
    result = runner.invoke(cli, ["verify", str(target), str(runs)])
    assert result.exit_code == 0, result.output


def test_postgres_catches_values_in_columns_the_layout_does_not_feed(postgres_url: URL) -> None:
    target = postgres_url.render_as_string(hide_password=False)
    assert merge([str(fixture(F1)), str(fixture(SOURCE))], target).ok
    assert verify(target).ok
    engine = create_engine(postgres_url)
    try:
        with engine.begin() as conn:
            conn.execute(
                text("UPDATE simulation_steps SET births = 12345 WHERE simulation_id = :sim"),
                {"sim": F1},
            )
            conn.execute(
                text("UPDATE simulations SET iteration_number = 7 WHERE simulation_id <> :sim"),
                {"sim": F1},
            )
            sim = conn.execute(
                text("SELECT simulation_id FROM simulations WHERE simulation_id <> :sim"),
                {"sim": F1},
            ).scalar_one()
    finally:
        engine.dispose()
    named = {(m.simulation_id, m.table, m.check) for m in verify(target).mismatches}
    assert named == {
        (F1, "simulation_steps", UNFED),
        (sim, "simulations", "simulations.iteration_number"),
    }
