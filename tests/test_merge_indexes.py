"""Deferred indexes: a merge into a new SQLite target loads without its lookup indexes and builds
them at its end; a merge stopped before then leaves a target the next run completes."""

from __future__ import annotations

import json
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from consolidate import ExperimentDatabase, merge, verify
from consolidate.cli import cli
from consolidate.proof.findings import VerifyReport
from consolidate.schema import indexes, migrations
from consolidate.schema.targets import central_engine
from fixtures.make_fixtures import generate
from tests.helpers import ddl_of, fixture, paused_merge, resume, wait_until_paused

SOURCES = 8
DEFERRABLE = {str(i.name) for i in indexes.deferrable()}
DECLARED = {str(i.name) for i in indexes.declared()}


def build_corpus(folder: Path, n: int = SOURCES, *, first: int = 0) -> None:
    ddls = [ddl_of(fixture(s)) for s in ("f7-slim-actions__v33", "f2-raw-pascal__v11")]
    for k in range(first, first + n):
        generate(ddls[k % 2], folder / f"sim_{k:03d}.db", seed=k, agents=20, steps=20)


def present(target: Path) -> set[str]:
    """Every named index of the target, automatic ones (primary keys) included."""
    with sqlite3.connect(target) as conn:
        return {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='index'")}


def assert_complete(target: Path) -> VerifyReport:
    """Every declared index is there and verify accepts the target (its report)."""
    assert DECLARED <= present(target)
    report = verify(str(target))
    assert report.ok, [str(m) for m in report.mismatches]
    return report


def only_missing_indexes(report: VerifyReport) -> bool:
    """Whether every failed check is the missing-index one (what a hard stop may leave)."""
    return all(m.check == "indexes present" for m in report.mismatches)


def killed_mid_load(runs: Path, target: Path, pause: Path, *, at: int) -> None:
    """``merge RUNS -o TARGET`` killed with SIGKILL inside the ``at``-th source's transaction."""
    process = paused_merge([str(runs), "-o", str(target), "-q"], pause, at=at)
    wait_until_paused(process, pause)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL


def test_a_new_target_loads_without_lookup_indexes_and_ends_with_them(tmp_path: Path) -> None:
    runs, target, pause = tmp_path / "runs", tmp_path / "t.db", tmp_path / "pause"
    build_corpus(runs)
    process = paused_merge([str(runs), "-o", str(target), "-q"], pause, at=3)
    wait_until_paused(process, pause)  # inside the third source's transaction
    during = present(target)
    resume(pause)
    assert process.wait(timeout=120) == 0
    assert not during & DEFERRABLE  # the bulk load maintains none of them
    # The ledger's lookups by content hash and by path, and every primary key, stay throughout.
    assert {"ix_simulations_source_sha256", "ix_simulations_source_path"} <= during
    assert any(name.startswith("sqlite_autoindex_agent_states") for name in during)
    assert_complete(target)
    # A target that holds rows keeps its indexes while the next merge loads into it.
    build_corpus(runs, 3, first=SOURCES)
    (pause / "paused").unlink()
    (pause / "resume").unlink()
    process = paused_merge([str(runs), "-o", str(target), "-q"], pause, at=2)
    wait_until_paused(process, pause)
    during = present(target)
    resume(pause)
    assert process.wait(timeout=120) == 0
    assert DECLARED <= during


def test_kill_9_in_a_deferred_load_then_a_rerun_gives_a_target_verify_accepts(
    tmp_path: Path,
) -> None:
    runs, target = tmp_path / "runs", tmp_path / "t.db"
    build_corpus(runs)
    killed_mid_load(runs, target, tmp_path / "pause", at=4)
    left = verify(str(target))
    assert not left.ok and only_missing_indexes(left), [str(m) for m in left.mismatches]
    assert not DEFERRABLE & present(target)
    rerun = subprocess.run(
        [sys.executable, "-m", "consolidate", "merge", str(runs), "-o", str(target), "--json"],
        capture_output=True,
        text=True,
    )
    assert rerun.returncode == 0, rerun.stderr
    totals = json.loads(rerun.stdout)["totals"]
    assert (totals["skipped"], totals["merged"]) == (3, SOURCES - 3)
    assert_complete(target)


def test_a_rerun_that_merges_nothing_builds_the_missing_indexes(tmp_path: Path) -> None:
    runs, target = tmp_path / "runs", tmp_path / "t.db"
    build_corpus(runs, 2)
    assert merge([str(runs)], str(target)).ok
    with sqlite3.connect(target) as conn:
        for name in sorted(DEFERRABLE):
            conn.execute(f'DROP INDEX "{name}"')
    again = merge([str(runs)], str(target))
    assert again.ok and again.count("skipped") == 2 and again.count("merged") == 0
    assert_complete(target)


def test_verify_names_the_missing_indexes_and_says_how_to_build_them(
    tmp_path: Path, runner: CliRunner
) -> None:
    runs, target = tmp_path / "runs", tmp_path / "t.db"
    build_corpus(runs, 1)
    assert merge([str(runs)], str(target)).ok
    with sqlite3.connect(target) as conn:
        conn.execute("DROP INDEX ix_agent_states_simulation_id_step_number")
        conn.execute("DROP INDEX ix_agent_actions_simulation_id_agent_id")
    result = runner.invoke(cli, ["verify", str(target), "-q"])
    assert result.exit_code == 1
    (finding,) = [line for line in result.stderr.splitlines() if line.startswith("mismatch:")]
    assert "2 missing (ix_agent_actions_simulation_id_agent_id, " in finding
    assert "ix_agent_states_simulation_id_step_number)" in finding
    assert "run the same merge again" in finding and f"consolidate db upgrade {target}" in finding


def test_db_upgrade_builds_the_missing_indexes(tmp_path: Path, runner: CliRunner) -> None:
    runs, target = tmp_path / "runs", tmp_path / "t.db"
    build_corpus(runs, 1)
    killed_mid_load(runs, target, tmp_path / "pause", at=1)
    assert not DEFERRABLE & present(target)
    result = runner.invoke(cli, ["db", "upgrade", str(target)])
    assert result.exit_code == 0, result.output
    assert_complete(target)


def test_a_dry_run_changes_no_index(tmp_path: Path, runner: CliRunner) -> None:
    runs, target = tmp_path / "runs", tmp_path / "t.db"
    build_corpus(runs, 2)
    killed_mid_load(runs, target, tmp_path / "pause", at=1)  # a schema, no rows, no indexes
    result = runner.invoke(cli, ["merge", str(runs), "-o", str(target), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert not DEFERRABLE & present(target)
    runner.invoke(cli, ["db", "upgrade", str(target)])
    assert DECLARED <= present(target)
    result = runner.invoke(cli, ["merge", str(runs), "-o", str(target), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert DECLARED <= present(target)  # an empty target's dry run drops nothing either


def test_the_writer_writes_into_a_target_whose_indexes_were_dropped(tmp_path: Path) -> None:
    runs, target = tmp_path / "runs", tmp_path / "t.db"
    build_corpus(runs, 3)
    killed_mid_load(runs, target, tmp_path / "pause", at=2)
    assert not DEFERRABLE & present(target)
    with ExperimentDatabase(target, "t") as db:
        with db.create_simulation_context("written", {"seed": 1}) as ctx:
            ctx.log_agent("agent_0", 0, "system", (1.0, 2.0), 10.0, 100.0)
            for step in range(5):
                states = [("agent_0", 1.0, 2.0, 10.0, 90.0, 100.0, 0, False, 0.5, step)]
                ctx.log_step(step, states, [("resource_0", 5.0, 0.0, 0.0)], {"total_agents": 1})
                ctx.log_agent_action(step_number=step, agent_id="agent_0", action_type="move")
            ctx.update_agent_death(agent_id="agent_0", death_time=4, cause="starvation")
    report = merge([str(runs)], str(target))
    assert report.ok and report.count("merged") == 2
    checked = assert_complete(target)
    assert "written" in checked.simulations


@pytest.mark.slow
def test_two_merges_into_one_new_target_at_once(tmp_path: Path) -> None:
    runs, target, pause = tmp_path / "runs", tmp_path / "t.db", tmp_path / "pause"
    build_corpus(runs, 12)
    args = [str(runs), "-o", str(target), "--json", "-q"]
    # The first is held inside its second source's transaction, its indexes dropped; the
    # second starts beside it, and once the first goes on both run to their ends at once.
    first = paused_merge(args, pause, at=2, stdout=subprocess.PIPE)
    wait_until_paused(first, pause)
    assert not DEFERRABLE & present(target)
    command = [sys.executable, "-m", "consolidate", "merge", *args]
    second = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    resume(pause)
    reports = []
    for process in (first, second):
        out, _ = process.communicate(timeout=300)
        assert process.returncode == 0
        reports.append(json.loads(out))
    merged = [s["path"] for r in reports for s in r["sources"] if s["status"] == "merged"]
    assert sorted(merged) == sorted(set(merged)) and len(merged) == 12
    assert_complete(target)


def test_migrations_do_not_trip_over_missing_indexes(tmp_path: Path) -> None:
    runs, target = tmp_path / "runs", tmp_path / "t.db"
    build_corpus(runs, 2)
    killed_mid_load(runs, target, tmp_path / "pause", at=2)  # one source in, no indexes
    with sqlite3.connect(target) as conn:  # whole ages, which revision 0001 can store
        conn.execute("UPDATE simulation_steps SET average_agent_age = round(average_agent_age)")
    engine = central_engine(target)
    try:
        migrations.require_current(engine, name=str(target))  # the gate does not look at them
        migrations.downgrade(engine, "0001")
        migrations.upgrade(engine)
        assert DECLARED <= present(target)
        migrations.downgrade(engine, "base")  # revision 0001 drops every index it made
    finally:
        engine.dispose()
    assert not present(target) & DECLARED
