"""A run file read by a check worker (merging.facts, beside its checks) gets the outcome it
gets when the merge process reads it itself: every layout, broken files, bad values, pending
sidecars, an experiment database, a large source whose checks are split."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from consolidate import merge
from fixtures.make_fixtures import generate
from tests.conftest import REPO
from tests.helpers import BROKEN, LEGACY_FIXTURES, ddl_of, fixture, snapshot
from tests.test_values import DAMAGE

#: Merges the folder in a fresh interpreter and prints its outcomes, and how many sources took
#: the worker's path; with ``threads`` another thread is alive, so the checks run in threads
#: and every source is read in the merge process (see layouts.workers).
SCRIPT = """
import json, sys, threading
if sys.argv[3] == "threads":
    threading.Thread(target=threading.Event().wait, daemon=True).start()
from consolidate import merge
from consolidate.merging import prepared
ready, count = prepared.Pending.ready, []
def counted(self):
    count.append(1)
    return ready(self)
prepared.Pending.ready = counted
report = merge([sys.argv[1]], sys.argv[2])
keys = ("path", "status", "reason", "family", "schema_version", "simulation_id", "rows")
print(json.dumps({"workers": len(count), "outcomes": [
    {k: getattr(o, k) for k in keys} for o in report.sources
]}))
"""


@pytest.fixture(scope="module")
def sources(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("facts") / "runs"
    folder.mkdir()
    for path in LEGACY_FIXTURES:
        shutil.copy(path, folder / path.name)
    for path in sorted(BROKEN.glob("*.db")):
        shutil.copy(path, folder / f"broken-{path.name}")
    v33 = ddl_of(fixture("f7-slim-actions__v33"))
    generate(v33, folder / "pending.db", seed=11, pending_wal=True)
    generate(v33, folder / "large.db", seed=12, agents=40, steps=60)  # checks split in two
    for name in ("nul", "blob-in-number", "invalid-utf8"):
        bad = folder / f"bad-{name}.db"
        generate(v33, bad, seed=20 + len(name))
        with closing(sqlite3.connect(bad)) as conn, conn:
            conn.executescript(DAMAGE[name][0])
    odd = {
        "unknown-table": "CREATE TABLE mystery (x); INSERT INTO mystery VALUES (1)",
        "homeless-column": "ALTER TABLE agents ADD COLUMN mood TEXT",
        "two-simulations": "INSERT INTO simulations (simulation_id, parameters, simulation_db_path)"
        " VALUES ('another', '{}', 'x.db')",
    }
    for name, sql in odd.items():
        generate(v33, folder / f"{name}.db", seed=30 + len(name))
        with closing(sqlite3.connect(folder / f"{name}.db")) as conn, conn:
            conn.executescript(sql)
    merge([str(folder / "pending.db")], str(folder / "an-experiment.db"))  # a source too
    shutil.copy(folder / "pending.db", folder / "twin.db")  # the same bytes twice
    return folder


def merged(folder: Path, target: Path, mode: str) -> dict[str, object]:
    done = subprocess.run(
        [sys.executable, "-c", SCRIPT, str(folder), str(target), mode],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    result: dict[str, object] = json.loads(done.stdout)
    return result


def test_a_worker_reads_a_run_as_the_merge_process_does(sources: Path, tmp_path: Path) -> None:
    before = snapshot(sources)
    by_workers = merged(sources, tmp_path / "workers.db", "processes")
    in_process = merged(sources, tmp_path / "threads.db", "threads")
    assert in_process["workers"] == 0
    # Every source that opens but the large one (read here: its checks are split in two);
    # zero bytes, text and random bytes (no SQLite header) never open.
    found = len(list(sources.glob("*.db")))
    assert by_workers["workers"] == found - 4
    assert by_workers["outcomes"] == in_process["outcomes"]
    statuses = {o["path"].rsplit("/", 1)[-1]: o["status"] for o in by_workers["outcomes"]}
    assert statuses["large.db"] == "merged"
    assert {statuses[f"{name}.db"] for name in ("unknown-table", "homeless-column")} == {"rejected"}
    assert statuses["two-simulations.db"] == "rejected"
    assert statuses["bad-nul.db"] == statuses["broken-truncated.db"] == "rejected"
    assert snapshot(sources) == before


def test_a_source_gone_after_its_worker_read_it_is_rejected_alone(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    shutil.copy(fixture("f7-slim-actions__v33"), runs / "a1.db")
    shutil.copy(fixture("f5-simid__v28"), runs / "a2.db")  # a layout not met yet: read again
    gone: list[str] = []

    def on_table(_table: str, _rows: int, _seconds: float) -> None:
        if not gone:  # a2 was read ahead (by a worker) while a1 is copied
            gone.append("a2")
            (runs / "a2.db").unlink()

    report = merge([str(runs)], str(tmp_path / "t.db"), on_table=on_table)
    assert [s.status for s in report.sources] == ["merged", "rejected"]
    assert "a2.db" in report.sources[1].path and report.sources[1].reason
    assert sorted(p.name for p in runs.iterdir()) == ["a1.db"]  # nothing made in its place
