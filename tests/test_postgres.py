"""PostgreSQL target end to end: COPY merge, verify, and several merges at once."""

from __future__ import annotations

import json
import shutil
import signal
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import URL, create_engine, text

from consolidate import merge, verify
from consolidate.cli import cli
from fixtures.make_fixtures import generate
from tests.helpers import LEGACY_FIXTURES, ddl_of, fixture, paused_merge, wait_until_paused


def rendered(url: URL) -> str:
    return url.render_as_string(hide_password=False)


def copy_fixtures(folder: Path) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    for path in LEGACY_FIXTURES:
        shutil.copy(path, folder / path.name)
    return folder


def counts_by_simulation(url: URL) -> dict[str, dict[str, int]]:
    engine = create_engine(url)
    with engine.connect() as conn:
        recorded = dict(
            conn.execute(text("SELECT simulation_id, source_row_counts FROM simulations")).all()
        )
        found: dict[str, dict[str, int]] = {}
        for sim, counts in recorded.items():
            found[sim] = {
                table: conn.execute(
                    text(f'SELECT count(*) FROM "{table}" WHERE simulation_id = :s'), {"s": sim}
                ).scalar_one()
                for table in json.loads(counts)
            }
            assert found[sim] == json.loads(counts), sim  # no partial simulation
    engine.dispose()
    return found


def test_every_layout_merges_by_copy_and_verifies(postgres_url: URL, tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs")
    report = merge([str(runs)], rendered(postgres_url))
    assert report.ok and report.count("merged") == len(LEGACY_FIXTURES)
    sqlite_report = merge([str(runs)], str(tmp_path / "same.db"))
    assert {s.simulation_id: s.rows for s in report.sources} == {
        s.simulation_id: s.rows for s in sqlite_report.sources
    }
    checked = verify(rendered(postgres_url))
    assert checked.ok, checked.mismatches
    assert len(checked.sources_compared) == len(LEGACY_FIXTURES)
    again = merge([str(runs)], rendered(postgres_url))
    assert again.count("skipped") == len(LEGACY_FIXTURES)


def test_verify_checksum_catches_a_changed_value(postgres_url: URL) -> None:
    assert merge([str(fixture("f7-slim-actions__v33"))], rendered(postgres_url)).ok
    engine = create_engine(postgres_url)
    with engine.begin() as conn:
        conn.execute(text("UPDATE agent_actions SET reward = reward + 1e-9 WHERE action_id = 3"))
    engine.dispose()
    (mismatch,) = verify(rendered(postgres_url)).mismatches
    assert (mismatch.table, mismatch.check) == ("agent_actions", "row contents")
    assert "checksums differ" in str(mismatch)


def test_nul_text_is_rejected_with_its_reason(postgres_url: URL, tmp_path: Path) -> None:
    run = generate(
        ddl_of(fixture("f7-slim-actions__v33")), tmp_path / "nul.db", seed=4, tricky_text=True
    )
    good = fixture("f8-consolidated__v40")
    report = merge([str(run.path), str(good)], rendered(postgres_url))
    statuses = {Path(s.path).name: (s.status, s.reason) for s in report.sources}
    assert statuses[good.name][0] == "merged"
    status, reason = statuses["nul.db"]
    assert status == "rejected" and "NUL character" in (reason or "")
    merged = next(s.simulation_id for s in report.sources if s.status == "merged")
    assert list(counts_by_simulation(postgres_url)) == [merged]  # nothing left of nul.db


def test_cli_merge_into_a_url(postgres_url: URL, runner: CliRunner) -> None:
    result = runner.invoke(
        cli,
        [
            "merge",
            str(fixture("f2-raw-pascal__v11")),
            "-o",
            rendered(postgres_url),
            "-e",
            "pg-exp",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert json.loads(result.stdout)["experiment_id"] == "pg-exp"


def _merge_process(runs: Path, url: URL) -> subprocess.Popen[str]:
    return subprocess.Popen(
        [
            sys.executable,
            "-m",
            "consolidate",
            "merge",
            str(runs),
            "-o",
            rendered(url),
            "--json",
            "-q",
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )


def test_two_concurrent_merges_merge_each_source_once(postgres_url: URL, tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs")
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    for n in range(8):
        generate(ddl, runs / f"big_{n}.db", seed=100 + n, agents=20, steps=20)
    first, second = _merge_process(runs, postgres_url), _merge_process(runs, postgres_url)
    reports = []
    for process in (first, second):
        out, err = process.communicate(timeout=300)
        assert process.returncode == 0, err
        reports.append(json.loads(out))
    sources = len(LEGACY_FIXTURES) + 8
    merged = [s["path"] for r in reports for s in r["sources"] if s["status"] == "merged"]
    assert sorted(merged) == sorted(set(merged)) and len(merged) == sources
    assert len(counts_by_simulation(postgres_url)) == sources
    assert verify(rendered(postgres_url)).ok


@pytest.mark.slow
def test_sigkill_then_rerun_on_postgres(postgres_url: URL, tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    for n in range(16):
        generate(ddl, runs / f"sim_{n:02d}.db", seed=n, agents=30, steps=40)
    pause = tmp_path / "pause"
    args = [str(runs), "-o", rendered(postgres_url), "--json", "-q"]
    # Killed inside the fourth source's transaction, its rows sent, not committed.
    process = paused_merge(args, pause, at=4, stdout=subprocess.DEVNULL)
    wait_until_paused(process, pause)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    survived = len(counts_by_simulation(postgres_url))
    assert survived == 3
    rerun = _merge_process(runs, postgres_url)
    out, err = rerun.communicate(timeout=300)
    assert rerun.returncode == 0, err
    assert json.loads(out)["totals"]["merged"] == 16 - survived
    assert len(counts_by_simulation(postgres_url)) == 16
    assert verify(rendered(postgres_url)).ok


def test_jobs_merge_in_parallel_into_postgres(postgres_url: URL, tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs")
    report = merge([str(runs)], rendered(postgres_url), jobs=4)
    assert report.ok and report.count("merged") == len(LEGACY_FIXTURES)
    assert len(counts_by_simulation(postgres_url)) == len(LEGACY_FIXTURES)


def test_dry_run_on_an_empty_database_plans_and_writes_nothing(
    postgres_url: URL, runner: CliRunner
) -> None:
    result = runner.invoke(
        cli,
        ["merge", str(fixture("f8-consolidated__v40")), "-o", rendered(postgres_url), "--dry-run"],
    )
    assert result.exit_code == 0, result.output
    assert "would merge" in result.stdout
    engine = create_engine(postgres_url)
    with engine.connect() as conn:
        tables = conn.execute(
            text("SELECT count(*) FROM information_schema.tables WHERE table_schema = 'public'")
        )
        assert tables.scalar_one() == 0
    engine.dispose()


def test_a_blob_in_a_text_column_is_rejected_not_rewritten(
    postgres_url: URL, tmp_path: Path
) -> None:
    source = tmp_path / "blob.db"
    shutil.copy(fixture("f8-consolidated__v40"), source)
    with sqlite3.connect(source) as conn:
        conn.execute(
            "UPDATE agent_actions SET details = CAST('{\"k\": 1}' AS BLOB) WHERE action_id = 1"
        )
    (outcome,) = merge([str(source)], rendered(postgres_url)).sources
    assert outcome.status == "rejected"
    assert "agent_actions.details holds a BLOB value (stored type blob)" in (outcome.reason or "")
