"""Every message a new user meets is one line that says what is wrong, and the same mistake
gets the same exit code in every command (2: a name that names nothing or the wrong kind of
thing; 1: the job ran and something failed)."""

from __future__ import annotations

import os
import shutil
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from consolidate.cli import cli
from consolidate.layouts.inspection import inspect
from consolidate.merging.pipeline import merge
from tests.conftest import REPO
from tests.helpers import BROKEN, NOBODY, fixture, shared_dir, unprivileged

__all__ = ["shared_dir"]  # a fixture

GOOD = "f5-simid__v28"


def damaged_index(path: Path) -> Path:
    """A run whose tables read fine but one index page is broken: only quick_check sees it."""
    shutil.copy(fixture(GOOD), path)
    with sqlite3.connect(path) as conn:
        page_size = conn.execute("PRAGMA page_size").fetchone()[0]
        (root,) = conn.execute(
            "SELECT rootpage FROM sqlite_master WHERE name = 'idx_agents_agent_type'"
        ).fetchone()
    data = bytearray(path.read_bytes())
    offset = (root - 1) * page_size
    data[offset + 3 : offset + 5] = (200).to_bytes(2, "big")  # more cells than the page holds
    path.write_bytes(bytes(data))
    return path


def invoke(runner: CliRunner, *args: str) -> tuple[int, str]:
    result = runner.invoke(cli, list(args))
    assert result.exception is None or isinstance(result.exception, SystemExit), result.output
    return result.exit_code, result.stderr


def test_a_failed_quick_check_is_one_line(tmp_path: Path) -> None:
    source = damaged_index(tmp_path / "damaged.db")
    (report,) = inspect([str(source)])
    assert report.problems == (
        "integrity check failed: Page 12: btreeInitPage() returns error code 11",
    )
    (outcome,) = merge([str(source)], str(tmp_path / "t.db")).sources
    assert outcome.status == "rejected" and outcome.reason is not None
    assert "\n" not in outcome.reason and "***" not in outcome.reason


@pytest.mark.parametrize("driver", ["psycopg2", "asyncpg", "pg8000"])
def test_another_postgresql_driver_names_the_one_used(runner: CliRunner, driver: str) -> None:
    url = f"postgresql+{driver}://me:secret@dbhost/experiments"
    code, err = invoke(runner, "merge", str(fixture(GOOD)), "-o", url)
    assert code == 2
    assert err == (
        f"Error: postgresql+{driver}://me:***@dbhost/experiments: consolidate reaches PostgreSQL "
        f"through psycopg 3, not {driver}: write the URL as "
        "postgresql+psycopg://me:***@dbhost/experiments\n"
    )


def test_verify_of_a_legacy_run_says_it_is_not_an_experiment_database(
    runner: CliRunner, tmp_path: Path
) -> None:
    legacy = tmp_path / "run.db"
    shutil.copy(fixture(GOOD), legacy)
    code, err = invoke(runner, "verify", str(legacy))
    assert code == 2 and err.count("\n") == 1
    assert "not a consolidate experiment database" in err and "consolidate inspect" in err
    empty = tmp_path / "empty.db"
    sqlite3.connect(empty).close()
    empty.write_bytes(b"")
    code, err = invoke(runner, "verify", str(empty))
    assert (code, err) == (2, f"Error: {empty}: not an experiment database (it has no schema)\n")


def test_query_on_a_run_file_does_not_give_merge_advice(runner: CliRunner, tmp_path: Path) -> None:
    legacy = tmp_path / "run.db"
    shutil.copy(fixture(GOOD), legacy)
    for command in (["query", str(legacy), "SELECT 1"], ["summary", str(legacy)]):
        code, err = invoke(runner, *command)
        assert code == 2, command
        assert "choose a new file" not in err and "a legacy run file is a source" in err


def test_output_naming_a_folder_says_so(runner: CliRunner, tmp_path: Path) -> None:
    code, err = invoke(runner, "merge", str(fixture(GOOD)), "-o", str(tmp_path))
    assert code == 2
    assert err == (
        f"Error: {tmp_path}: is a folder, not a database file; name a file, e.g. {tmp_path}.db\n"
    )


def test_output_in_an_unwritable_folder_says_so(shared_dir: Path) -> None:
    prefix = unprivileged()
    locked = shared_dir / "locked"
    locked.mkdir(mode=0o555)
    if not prefix:
        locked.chmod(0o555)
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "consolidate", "merge", str(fixture(GOOD))]
        + ["-o", str(locked / "t.db")],
        capture_output=True,
        text=True,
        env={**os.environ, "PYTHONPATH": str(REPO)},
        cwd=shared_dir,
    )
    assert done.returncode == 1, done.stderr
    assert done.stderr == (
        f"Error: {locked / 't.db'}: cannot be created: the folder {locked} is not writable\n"
    )
    assert NOBODY  # the user the prefix runs as, when running as root


def test_the_target_cannot_be_its_own_source(runner: CliRunner, tmp_path: Path) -> None:
    target = tmp_path / "x.db"
    shutil.copy(fixture(GOOD), target)
    code, err = invoke(runner, "merge", str(target), "-o", str(target))
    assert (code, err) == (2, f"Error: {target}: the target cannot be its own source\n")


def test_dry_run_shows_no_layout_for_a_file_without_one(runner: CliRunner, tmp_path: Path) -> None:
    result = runner.invoke(
        cli, ["merge", str(BROKEN / "zero-bytes.db"), "-o", str(tmp_path / "t.db"), "--dry-run"]
    )
    assert "None" not in result.stdout
    (row,) = [line for line in result.stdout.splitlines() if "zero-bytes" in line]
    assert row.split()[1:3] == ["-", "0"]


def prepared(tmp_path: Path) -> Path:
    target = tmp_path / "experiment.db"
    merge([str(fixture(GOOD))], str(target))
    return target


MISSING_FOLDER = {
    "merge": lambda t, m: ["merge", str(fixture(GOOD)), "-o", m],
    "verify": lambda t, m: ["verify", m],
    "summary": lambda t, m: ["summary", m],
    "query": lambda t, m: ["query", m, "SELECT 1"],
    "plot target": lambda t, m: ["plot", m, "-m", "total_agents", "-o", "x.png"],
    "plot output": lambda t, m: ["plot", str(t), "-m", "total_agents", "-o", m + ".png"],
    "db upgrade": lambda t, m: ["db", "upgrade", m],
    "db current": lambda t, m: ["db", "current", m],
}


@pytest.mark.parametrize("command", sorted(MISSING_FOLDER))
def test_a_missing_folder_is_exit_2_in_every_command(
    runner: CliRunner, tmp_path: Path, command: str
) -> None:
    target = prepared(tmp_path)
    missing = str(tmp_path / "no-such-folder" / "x.db")
    code, err = invoke(runner, *MISSING_FOLDER[command](target, missing))
    assert code == 2, err
    assert err.count("\n") == 1
    # readers say the database is missing, writers that its folder is
    assert "does not exist" in err or "no such experiment database" in err


@pytest.mark.parametrize("command", ["verify", "summary", "query", "plot target", "db current"])
def test_a_missing_target_is_exit_2_in_every_command(
    runner: CliRunner, tmp_path: Path, command: str
) -> None:
    missing = str(tmp_path / "typo.db")
    code, err = invoke(runner, *MISSING_FOLDER[command](tmp_path, missing))
    assert (code, err) == (2, f"Error: {missing}: no such experiment database\n")


def test_a_full_disk_on_output_is_one_line_not_a_traceback(tmp_path: Path) -> None:
    target = tmp_path / "t.db"
    assert merge([str(fixture("f8-consolidated__v40"))], str(target)).ok
    with open("/dev/full", "w") as full:
        done = subprocess.run(
            [sys.executable, "-m", "consolidate", "query", str(target), "SELECT * FROM agents"],
            stdout=full,
            stderr=subprocess.PIPE,
            text=True,
        )
    assert done.returncode == 1
    assert done.stderr.strip() == "Error: No space left on device", done.stderr


def test_ctrl_c_in_a_command_without_its_own_handler_exits_130(
    runner: CliRunner, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """verify, query, summary and plot: an interrupt is exit 130 with one line, as in merge."""
    import consolidate.proof.verification as verification

    target = tmp_path / "t.db"
    assert merge([str(fixture("f8-consolidated__v40"))], str(target)).ok

    def interrupted(*_: object, **__: object) -> None:
        raise KeyboardInterrupt

    monkeypatch.setattr(verification, "verify", interrupted)
    result = runner.invoke(cli, ["verify", str(target)])
    assert (result.exit_code, result.stderr.strip()) == (130, "Error: interrupted")


def test_ctrl_c_while_the_installed_command_starts_exits_130_without_a_traceback() -> None:
    """The console script's entry point installs the handler before importing the package's
    command line; a SIGINT at that point ends the process with 130 and nothing on stderr."""
    pyproject = (REPO / "pyproject.toml").read_text()
    assert 'consolidate = "consolidate.__main__:main"' in pyproject
    code = (
        "import os, signal, sys\n"
        "from consolidate.__main__ import main\n"
        "assert 'click' not in sys.modules and 'sqlalchemy' not in sys.modules\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "signal.pause()\n"
    )
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60)
    assert (done.returncode, done.stderr) == (130, "")
