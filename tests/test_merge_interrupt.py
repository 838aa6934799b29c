"""Ctrl-C during a merge: the first stops after the current source's transaction and exits 130,
a second aborts at once; either way the target is consistent, no source is misreported and a
re-run finishes the job."""

from __future__ import annotations

import json
import random
import signal
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from consolidate import merge, verify
from consolidate.proof.findings import VerifyReport
from fixtures.make_fixtures import generate
from tests.helpers import ddl_of, fixture, paused_merge, resume, wait_until_paused

SOURCES = 20
MOMENTS = 20


def build_corpus(folder: Path) -> None:
    ddls = [ddl_of(fixture(s)) for s in ("f7-slim-actions__v33", "f2-raw-pascal__v11")]
    for n in range(SOURCES):
        generate(ddls[n % 2], folder / f"sim_{n:03d}.db", seed=n, agents=20, steps=25)


def sealed(target: Path) -> set[str]:
    """The simulations the target holds, committed whole (sha256 set last, in the same
    transaction)."""
    if not target.exists():
        return set()
    with sqlite3.connect(target) as conn:
        tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master")}
        if "simulations" not in tables:
            return set()
        rows = conn.execute("SELECT simulation_id FROM simulations WHERE source_sha256 IS NOT NULL")
        return {r[0] for r in rows}


def only_missing_indexes(report: VerifyReport) -> bool:
    """Whether every failed check is the missing-index one: what a hard stop may leave."""
    return all(m.check == "indexes present" for m in report.mismatches)


def interrupted_merge(runs: Path, target: Path, delay: float, *, twice: bool) -> tuple[int, str]:
    command = [sys.executable, "-m", "consolidate", "merge", str(runs), "-o", str(target)]
    process = subprocess.Popen(
        [*command, "--json"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    # From the moment the target appears: the merge has begun. (Ctrl-C while Python is still
    # importing the package is Python's own KeyboardInterrupt, before any handler can exist.)
    for _ in range(60_000):  # bounded: a minute of 1 ms polls
        if target.exists() or process.poll() is not None:
            break
        time.sleep(0.001)
    else:
        process.kill()
        pytest.fail("the merge never created its target")
    time.sleep(delay)
    process.send_signal(signal.SIGINT)
    if twice:
        time.sleep(0.02)
        if process.poll() is None:
            process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert "Traceback" not in stderr, stderr
    return process.returncode, stdout + "\0" + stderr


def test_ctrl_c_at_random_moments_never_misreports_a_source(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    build_corpus(runs)
    baseline = tmp_path / "b.db"
    process = subprocess.Popen(
        [sys.executable, "-m", "consolidate", "merge", str(runs), "-o", str(baseline)],
        stdout=subprocess.DEVNULL,
    )
    for _ in range(60_000):
        if baseline.exists() or process.poll() is not None:
            break
        time.sleep(0.001)
    started = time.perf_counter()
    assert process.wait(timeout=120) == 0
    whole = time.perf_counter() - started  # only to spread the moments over a merge's length
    rng = random.Random(14)
    for moment in range(MOMENTS):
        target = tmp_path / f"t{moment}.db"
        twice = moment % 4 == 3
        code, output = interrupted_merge(runs, target, rng.uniform(0.0, whole), twice=twice)
        stdout, stderr = output.split("\0")
        assert code in (130, 0), (moment, code, stderr)
        held = sealed(target)
        if code == 0:
            assert len(held) == SOURCES, (moment, stderr)
        if stdout.strip():  # the report was printed: it must say exactly what was committed
            report = json.loads(stdout)
            assert report["totals"]["rejected"] == 0, (moment, report["sources"])
            said = {s["simulation_id"] for s in report["sources"] if s["status"] == "merged"}
            assert said == held, (moment, said ^ held)
            if code == 130:
                assert report["totals"]["not_started"] == SOURCES - len(held)
                assert "run the same command again to finish the job" in stderr
            assert verify(str(target)).ok, moment  # a stopped merge built its indexes
        else:  # aborted at once (second Ctrl-C) or before the merge began
            assert code == 130, (moment, stderr)
            if held:  # whole sources only; the indexes a new target defers may be missing
                assert only_missing_indexes(verify(str(target))), moment
        again = merge([str(runs)], str(target))
        assert again.ok and again.count("merged") == SOURCES - len(held), moment
        assert len(sealed(target)) == SOURCES
        assert verify(str(target)).ok, moment
    # Where the random moments land depends on the machine; the Ctrl-C inside a transaction is
    # made certain by the two tests below.


def test_should_stop_lets_the_current_source_finish(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    build_corpus(runs)
    stop = threading.Event()
    report = merge(
        [str(runs)],
        str(tmp_path / "t.db"),
        on_source=lambda outcome: stop.set() if outcome.status == "merged" else None,
        should_stop=stop.is_set,
    )
    assert report.count("merged") == 1 and report.not_started == SOURCES - 1 and report.stopped
    assert sealed(tmp_path / "t.db") == {report.sources[0].simulation_id}
    assert verify(str(tmp_path / "t.db")).ok


def test_ctrl_c_inside_a_transaction_finishes_it_then_stops(tmp_path: Path) -> None:
    runs, target, pause = tmp_path / "runs", tmp_path / "t.db", tmp_path / "pause"
    build_corpus(runs)
    args = [str(runs), "-o", str(target), "--json"]
    process = paused_merge(args, pause, at=5, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until_paused(process, pause)  # inside the fifth source's transaction
    process.send_signal(signal.SIGINT)
    resume(pause)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert "run the same command again to finish the job" in stderr
    report = json.loads(stdout)
    assert (report["totals"]["merged"], report["totals"]["not_started"]) == (5, SOURCES - 5)
    assert len(sealed(target)) == 5
    assert verify(str(target)).ok  # a stopped merge builds its indexes before it exits
    again = merge([str(runs)], str(target))
    assert again.ok and again.count("merged") == SOURCES - 5


def test_a_second_ctrl_c_aborts_inside_the_transaction(tmp_path: Path) -> None:
    runs, target, pause = tmp_path / "runs", tmp_path / "t.db", tmp_path / "pause"
    build_corpus(runs)
    args = [str(runs), "-o", str(target), "--json"]
    process = paused_merge(args, pause, at=5, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    wait_until_paused(process, pause)
    process.send_signal(signal.SIGINT)
    assert process.stderr is not None
    heard = [process.stderr.readline() for _ in range(2)]  # "\n", then the message
    assert "stopping after the current source" in heard[1], heard  # the first was heard
    process.send_signal(signal.SIGINT)
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130 and not stdout.strip()
    assert "aborted" in stderr
    assert len(sealed(target)) == 4  # the fifth source rolled back
    # As after kill -9: whole sources only, and the indexes the load deferred not built yet.
    assert only_missing_indexes(verify(str(target)))
    again = merge([str(runs)], str(target))
    assert again.ok and again.count("merged") == SOURCES - 4
    assert verify(str(target)).ok  # the re-run built them
