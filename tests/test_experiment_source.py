"""An experiment database as a source: it moves to another target, or joins another, whole."""

from __future__ import annotations

import json
import shutil
import signal
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import URL, text

from consolidate import merge, verify
from consolidate.cli import cli
from consolidate.schema import DATA_TABLES, migrations
from consolidate.schema.targets import central_engine, describe
from consolidate.writer import ExperimentDatabase
from fixtures.make_fixtures import generate
from tests.helpers import LEGACY_FIXTURES, ddl_of, fixture, paused_merge, wait_until_paused
from tests.test_merge_crash import merged_count
from tests.test_writer_support import query, state


def write_run(
    target: str, simulation_id: str, *, experiment: str = "writer", age: float = 1.5
) -> None:
    """A writer-made run (no source file) with fractional average ages."""
    with ExperimentDatabase(target, experiment) as db:
        ctx = db.create_simulation_context(simulation_id, parameters={"seed": 3})
        ctx.log_agent("agent_1", 0, "system", (1.0, 2.0), 10.0, 100.0)
        for step in range(3):
            ctx.log_step(
                step,
                [state("agent_1", step)],
                [("resource_1", 5.0 - step, 1.0, 1.0)],
                {"average_agent_age": age + step / 3},
            )
        db.update_simulation_status(simulation_id, "completed", {"total_steps": 3})


def laptop(folder: Path, name: str, runs: list[Path], writer_runs: tuple[str, ...]) -> Path:
    """An experiment database made by merge (``runs``) and by the writer."""
    folder.mkdir(parents=True, exist_ok=True)
    db = folder / f"{name}.db"
    if runs:
        assert merge([str(r) for r in runs], str(db)).ok
    for sim in writer_runs:
        write_run(str(db), sim)
    return db


def snapshot(target: str) -> dict[str, list[tuple[object, ...]]]:
    """Rows per simulation and table, and the simulations rows' provenance."""
    out = {
        "simulations": query(
            target,
            "SELECT simulation_id, origin, source_sha256, "
            "source_row_counts FROM simulations ORDER BY 1",
        )
    }
    for table in DATA_TABLES:
        out[table] = query(
            target, f"SELECT simulation_id, count(*) FROM {table} GROUP BY 1 ORDER BY 1"
        )
    return out


def test_an_experiment_database_moves_to_each_backend_twice(
    any_target: str, tmp_path: Path
) -> None:
    old = laptop(tmp_path, "laptop", LEGACY_FIXTURES, ("writer_a", "writer_b"))
    before = snapshot(str(old))
    first = merge([str(old)], any_target)
    assert first.ok, [(s.simulation_id, s.reason) for s in first.sources]
    assert first.count("merged") == len(LEGACY_FIXTURES) + 2
    checked = verify(any_target)
    assert checked.ok, [str(m) for m in checked.mismatches]
    against_old = verify(any_target, [str(old)])
    assert against_old.ok, [str(m) for m in against_old.mismatches]
    assert against_old.sources_compared == (str(old.resolve()),)
    second = merge([str(old)], any_target)
    assert second.ok and second.count("skipped") == len(LEGACY_FIXTURES) + 2
    assert snapshot(any_target) == before  # provenance carried over, nothing duplicated
    assert verify(any_target, [str(old)]).ok
    ages = query(
        any_target,
        "SELECT average_agent_age FROM simulation_steps "
        "WHERE simulation_id = 'writer_a' ORDER BY step_number",
    )
    assert [a for (a,) in ages] == pytest.approx([1.5, 1.5 + 1 / 3, 1.5 + 2 / 3])


def test_two_experiment_databases_combine_and_conflicts_follow_the_option(
    tmp_path: Path, runner: CliRunner
) -> None:
    half = len(LEGACY_FIXTURES) // 2
    a = laptop(tmp_path / "a", "a", LEGACY_FIXTURES[:half], ("writer_a", "shared_id"))
    b = laptop(tmp_path / "b", "b", LEGACY_FIXTURES[half:], ("writer_b",))
    write_run(str(b), "shared_id", age=9.25)  # the same id, other rows
    both = tmp_path / "both.db"
    result = runner.invoke(cli, ["merge", str(a), str(b), "-o", str(both)])
    assert result.exit_code == 1
    assert "shared_id already belongs to the writer" in result.stderr
    renamed = merge([str(a), str(b)], str(both), on_conflict="rename")
    assert renamed.ok
    assert [s.simulation_id for s in renamed.sources if s.status == "merged"] == ["shared_id~2"]
    sims = {s for (s,) in query(str(both), "SELECT simulation_id FROM simulations")}
    assert sims >= {"writer_a", "writer_b", "shared_id", "shared_id~2"}
    assert len(sims) == len(LEGACY_FIXTURES) + 4
    experiments = {e for (e,) in query(str(both), "SELECT experiment_id FROM experiments")}
    assert {"a", "b", "writer"} <= experiments
    assert verify(str(both)).ok
    assert verify(str(both), [str(a)]).ok
    again = merge([str(a), str(b)], str(both), on_conflict="skip")
    assert again.ok and again.count("merged") == 0


def test_a_changed_writer_run_is_replaced_only_when_asked(tmp_path: Path) -> None:
    old = laptop(tmp_path / "old", "old", [], ("run",))
    target = tmp_path / "target.db"
    write_run(str(target), "run", age=4.0)
    refused = merge([str(old)], str(target))
    assert [s.status for s in refused.sources] == ["rejected"]
    replaced = merge([str(old)], str(target), replace=True)
    assert [s.status for s in replaced.sources] == ["merged"]
    assert verify(str(target), [str(old)]).ok


def test_an_older_revision_is_read_through_its_names(tmp_path: Path) -> None:
    old = tmp_path / "old.db"
    engine = central_engine(old)
    migrations.upgrade(engine, "0001")
    created = datetime(2026, 11, 27, 4, 39, tzinfo=UTC)
    with engine.begin() as conn:
        conn.execute(
            text("INSERT INTO experiments (experiment_id, name, created_at) VALUES ('e', 'E', :c)"),
            {"c": created.strftime("%Y-%m-%d %H:%M:%S.%f")},
        )
        conn.execute(
            text(
                "INSERT INTO simulations (simulation_id, experiment_id, origin) "
                "VALUES ('s', 'e', 'writer')"
            )
        )
        conn.execute(
            text(
                "INSERT INTO simulation_steps (simulation_id, step_number, average_agent_age) "
                "VALUES ('s', 0, 3), ('s', 1, 3.5)"
            )
        )
    engine.dispose()
    target = tmp_path / "new.db"
    report = merge([str(old)], str(target))
    assert [(s.schema_version, s.status) for s in report.sources] == [("0001", "merged")]
    assert query(str(target), "SELECT name FROM experiments WHERE experiment_id = 'e'") == [("E",)]
    rows = query(str(target), "SELECT average_agent_age FROM simulation_steps ORDER BY 1")
    assert rows == [(3.0,), (3.5,)]
    assert verify(str(target), [str(old)]).ok


def test_inspect_and_dry_run_describe_an_experiment_database(
    tmp_path: Path, runner: CliRunner
) -> None:
    old = laptop(tmp_path, "old", [fixture("f7-slim-actions__v33")], ("writer_a",))
    shown = runner.invoke(cli, ["inspect", str(old)])
    assert shown.exit_code == 0, shown.output
    layout = f"layout: central {migrations.HEAD}   simulation_id: (2 simulations)"
    assert layout in shown.output
    plan = runner.invoke(cli, ["merge", str(old), "-o", str(tmp_path / "new.db"), "--dry-run"])
    assert plan.exit_code == 0, plan.output
    assert plan.output.count("would merge") == 2
    assert not (tmp_path / "new.db").exists()


@pytest.mark.slow
def test_sigkill_while_moving_then_rerun_finishes(tmp_path: Path) -> None:
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    runs = [
        generate(ddl, tmp_path / "runs" / f"sim_{n:02d}.db", seed=n, agents=30, steps=40).path
        for n in range(16)
    ]
    old = laptop(tmp_path, "old", runs, ())
    target = tmp_path / "new.db"
    args = [str(old), "-o", str(target), "-q"]
    pause = tmp_path / "pause"
    # Killed inside the fourth simulation's transaction, its rows written, not committed.
    process = paused_merge(args, pause, at=4, stdout=subprocess.DEVNULL)
    wait_until_paused(process, pause)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    assert merged_count(target) == 3
    command = [sys.executable, "-m", "consolidate", "merge", *args]
    rerun = subprocess.run(command + ["--json"], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    totals = json.loads(rerun.stdout)["totals"]
    assert (totals["merged"], totals["skipped"]) == (13, 3)
    assert verify(str(target), [str(old)]).ok


def test_a_copied_experiment_file_is_not_a_second_experiment(tmp_path: Path) -> None:
    old = laptop(tmp_path, "old", [fixture("f2-raw-pascal__v11")], ("w",))
    copy = tmp_path / "copy" / "old.db"
    copy.parent.mkdir()
    shutil.copy(old, copy)
    target = tmp_path / "new.db"
    report = merge([str(old), str(copy)], str(target))
    assert report.ok and report.count("merged") == 2 and report.count("skipped") == 2


def test_an_experiment_database_named_by_url_is_a_source(tmp_path: Path, postgres_url: URL) -> None:
    old = laptop(tmp_path, "old", LEGACY_FIXTURES[:4], ("writer_a",))
    url = postgres_url.render_as_string(hide_password=False)
    assert merge([str(old)], url).ok
    back = tmp_path / "back.db"
    report = merge([url], str(back))
    assert report.ok and report.count("merged") == 5
    assert {s.path for s in report.sources} == {describe(postgres_url)}
    assert snapshot(str(back)) == snapshot(str(old))
    assert verify(str(back), [url]).ok
    assert verify(str(back), [str(old)]).ok
    assert merge([url], str(back)).count("skipped") == 5


def test_an_experiment_database_without_simulations_is_named(tmp_path: Path) -> None:
    empty = tmp_path / "empty.db"
    ExperimentDatabase(str(empty), "nothing").close()
    (outcome,) = merge([str(empty)], str(tmp_path / "t.db")).sources
    assert (outcome.status, outcome.reason) == ("skipped", "holds no simulations")


def test_moving_experiment_databases_alone_adds_no_empty_experiment(tmp_path: Path) -> None:
    """Each moved simulation keeps its experiment; the target's name makes no new one."""
    old = tmp_path / "laptop.db"
    assert merge([str(p) for p in LEGACY_FIXTURES], str(old), experiment_id="sweep").ok
    moved = tmp_path / "server.db"
    assert merge([str(old)], str(moved)).ok
    experiments = query(str(moved), "SELECT experiment_id FROM experiments")
    assert experiments == [("sweep",)]
