"""``inspect`` of several sources runs on every core and says exactly what it says source by
source; an error or a Ctrl-C leaves no worker behind."""

from __future__ import annotations

import json
import os
import shutil
import signal
import sqlite3
import subprocess
import sys
import threading
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner

from consolidate import merge
from consolidate.cli import cli
from consolidate.layouts.workers import in_order
from consolidate.sources.discover import discover
from fixtures.make_fixtures import generate
from tests.conftest import REPO
from tests.helpers import BROKEN, LEGACY_FIXTURES, ddl_of, fixture

linux_only = pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux")


def altered(source: Path, script: str) -> Path:
    shutil.copy(fixture("f7-slim-actions__v33"), source)
    with closing(sqlite3.connect(source)) as conn:
        conn.executescript(script)
    return source


@pytest.fixture(scope="module")
def mixed(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Good runs, damaged runs, files that are not SQLite, a run with a pending WAL and an
    experiment database, side by side in one folder."""
    folder = tmp_path_factory.mktemp("mixed")
    for path in [*LEGACY_FIXTURES, *sorted(BROKEN.glob("*.db"))]:
        shutil.copy(path, folder / path.name)
    altered(folder / "nul-text.db", "UPDATE agents SET agent_type = 'a' || char(0) WHERE rowid = 1")
    altered(
        folder / "bad-index.db",
        "PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = "
        "replace(sql, '(agent_type)', '(genome_id)') WHERE name = 'idx_agents_agent_type'",
    )
    generate(ddl_of(fixture("f7-slim-actions__v33")), folder / "wal.db", seed=5, pending_wal=True)
    experiment = tmp_path_factory.mktemp("experiment") / "experiment.db"
    assert merge([str(p) for p in LEGACY_FIXTURES[:3]], str(experiment)).ok
    shutil.copy(experiment, folder / "experiment.db")
    return folder


def folder_run(folder: Path, *options: str) -> subprocess.CompletedProcess[str]:
    """``consolidate inspect FOLDER`` as a user runs it: several sources, so several workers."""
    return subprocess.run(
        [sys.executable, "-m", "consolidate", "inspect", str(folder), *options],
        capture_output=True,
        text=True,
        cwd=REPO,
        check=False,
    )


def test_the_folder_says_byte_for_byte_what_each_source_says_alone(
    mixed: Path, runner: CliRunner
) -> None:
    files = [f.path for f in discover([str(mixed)])]  # in the order inspect reports them
    alone = [runner.invoke(cli, ["inspect", str(f)]) for f in files]  # one source: no workers
    assert {r.exit_code for r in alone} == {0, 1}
    together = folder_run(mixed)
    assert together.returncode == 1 and together.stderr == ""
    assert together.stdout == "".join(r.stdout for r in alone)
    assert "integrity check failed" in together.stdout and "NUL character" in together.stdout
    assert "(3 simulations)" in together.stdout and "pending -wal sidecar" in together.stdout


def test_the_folder_as_json_is_each_source_as_json(mixed: Path, runner: CliRunner) -> None:
    files = [f.path for f in discover([str(mixed)])]
    alone = [json.loads(runner.invoke(cli, ["inspect", str(f), "--json"]).stdout) for f in files]
    together = folder_run(mixed, "--json")
    assert together.returncode == 1 and together.stderr == ""
    assert together.stdout == json.dumps([r for (r,) in alone], indent=2) + "\n"


def fresh(code: str) -> str:
    """What ``code`` prints, run by a fresh interpreter: one thread only, as the command line
    is (a test process may hold other threads, tqdm's monitor for one, and then the workers
    are threads)."""
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    return done.stdout.strip()


WORKERS = (
    "import multiprocessing, os, threading\n"
    "from consolidate.layouts.workers import in_order\n"
    "from tests.test_inspect_parallel import fails_on_three, pid_of, touch\n"
)


def pid_of(_: object) -> int:
    return os.getpid()


def fails_on_three(n: int) -> int:
    if n == 3:
        raise ValueError("three")
    return n


def touch(path: str) -> None:
    Path(path).touch()


def test_one_item_runs_here_and_starts_nothing() -> None:
    with in_order(pid_of, [None]) as each:
        assert list(each) == [os.getpid()]


@linux_only
def test_several_items_run_in_forked_workers_in_order() -> None:
    shown = fresh(
        WORKERS + "with in_order(str, range(400)) as each:\n"
        "    print(list(each) == [str(n) for n in range(400)])\n"
        "with in_order(pid_of, range(40)) as each:\n"
        "    print(os.getpid() in set(each))\n"
    )
    assert shown.split() == ["True", "False"]


def test_with_another_thread_running_the_workers_are_threads() -> None:
    # A fork copies every thread's locks but not the threads: where one runs, threads work.
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)
    other.start()
    try:
        with in_order(pid_of, range(40)) as each:
            assert set(each) == {os.getpid()}
    finally:
        stop.set()
        other.join()


@linux_only
def test_an_error_in_a_worker_reaches_the_caller_and_no_worker_is_left() -> None:
    shown = fresh(
        WORKERS + "try:\n"
        "    with in_order(fails_on_three, range(200)) as each:\n"
        "        list(each)\n"
        "except ValueError as exc:\n"
        "    print(exc)\n"
        "print(multiprocessing.active_children(), threading.active_count())\n"
    )
    assert shown.splitlines() == ["three", "[] 1"]


@linux_only
def test_leaving_early_cancels_what_has_not_begun(tmp_path: Path) -> None:
    marks = [str(tmp_path / f"{n}.begun") for n in range(400)]
    shown = fresh(
        WORKERS + "try:\n"
        f"    with in_order(touch, {marks!r}) as each:\n"
        "        next(each)\n"
        "        raise KeyboardInterrupt  # as a Ctrl-C in the caller would\n"
        "except KeyboardInterrupt:\n"
        "    print(multiprocessing.active_children(), threading.active_count())\n"
    )
    assert shown == "[] 1"
    assert 0 < sum(Path(m).exists() for m in marks) < len(marks)


def test_the_threads_too_stop_early_and_are_joined(tmp_path: Path) -> None:
    marks = [str(tmp_path / f"{n}.begun") for n in range(400)]
    stop = threading.Event()
    other = threading.Thread(target=stop.wait)  # so the workers are threads
    other.start()
    before = threading.active_count()
    try:
        with pytest.raises(KeyboardInterrupt):
            with in_order(touch, marks) as each:
                next(each)
                raise KeyboardInterrupt
        assert threading.active_count() == before
    finally:
        stop.set()
        other.join()
    assert sum(Path(m).exists() for m in marks) < len(marks)


def _children(pid: int) -> set[int]:
    tasks = Path(f"/proc/{pid}/task")
    found = set()
    for task in tasks.iterdir() if tasks.is_dir() else ():
        text = (task / "children").read_text() if (task / "children").exists() else ""
        found |= {int(c) for c in text.split()}
    return found


def _alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"


@linux_only
def test_ctrl_c_in_the_terminal_stops_inspect_and_its_workers(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for n in range(1000):
        shutil.copy(fixture("f7-slim-actions__v33"), runs / f"sim_{n:04d}.db")
    process = subprocess.Popen(
        [sys.executable, "-m", "consolidate", "inspect", str(runs)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        start_new_session=True,  # its own process group, as a terminal's foreground job
    )
    workers: set[int] = set()
    for _ in range(60_000):  # bounded: a minute of 1 ms polls
        workers = _children(process.pid)
        if workers or process.poll() is not None:
            break
        threading.Event().wait(0.001)
    assert workers, "no worker was started"
    os.killpg(process.pid, signal.SIGINT)  # what Ctrl-C does: the whole group gets it
    stdout, stderr = process.communicate(timeout=120)
    assert process.returncode == 130, stderr
    assert stderr.strip() == "Error: interrupted" and stdout == ""
    assert not any(_alive(pid) for pid in workers)
