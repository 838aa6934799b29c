"""Folders that cannot be read, FIFOs, symlink loops and dangling symlinks: each one is named and
rejected, a FIFO is never opened, and the good files beside them merge."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

from consolidate.layouts.inspection import inspect
from consolidate.merging.pipeline import merge
from consolidate.proof.verification import verify
from fixtures.make_fixtures import generate
from tests.conftest import REPO
from tests.helpers import NOBODY, ddl_of, fixture, shared_dir, unprivileged

__all__ = ["shared_dir"]  # a fixture

GOOD = ("f5-simid__v28", "f3-orm-intids__v20")


def odd_folder(root: Path, *, unreadable: bool) -> Path:
    """A folder holding two good runs and one of each oddity."""
    runs = root / "runs"
    (runs / "sub").mkdir(parents=True)
    for stem in GOOD:
        shutil.copy(fixture(stem), runs / f"{stem}.db")
    os.mkfifo(runs / "pipe.db")
    (runs / "loop-a.db").symlink_to(runs / "loop-b.db")
    (runs / "loop-b.db").symlink_to(runs / "loop-a.db")
    (runs / "sub" / "up").symlink_to(runs)  # a folder that contains itself
    (runs / "dangling.db").symlink_to(runs / "gone.db")
    if unreadable:
        (runs / "locked").mkdir()
        shutil.copy(fixture(GOOD[0]), runs / "locked" / "hidden.db")
        (runs / "locked").chmod(0)
    for path in [runs, runs / "sub"]:
        path.chmod(0o755)
    return runs


def run_cli(prefix: list[str], *args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [*prefix, sys.executable, "-m", "consolidate", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(REPO)},
    )


def unprivileged_merge(shared_dir: Path) -> tuple[list[str], Path, Path]:
    """The odd folder, unreadable part included, and an output folder the merge may write."""
    prefix = unprivileged()
    runs = odd_folder(shared_dir, unreadable=True)
    out = shared_dir / "out"
    out.mkdir()
    if prefix:
        os.chown(out, NOBODY, NOBODY)
    return prefix, runs, out


def test_every_oddity_is_named_and_the_good_files_merge(shared_dir: Path) -> None:
    prefix, runs, out = unprivileged_merge(shared_dir)
    done = run_cli(prefix, "merge", str(runs), "-o", str(out / "t.db"), "--json", cwd=shared_dir)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    report = json.loads(done.stdout)
    status = {Path(s["path"]).name: (s["status"], s["reason"]) for s in report["sources"]}
    assert status[f"{GOOD[0]}.db"][0] == status[f"{GOOD[1]}.db"][0] == "merged"
    assert "FIFO" in status["pipe.db"][1]
    assert "symlink loop" in status["loop-a.db"][1] and "symlink loop" in status["loop-b.db"][1]
    assert "symlink loop" in status["up"][1]
    assert "dangling symlink" in status["dangling.db"][1]
    assert "cannot be read" in status["locked"][1] and "ermission denied" in status["locked"][1]
    assert report["totals"]["rejected"] == 6
    rejected = [ln for ln in done.stderr.splitlines() if ln.startswith("rejected: ")]
    assert len(rejected) == 6  # one line each, naming the path
    for name in ("pipe.db", "loop-a.db", "loop-b.db", "sub/up", "dangling.db", "locked"):
        assert any(name in line for line in rejected), name


def test_a_named_path_inside_an_unreadable_folder_rejects_only_that_path(
    shared_dir: Path,
) -> None:
    prefix, runs, out = unprivileged_merge(shared_dir)
    good = runs / f"{GOOD[0]}.db"
    hidden = runs / "locked" / "hidden.db"
    done = run_cli(prefix, "merge", str(good), str(hidden), "-o", str(out / "t.db"), cwd=runs)
    assert done.returncode == 1, done.stderr
    assert "Traceback" not in done.stderr
    assert "rejected: locked/hidden.db: cannot be read (Permission denied)" in done.stderr
    assert "1 merged, 0 skipped, 1 rejected" in done.stdout


def test_a_fifo_named_or_found_is_never_opened(tmp_path: Path) -> None:
    """Opening a FIFO for reading would block this test forever: finishing is the proof."""
    runs = odd_folder(tmp_path, unreadable=False)
    report = merge([str(runs), str(runs / "pipe.db")], str(tmp_path / "t.db"))
    by_name = {Path(s.path).name: s for s in report.sources}
    assert by_name["pipe.db"].status == "rejected"
    assert by_name["pipe.db"].reason == "not a regular file (a FIFO; never opened)"
    assert report.count("merged") == 2
    described = {Path(r.path).name: r for r in inspect([str(runs)])}
    assert described["pipe.db"].problems == ("not a regular file (a FIFO; never opened)",)
    assert described["dangling.db"].problems[0].startswith("a dangling symlink (to ")


def test_verify_of_the_merged_folder_notes_the_rejected_files(tmp_path: Path) -> None:
    """What merge rejected is a note naming the file and its reason, not a mismatch."""
    runs = odd_folder(tmp_path, unreadable=False)
    shutil.copy(REPO / "fixtures" / "broken" / "no-tables.db", runs / "no-tables.db")
    (own_id,) = [r.simulation_id for r in inspect([str(runs / f"{GOOD[0]}.db")])]
    assert own_id is not None
    # another run claiming the same simulation_id: merge rejects one of the two
    generate(ddl_of(fixture(GOOD[0])), runs / "claims-the-same-id.db", seed=5, simulation_id=own_id)
    target = tmp_path / "t.db"
    merged = merge([str(runs)], str(target))
    assert merged.count("merged") == 2
    report = verify(str(target), [str(runs)])
    assert report.ok, report.mismatches
    assert [n for n in report.notes if f"its simulation_id {own_id} is held by" in n]
    notes = {n.split(": not compared: ")[0]: n for n in report.notes}
    reason = "a SQLite database with no tables"
    assert f"{runs / 'no-tables.db'}: not compared: merge rejects it ({reason})" in report.notes
    for name in ("pipe.db", "loop-a.db", "dangling.db", "no-tables.db"):
        assert str(runs / name) in notes, name
    assert len(report.sources_compared) == 2


def test_every_verify_line_about_a_source_names_it(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for stem in GOOD:
        shutil.copy(fixture(stem), runs / f"{stem}.db")
    target = tmp_path / "t.db"
    merge([str(runs)], str(target))
    changed = runs / f"{GOOD[0]}.db"
    with open(changed, "r+b") as handle:  # a byte that SQLite never reads: the hash changes
        handle.seek(72)  # the header's reserved bytes
        handle.write(b"\x01")
    extra = runs / "extra.db"
    shutil.copy(fixture("f2-raw-pascal__v11"), extra)
    report = verify(str(target), [str(runs)])
    assert not report.ok
    assert sorted(str(m).split(": ")[0] for m in report.mismatches) == [str(extra), str(changed)]
