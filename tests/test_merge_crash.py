"""A merge killed with SIGKILL at any moment leaves no partial simulation; a re-run finishes."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import sys
import time
from pathlib import Path

import pytest

from consolidate import verify
from fixtures.make_fixtures import generate
from tests.helpers import ddl_of, fixture, paused_merge, resume, wait_until_paused

SOURCES = 24


def build_corpus(folder: Path) -> list[str]:
    ddls = [ddl_of(fixture(s)) for s in ("f7-slim-actions__v33", "f2-raw-pascal__v11")]
    return [
        str(generate(ddls[n % 2], folder / f"sim_{n:03d}.db", seed=n, agents=30, steps=40).path)
        for n in range(SOURCES)
    ]


def assert_no_partial_simulation(target: Path) -> int:
    """Every recorded simulation holds exactly its recorded rows; no row is orphaned."""
    with sqlite3.connect(target) as conn:
        recorded = dict(conn.execute("SELECT simulation_id, source_row_counts FROM simulations"))
        for sim, counts in recorded.items():
            for table, rows in json.loads(counts).items():
                found = conn.execute(
                    f'SELECT count(*) FROM "{table}" WHERE simulation_id = ?', (sim,)
                ).fetchone()[0]
                assert found == rows, (sim, table)
        for table in ("agents", "agent_states", "agent_actions", "simulation_steps"):
            orphans = conn.execute(
                f'SELECT count(*) FROM "{table}" WHERE simulation_id NOT IN '
                "(SELECT simulation_id FROM simulations)"
            ).fetchone()[0]
            assert orphans == 0, table
        return len(recorded)


def merged_count(target: Path) -> int:
    try:
        with sqlite3.connect(target, timeout=0.1) as conn:
            return int(conn.execute("SELECT count(*) FROM simulations").fetchone()[0])
    except sqlite3.Error:
        return 0


@pytest.mark.slow
@pytest.mark.parametrize("kill_after", [1, SOURCES // 2], ids=["early", "midway"])
def test_sigkill_then_rerun_finishes_exactly_once(tmp_path: Path, kill_after: int) -> None:
    runs = tmp_path / "runs"
    build_corpus(runs)
    target = tmp_path / "experiment.db"
    args = [str(runs), "-o", str(target), "-q"]
    pause = tmp_path / "pause"
    # Killed inside the transaction of source kill_after + 1, its rows written, not committed.
    process = paused_merge(args, pause, at=kill_after + 1, stdout=subprocess.DEVNULL)
    wait_until_paused(process, pause)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=60)
    assert process.returncode == -signal.SIGKILL
    survived = assert_no_partial_simulation(target)
    assert survived == kill_after
    left = verify(str(target))  # whole sources; at worst the deferred indexes are missing
    assert all(m.check == "indexes present" for m in left.mismatches), left.mismatches
    command = [sys.executable, "-m", "consolidate", "merge", *args]
    rerun = subprocess.run(command + ["--json"], capture_output=True, text=True)
    assert rerun.returncode == 0, rerun.stderr
    totals = json.loads(rerun.stdout)["totals"]
    assert totals["skipped"] == survived and totals["merged"] == SOURCES - survived
    assert assert_no_partial_simulation(target) == SOURCES
    assert verify(str(target)).ok  # the indexes dropped for the bulk load are back


def children(pid: int) -> set[int]:
    """The processes whose parent is ``pid`` (Linux: /proc)."""
    found = set()
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:  # ended while we looked
            continue
        if int(fields[1]) == pid:
            found.add(int(stat.parent.name))
    return found


@pytest.mark.skipif(sys.platform != "linux", reason="check workers are forked on Linux only")
def test_the_check_workers_are_processes_and_end_with_a_killed_merge(tmp_path: Path) -> None:
    """A forked worker waiting for work never sees its queue end (it holds it open too): after
    kill -9 of the merge it must still go, or it keeps the merge's stdout open for ever."""
    runs = tmp_path / "runs"
    build_corpus(runs)
    pause = tmp_path / "pause"
    args = [str(runs), "-o", str(tmp_path / "t.db"), "-q"]
    process = paused_merge(args, pause, at=2, stdout=subprocess.PIPE)
    wait_until_paused(process, pause)
    workers = children(process.pid)
    assert len(workers) == 2  # one source's two checks at a time (merging.checks)
    process.send_signal(signal.SIGKILL)
    process.communicate(timeout=30)  # returns once no worker holds the pipe open
    for _ in range(300):
        if not any(Path(f"/proc/{pid}").exists() for pid in workers):
            break
        time.sleep(0.01)
    assert not any(Path(f"/proc/{pid}").exists() for pid in workers)


@pytest.mark.skipif(sys.platform != "linux", reason="check workers are forked on Linux only")
def test_a_merge_whose_check_workers_are_killed_finishes_with_every_check(tmp_path: Path) -> None:
    """The OOM killer may take a worker: the merge then checks in its own threads and goes on."""
    runs = tmp_path / "runs"
    build_corpus(runs)
    sick = runs / "sim_020.db"  # a damaged source after the kill must still be caught
    with sqlite3.connect(sick) as conn:
        conn.execute("UPDATE agents SET genome_id = 'a' || char(0) || 'b' WHERE rowid = 1")
    conn.close()
    pause, target = tmp_path / "pause", tmp_path / "t.db"
    process = paused_merge(
        [str(runs), "-o", str(target), "--json"],
        pause,
        at=3,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    wait_until_paused(process, pause)
    workers = children(process.pid)
    assert len(workers) == 2
    for pid in workers:
        os.kill(pid, signal.SIGKILL)
    resume(pause)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 1, stderr  # the damaged source, and nothing else
    outcomes = {Path(s["path"]).name: s for s in json.loads(stdout)["sources"]}
    rejected = {name for name, s in outcomes.items() if s["status"] == "rejected"}
    assert rejected == {"sim_020.db"}, stderr
    assert "NUL character" in outcomes["sim_020.db"]["reason"]
    assert merged_count(target) == SOURCES - 1
    assert verify(str(target)).ok
