"""When the system cannot fork the worker processes (out of processes or memory), merge and
inspect do the same work in threads: no error, no hang at exit, no worker left behind."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from fixtures.make_fixtures import generate
from tests.conftest import REPO
from tests.helpers import ddl_of, fixture

#: Runs the command line with ``os.fork`` failing from its ``argv[1]``-th call on (EAGAIN), as
#: it does when a user is out of processes; prints the pids of the children it did fork.
RUNNER = """
import atexit, os, sys
failing, real, forked = int(sys.argv.pop(1)), os.fork, []
def fork():
    if len(forked) + 1 >= failing:
        raise BlockingIOError(11, "Resource temporarily unavailable")
    pid = real()
    if pid:
        forked.append(pid)
    return pid
os.fork = fork
atexit.register(lambda: print("forked", *forked, file=sys.stderr))
from consolidate.__main__ import main
sys.argv = ["consolidate", *sys.argv[1:]]
main()
"""


@pytest.fixture(scope="module")
def runs(tmp_path_factory: pytest.TempPathFactory) -> Path:
    folder = tmp_path_factory.mktemp("fork") / "runs"
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    for n in range(4):
        generate(ddl, folder / f"run_{n}.db", seed=n)
    return folder


def run(failing: int, *args: str) -> subprocess.CompletedProcess[str]:
    """The command, which must end (a worker left waiting for work kept it from exiting)."""
    return subprocess.run(
        [sys.executable, "-c", RUNNER, str(failing), *args],
        capture_output=True,
        text=True,
        cwd=REPO,
        timeout=120,
    )


def gone(pids: list[int]) -> bool:
    return not any(Path(f"/proc/{pid}").exists() for pid in pids)


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
@pytest.mark.parametrize("failing", [1, 2], ids=["first-fork", "second-fork"])
def test_merge_checks_in_threads_when_a_fork_fails(
    runs: Path, tmp_path: Path, failing: int
) -> None:
    done = run(failing, "merge", str(runs), "-o", str(tmp_path / "t.db"))
    assert done.returncode == 0, done.stderr
    assert "4 merged, 0 skipped, 0 rejected" in done.stdout
    forked = [int(p) for p in done.stderr.split("forked", 1)[1].split()]
    assert len(forked) == failing - 1 and gone(forked)  # the one that did fork was ended
    verified = subprocess.run(
        [sys.executable, "-m", "consolidate", "verify", str(tmp_path / "t.db")],
        capture_output=True,
        text=True,
        cwd=REPO,
    )
    assert verified.returncode == 0, verified.stdout + verified.stderr


@pytest.mark.skipif(sys.platform != "linux", reason="workers are forked on Linux only")
def test_inspect_reads_in_threads_when_a_fork_fails(runs: Path) -> None:
    done = run(2, "inspect", str(runs))
    assert done.returncode == 0, done.stderr
    assert all(f"run_{n}.db" in done.stdout for n in range(4)), done.stdout
    forked = [int(p) for p in done.stderr.split("forked", 1)[1].split()]
    assert len(forked) == 1 and gone(forked)
