"""``inspect``: every layout named right, problems worth knowing, broken files explained."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from consolidate.cli import cli
from consolidate.layouts.inspection import inspect
from fixtures.make_fixtures import generate
from tests.conftest import SHARED_SAMPLES, shared_ddl_files
from tests.helpers import BROKEN, LEGACY_FIXTURES, expected_layout, snapshot, table_rows


@pytest.mark.parametrize("path", LEGACY_FIXTURES, ids=lambda p: p.stem)
def test_committed_fixture_is_named_and_fully_mapped(path: Path) -> None:
    (report,) = inspect([str(path)])
    assert (report.family, report.schema_version) == expected_layout(path)
    assert report.mergeable, report.problems
    assert report.tables == table_rows(path)


def test_there_is_a_committed_fixture_for_every_family() -> None:
    families = {expected_layout(p)[0] for p in LEGACY_FIXTURES}
    assert len({f for f in families if f.startswith("f")}) == 8


@pytest.mark.parametrize("ddl", shared_ddl_files(), ids=lambda p: p.stem)
def test_every_shared_ddl_generates_a_named_mergeable_source(ddl: Path, tmp_path: Path) -> None:
    family, label = ddl.stem.split("__")
    version = label if label.startswith("side-") else label.split("-")[0]
    if version == "side-df3857f6":
        version = "v18"
    source = tmp_path / "run.db"
    generate(ddl.read_text(), source, seed=3)
    (report,) = inspect([str(source)])
    assert (report.family, report.schema_version) == (family, version)
    assert report.mergeable, report.problems


def test_directory_of_every_ddl_names_each_version(tmp_path: Path, runner: CliRunner) -> None:
    ddls = shared_ddl_files()
    if not ddls:
        pytest.skip("../shared/legacy/ddl is absent")
    for ddl in ddls:
        generate(ddl.read_text(), tmp_path / f"{ddl.stem}.db", seed=1)
    result = runner.invoke(cli, ["inspect", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    named = {Path(r["path"]).stem: r["schema_version"] for r in json.loads(result.stdout)}
    assert len(named) == len(ddls)
    for stem, version in named.items():
        assert version in stem or (version == "v18" and "df3857f6" in stem), stem


def test_real_samples_are_v33_v31_v31() -> None:
    samples = sorted(SHARED_SAMPLES.glob("*.db")) if SHARED_SAMPLES.is_dir() else []
    if not samples:
        pytest.skip("../shared/legacy/samples is absent")
    before = snapshot(SHARED_SAMPLES)
    reports = {Path(r.path).name: r for r in inspect([str(SHARED_SAMPLES)])}
    assert reports["v33-full-run-1329de01.db"].schema_version == "v33"
    assert reports["v33-full-run-1329de01.db"].simulation_id == "sim_CSkauvJaqK"
    assert reports["v31-stub-505b4dcd.db"].schema_version == "v31"
    assert reports["v31-empty-tables-15a1bb5b.db"].schema_version == "v31"
    assert any("duplicated" in p for p in reports["v33-full-run-1329de01.db"].problems)
    assert snapshot(SHARED_SAMPLES) == before


BROKEN_REASONS = {
    "zero-bytes.db": "empty file (0 bytes)",
    "random-bytes.db": "not a SQLite database",
    "text-file.db": "not a SQLite database",
    "truncated.db": "corrupt or truncated",
    "no-tables.db": "no tables",
}


@pytest.mark.parametrize("name", sorted(BROKEN_REASONS), ids=str)
def test_broken_file_gets_one_line_problem(name: str, runner: CliRunner) -> None:
    path = BROKEN / name
    result = runner.invoke(cli, ["inspect", str(path), "--json"])
    assert result.exit_code == 1
    (report,) = json.loads(result.stdout)
    assert report["family"] == "unknown" and report["schema_version"] == "unknown"
    (problem,) = report["problems"]
    assert BROKEN_REASONS[name] in problem and "\n" not in problem


def test_broken_files_as_a_subprocess_never_print_a_traceback() -> None:
    done = subprocess.run(
        [sys.executable, "-m", "consolidate", "inspect", str(BROKEN)],
        capture_output=True,
        text=True,
    )
    assert done.returncode == 1
    assert "Traceback" not in done.stdout + done.stderr
    for name in BROKEN_REASONS:
        assert name in done.stdout


def test_null_simulation_ids_to_fill_are_a_problem_not_a_rejection(tmp_path: Path) -> None:
    source = tmp_path / "nullsim.db"
    shutil.copy(next(p for p in LEGACY_FIXTURES if "nullsim" in p.name), source)
    (report,) = inspect([str(source)])
    assert any("NULL or empty simulation_id" in p for p in report.problems)
    assert report.mergeable


def test_pending_wal_is_read_and_reported(tmp_path: Path) -> None:
    ddl = next((d for d in shared_ddl_files() if "v33" in d.name), None)
    if ddl is None:
        pytest.skip("../shared/legacy/ddl is absent")
    run = generate(ddl.read_text(), tmp_path / "wal.db", seed=5, pending_wal=True)
    assert (tmp_path / "wal.db-wal").stat().st_size > 0
    before = snapshot(tmp_path)
    (report,) = inspect([str(run.path)])
    assert any("pending -wal sidecar" in p for p in report.problems)
    assert report.tables == run.rows
    assert snapshot(tmp_path) == before
