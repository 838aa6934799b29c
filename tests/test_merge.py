"""``merge`` into SQLite: every row of every good file, atomically, once."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from consolidate.cli import cli
from consolidate.layouts.inspection import inspect
from consolidate.merging.pipeline import merge
from fixtures.make_fixtures import TRICKY_TEXTS, generate
from tests.helpers import BROKEN, LEGACY_FIXTURES, ddl_of, fixture, snapshot, table_rows


def central_counts(target: Path, simulation_id: str) -> dict[str, int]:
    with sqlite3.connect(target) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type='table' AND name NOT IN "
                "('alembic_version', 'experiments', 'simulations') AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {
            t: conn.execute(
                f'SELECT count(*) FROM "{t}" WHERE simulation_id = ?', (simulation_id,)
            ).fetchone()[0]
            for t in tables
        }


def copy_fixtures(folder: Path, *stems: str) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in LEGACY_FIXTURES:
        if not stems or path.stem in stems:
            shutil.copy(path, folder / path.name)
    return folder


def test_every_committed_layout_lands_whole(tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs")
    target = tmp_path / "experiment.db"
    report = merge([str(runs)], str(target))
    assert report.ok and report.count("merged") == len(LEGACY_FIXTURES)
    for outcome in report.sources:
        assert outcome.simulation_id is not None
        legacy = table_rows(Path(outcome.path))
        written = central_counts(target, outcome.simulation_id)
        # every legacy data table's rows are all there (names differ: PascalCase -> snake_case)
        assert sum(written.values()) == sum(
            n for name, n in legacy.items() if name.lower() != "simulations"
        ), outcome.path
        assert outcome.rows == {t: n for t, n in written.items() if t in outcome.rows}


def test_provenance_is_recorded_with_the_rows(tmp_path: Path) -> None:
    source = fixture("f7-slim-actions__v33")
    target = tmp_path / "exp.db"
    report = merge([str(source)], str(target), experiment_id="exp-1")
    (outcome,) = report.sources
    with sqlite3.connect(target) as conn:
        row = conn.execute(
            "SELECT experiment_id, origin, source_path, source_sha256, source_family, "
            "source_schema_version, source_row_counts, merged_at, legacy_simulation_id, status "
            "FROM simulations"
        ).fetchone()
    from tests.helpers import sha256

    assert row[:6] == (
        "exp-1",
        "merge",
        str(source.resolve()),
        sha256(source),
        "f7-slim-actions",
        "v33",
    )
    assert json.loads(row[6]) == outcome.rows
    assert row[7] is not None and row[8] == outcome.simulation_id and row[9] == "running"


def test_second_run_changes_nothing(tmp_path: Path, runner: CliRunner) -> None:
    runs = copy_fixtures(tmp_path / "runs")
    target = tmp_path / "experiment.db"
    first = runner.invoke(cli, ["merge", str(runs), "-o", str(target), "--quiet"])
    assert first.exit_code == 0, first.output
    before = table_rows(target)
    second = runner.invoke(cli, ["merge", str(runs), "-o", str(target), "--json"])
    assert second.exit_code == 0, second.output
    totals = json.loads(second.stdout)["totals"]
    assert totals["merged"] == 0 and totals["skipped"] == len(LEGACY_FIXTURES)
    assert table_rows(target) == before


def test_broken_sources_are_rejected_and_the_rest_merge(tmp_path: Path, runner: CliRunner) -> None:
    runs = copy_fixtures(tmp_path / "runs", "f8-consolidated__v40", "f1-raw-stepid__v02")
    for broken in BROKEN.iterdir():
        shutil.copy(broken, runs / broken.name)
    target = tmp_path / "experiment.db"
    result = runner.invoke(cli, ["merge", str(runs), "-o", str(target), "--json"])
    assert result.exit_code == 1
    report = json.loads(result.stdout)
    statuses = {Path(s["path"]).name: s["status"] for s in report["sources"]}
    assert statuses.pop("f8-consolidated__v40.db") == "merged"
    assert statuses.pop("f1-raw-stepid__v02.db") == "merged"
    assert set(statuses.values()) == {"rejected"}
    for line in [ln for ln in result.stderr.splitlines() if ln.startswith("rejected:")]:
        assert str(runs) in line
    assert result.stderr.strip().endswith("sources rejected")
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM simulations").fetchone()[0] == 2


def test_sources_stay_byte_identical_and_alone(tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs")
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    generate(ddl, runs / "wal_pending.db", seed=11, pending_wal=True)
    generate(ddl, runs / "wal_clean.db", seed=12, wal=True)
    before = snapshot(runs)
    assert "wal_pending.db-wal" in before
    report = merge([str(runs)], str(tmp_path / "experiment.db"))
    assert report.ok
    assert snapshot(runs) == before  # no file changed, none created (-wal, -shm)


def test_pending_wal_rows_are_merged(tmp_path: Path) -> None:
    run = generate(
        ddl_of(fixture("f7-slim-actions__v33")), tmp_path / "w.db", seed=2, pending_wal=True
    )
    target = tmp_path / "experiment.db"
    merge([str(run.path)], str(target))
    assert run.simulation_id is not None
    written = central_counts(target, run.simulation_id)
    assert written["agent_states"] == run.rows["agent_states"]
    assert written["simulation_steps"] == run.rows["simulation_steps"]


def test_hostile_text_is_carried_verbatim_and_never_executed(tmp_path: Path) -> None:
    run = generate(
        ddl_of(fixture("f7-slim-actions__v33")), tmp_path / "t'; DROP.db", seed=4, tricky_text=True
    )
    target = tmp_path / "experiment.db"
    (nul,) = merge([str(run.path)], str(target)).sources
    # One rule for every target: PostgreSQL cannot store a NUL, so SQLite does not take it either.
    assert nul.status == "rejected" and "text with a NUL character" in (nul.reason or "")
    without_nul = tmp_path / "x'); DROP TABLE agents; --.db"
    shutil.copy(run.path, without_nul)
    with closing(sqlite3.connect(without_nul)) as conn, conn:
        for (table,) in conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'"):
            for column in [c[1] for c in conn.execute(f'PRAGMA table_info("{table}")')]:
                nuls = conn.execute(
                    f'SELECT rowid, "{column}" FROM "{table}" WHERE instr("{column}", char(0))'
                ).fetchall()
                for rowid, value in nuls:
                    fixed = value.replace("\x00", "0")
                    conn.execute(
                        f'UPDATE "{table}" SET "{column}" = ? WHERE rowid = ?', (fixed, rowid)
                    )
    report = merge([str(without_nul)], str(target))
    assert report.ok, report.sources
    with sqlite3.connect(without_nul) as src, sqlite3.connect(target) as dst:
        legacy = sorted(src.execute("SELECT agent_id, details FROM agent_actions").fetchall())
        central = sorted(dst.execute("SELECT agent_id, details FROM agent_actions").fetchall())
        agents = {r[0] for r in dst.execute("SELECT agent_id FROM agents")}
    assert legacy == central
    texts = {d for _, d in central if d}
    assert any(t in texts for t in TRICKY_TEXTS)
    assert any("'" in a for a in agents)


def test_nested_sources_get_path_ids(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    for n in (7, 8):
        (runs / f"iteration_{n}").mkdir(parents=True)
        shutil.copy(fixture("f3-orm-intids__v20"), runs / f"iteration_{n}" / "simulation.db")
    report = merge([str(runs)], str(tmp_path / "experiment.db"))
    ids = sorted(s.simulation_id or "" for s in report.sources)
    # identical bytes: the second copy is recognised as already merged, never duplicated
    assert ids == ["iteration_7/simulation", "iteration_8/simulation"]
    assert [s.status for s in report.sources] == ["merged", "skipped"]


def test_two_files_claiming_one_simulation_id(tmp_path: Path, runner: CliRunner) -> None:
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    a = generate(ddl, tmp_path / "a" / "run.db", seed=1, simulation_id="sim_same")
    b = generate(ddl, tmp_path / "b" / "run.db", seed=2, simulation_id="sim_same")
    target = tmp_path / "experiment.db"
    assert merge([str(a.path)], str(target)).ok
    result = runner.invoke(cli, ["merge", str(b.path), "-o", str(target), "--json"])
    assert result.exit_code == 1
    (rejected,) = json.loads(result.stdout)["sources"]
    assert rejected["status"] == "rejected" and "already belongs to" in rejected["reason"]
    skipped = merge([str(b.path)], str(target), on_conflict="skip")
    assert skipped.sources[0].status == "skipped"
    renamed = merge([str(b.path)], str(target), on_conflict="rename")
    assert renamed.sources[0].simulation_id == "sim_same~2"
    assert central_counts(target, "sim_same~2") == central_counts(target, "sim_same")


def test_changed_source_is_refused_unless_replace(tmp_path: Path) -> None:
    source = tmp_path / "run.db"
    shutil.copy(fixture("f8-consolidated__v40"), source)
    target = tmp_path / "experiment.db"
    (first,) = merge([str(source)], str(target)).sources
    with sqlite3.connect(source) as conn:
        conn.execute("DELETE FROM agent_actions WHERE action_id = 1")
    (refused,) = merge([str(source)], str(target)).sources
    assert refused.status == "rejected" and "--replace" in (refused.reason or "")
    (replaced,) = merge([str(source)], str(target), replace=True).sources
    assert replaced.status == "merged"
    assert replaced.rows["agent_actions"] == first.rows["agent_actions"] - 1
    assert central_counts(target, first.simulation_id or "")["agent_actions"] == (
        first.rows["agent_actions"] - 1
    )


def test_rows_with_another_simulation_id_reject_the_source_whole(tmp_path: Path) -> None:
    source = tmp_path / "run.db"
    shutil.copy(fixture("f6-simid-interactions__v31"), source)
    with sqlite3.connect(source) as conn:
        conn.execute(
            "UPDATE agent_actions SET simulation_id = 'sim_other' WHERE rowid = "
            "(SELECT max(rowid) FROM agent_actions)"
        )
    target = tmp_path / "experiment.db"
    (outcome,) = merge([str(source)], str(target)).sources
    assert outcome.status == "rejected"
    assert "agent_actions carry a simulation_id other than" in (outcome.reason or "")
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM simulations").fetchone()[0] == 0
        assert conn.execute("SELECT count(*) FROM agents").fetchone()[0] == 0


def test_column_without_a_home_rejects_and_names_it(tmp_path: Path) -> None:
    source = tmp_path / "run.db"
    shutil.copy(fixture("f8-consolidated__v40"), source)
    with sqlite3.connect(source) as conn:
        conn.execute("ALTER TABLE agents ADD COLUMN mood TEXT")
    (outcome,) = merge([str(source)], str(tmp_path / "e.db")).sources
    assert outcome.status == "rejected" and "agents.mood" in (outcome.reason or "")


def test_dry_run_writes_nothing(tmp_path: Path, runner: CliRunner) -> None:
    runs = copy_fixtures(tmp_path / "runs", "f5-simid__v28", "f2-raw-pascal__v11")
    target = tmp_path / "experiment.db"
    result = runner.invoke(cli, ["merge", str(runs), "-o", str(target), "--dry-run"])
    assert result.exit_code == 0, result.output
    assert "would merge" in result.stdout and "f5-simid v28" in result.stdout
    assert not target.exists()


def test_json_report_contract(tmp_path: Path, runner: CliRunner) -> None:
    result = runner.invoke(
        cli, ["merge", str(fixture("f2-raw-pascal__v11")), "-o", str(tmp_path / "x.db"), "--json"]
    )
    assert result.exit_code == 0, result.output
    report = json.loads(result.stdout)
    (source,) = report["sources"]
    assert {"path", "simulation_id", "status", "reason", "rows"} <= set(source)
    assert source["status"] == "merged" and source["simulation_id"] == "f2-raw-pascal__v11"
    assert report["totals"]["rows_written"] == sum(source["rows"].values())
    assert report["experiment_id"] == "x"


def test_parallel_jobs_merge_everything_once(tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs")
    target = tmp_path / "experiment.db"
    report = merge([str(runs)], str(target), jobs=3)
    assert report.ok and report.count("merged") == len(LEGACY_FIXTURES)
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM simulations").fetchone()[0] == len(
            LEGACY_FIXTURES
        )


@pytest.mark.parametrize("argument", ["missing_dir", "nothing*.db"])
def test_sources_that_name_nothing_are_a_usage_error(
    tmp_path: Path, runner: CliRunner, argument: str
) -> None:
    result = runner.invoke(cli, ["merge", str(tmp_path / argument), "-o", str(tmp_path / "e.db")])
    assert result.exit_code == 2
    assert result.stderr.startswith("Error: ") and len(result.stderr.splitlines()) == 1


def test_reals_in_text_columns_keep_every_digit(tmp_path: Path) -> None:
    source = tmp_path / "run.db"
    shutil.copy(fixture("f7-slim-actions__v33"), source)
    with sqlite3.connect(source) as conn:
        conn.execute(
            "UPDATE interactions SET timestamp = 1732700000.1234567, "
            "details = 0.30000000000000004 WHERE rowid = 1"
        )
        conn.execute("UPDATE simulations SET start_time = 1732700000.1234567")
    target = tmp_path / "experiment.db"
    assert merge([str(source)], str(target)).ok
    with sqlite3.connect(target) as conn:
        stamp, details = conn.execute(
            "SELECT timestamp, details FROM interactions WHERE interaction_id = 1"
        ).fetchone()
        (start,) = conn.execute("SELECT start_time FROM simulations").fetchone()
    assert float(stamp) == 1732700000.1234567 and float(details) == 0.30000000000000004
    assert float(start) == 1732700000.1234567


def test_dry_run_plans_what_the_real_run_does(tmp_path: Path, runner: CliRunner) -> None:
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    generate(ddl, tmp_path / "runs" / "a" / "run.db", seed=1, simulation_id="sim_same")
    generate(ddl, tmp_path / "runs" / "b" / "run.db", seed=2, simulation_id="sim_same")
    (tmp_path / "runs" / "c").mkdir()
    shutil.copy(tmp_path / "runs" / "a" / "run.db", tmp_path / "runs" / "c" / "copy.db")
    target = tmp_path / "experiment.db"
    args = ["merge", str(tmp_path / "runs"), "-o", str(target), "--json"]
    planned = json.loads(runner.invoke(cli, [*args, "--dry-run"]).stdout)["sources"]
    real = json.loads(runner.invoke(cli, args).stdout)["sources"]
    as_done = {"planned": "merged"}
    assert [as_done.get(s["status"], s["status"]) for s in planned] == [s["status"] for s in real]
    assert sorted(s["status"] for s in real) == ["merged", "rejected", "skipped"]


def test_a_renamed_simulation_is_skipped_then_replaced_by_path(tmp_path: Path) -> None:
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    a = generate(ddl, tmp_path / "a" / "run.db", seed=1, simulation_id="sim_same")
    b = generate(ddl, tmp_path / "b" / "run.db", seed=2, simulation_id="sim_same")
    target = tmp_path / "experiment.db"
    assert merge([str(a.path), str(b.path)], str(target), on_conflict="rename").ok
    (again,) = merge([str(b.path)], str(target), on_conflict="rename").sources
    assert again.status == "skipped" and again.reason == "already merged as sim_same~2"
    with sqlite3.connect(b.path) as conn:
        conn.execute("DELETE FROM agent_actions WHERE action_id = 1")
    (changed,) = merge([str(b.path)], str(target), on_conflict="rename").sources
    assert changed.status == "rejected" and "--replace" in (changed.reason or "")
    (replaced,) = merge([str(b.path)], str(target), on_conflict="rename", replace=True).sources
    assert (replaced.status, replaced.simulation_id) == ("merged", "sim_same~2")
    with sqlite3.connect(target) as conn:
        assert conn.execute("SELECT count(*) FROM simulations").fetchone()[0] == 2


def test_repeated_step_numbers_are_named_before_merge(tmp_path: Path) -> None:
    source = tmp_path / "run.db"
    shutil.copy(fixture("f1-raw-stepid__v02"), source)
    with sqlite3.connect(source) as conn:
        conn.execute("INSERT INTO SimulationSteps (step_number) VALUES (2)")
    (report,) = inspect([str(source)])
    assert not report.mergeable
    assert any("repeats 1 step_number values" in p for p in report.problems)
    (outcome,) = merge([str(source)], str(tmp_path / "e.db")).sources
    assert outcome.status == "rejected" and "repeats 1 step_number" in (outcome.reason or "")


@pytest.mark.skipif(not Path("/proc/self/mem").exists(), reason="needs Linux /proc")
def test_an_unreadable_source_is_rejected_and_the_others_merge(tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs", "f8-consolidated__v40")
    (runs / "unreadable.db").symlink_to("/proc/self/mem")  # every read fails with EIO
    report = merge([str(runs)], str(tmp_path / "e.db"))
    statuses = sorted((s.status, s.reason or "") for s in report.sources)
    assert statuses[0][0] == "merged"
    assert statuses[1][0] == "rejected" and statuses[1][1].startswith("cannot be read")
