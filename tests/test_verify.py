"""``verify`` passes on clean merges and names every kind of silent loss."""

from __future__ import annotations

import json
import shutil
import sqlite3
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

from consolidate.cli import cli
from consolidate.merging import merge
from consolidate.verification import verify
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
    assert all(str(m).startswith(f"{m.simulation_id}/{m.table}") for m in named)


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
    assert f"absent: {runs / SOURCE}.db" in result.stderr


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
    assert result.exit_code == 1
    assert result.stderr.count("\n") == 1 and "no such experiment database" in result.stderr


def test_missing_index_is_caught(merged: tuple[Path, Path]) -> None:
    target, _ = merged
    damage(target, "DROP INDEX ix_agent_states_simulation_id_step_number")
    (mismatch,) = verify(str(target)).mismatches
    assert (mismatch.table, mismatch.check) == ("agent_states", "index present")
