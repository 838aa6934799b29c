"""The next sources are opened and read while the current one is written: what that must not
change (order, cleanup of sources read but never written, outcomes of bad sources), and how far
ahead it reads."""

from __future__ import annotations

import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pytest

from consolidate import SourceOutcome, merge, verify
from consolidate.errors import UsageError
from consolidate.merging import ahead
from fixtures.make_fixtures import generate
from tests.helpers import ddl_of, fixture, snapshot


@pytest.fixture
def private_tmp(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Where private copies of sources with a sidecar go, for this test alone."""
    folder = tmp_path / "tmp"
    folder.mkdir()
    monkeypatch.setattr(tempfile, "tempdir", str(folder))
    return folder


def test_a_stop_closes_the_source_read_ahead(tmp_path: Path, private_tmp: Path) -> None:
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    runs = tmp_path / "runs"
    generate(ddl, runs / "1_first.db", seed=1)
    generate(ddl, runs / "2_pending.db", seed=2, pending_wal=True)  # read through a copy
    generate(ddl, runs / "3_third.db", seed=3)
    before = snapshot(runs)
    seen: list[str] = []
    report = merge(
        [str(runs)],
        str(tmp_path / "t.db"),
        on_source=lambda outcome: seen.append(outcome.status),
        should_stop=lambda: bool(seen),  # stop once the first source is done
    )
    assert [s.status for s in report.sources] == ["merged"] and report.not_started == 2
    # The second source was opened (its private copy made) while the first was written: the
    # stop must close it, copy and all, and leave the sources as they were.
    assert list(private_tmp.iterdir()) == []
    assert snapshot(runs) == before
    again = merge([str(runs)], str(tmp_path / "t.db"))
    assert [s.status for s in again.sources] == ["skipped", "merged", "merged"]
    assert list(private_tmp.iterdir()) == []
    assert verify(str(tmp_path / "t.db")).ok


def test_outcomes_keep_the_order_of_the_sources(tmp_path: Path, private_tmp: Path) -> None:
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    runs = tmp_path / "runs"
    for n in range(6):
        generate(ddl, runs / f"{n}_run.db", seed=n, pending_wal=n == 4)
    (runs / "2_run.db").write_bytes(b"")  # rejected where it stands, the rest go on
    (runs / "3_run.db").write_bytes(b"not a database at all, just text")
    report = merge([str(runs)], str(tmp_path / "t.db"))
    names = [Path(s.path).name for s in report.sources]
    assert names == [f"{n}_run.db" for n in range(6)]
    statuses = [s.status for s in report.sources]
    assert statuses == ["merged", "merged", "rejected", "rejected", "merged", "merged"]
    assert "empty file" in (report.sources[2].reason or "")
    assert "not a SQLite database" in (report.sources[3].reason or "")
    assert list(private_tmp.iterdir()) == []
    assert verify(str(tmp_path / "t.db")).ok


def _pending_runs(folder: Path, count: int) -> None:
    """``count`` runs that each have a pending ``-wal``: each one read ahead is a private copy
    in the private tmp folder until it is closed."""
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    for n in range(count):
        generate(ddl, folder / f"{n:02d}_run.db", seed=n, agents=3, steps=3, pending_wal=True)


@pytest.mark.parametrize(("sources", "megabytes", "most"), [(3, 64, 3), (8, 0, 1)])
def test_sources_read_ahead_stay_within_the_bounds(
    tmp_path: Path,
    private_tmp: Path,
    monkeypatch: pytest.MonkeyPatch,
    sources: int,
    megabytes: int,
    most: int,
) -> None:
    monkeypatch.setattr(ahead, "AHEAD_SOURCES", sources)
    monkeypatch.setattr(ahead, "AHEAD_BYTES", megabytes << 20)
    runs = tmp_path / "runs"
    _pending_runs(runs, 10)
    held: list[int] = []

    def on_source(_outcome: object) -> None:
        if not held:
            time.sleep(0.5)  # the reading thread gets as far ahead as it may
        # Private copies of sources read ahead (the current one is closed by now).
        held.append(len(list(private_tmp.glob("consolidate-source-*"))))

    report = merge([str(runs)], str(tmp_path / "t.db"), on_source=on_source)
    assert [s.status for s in report.sources] == ["merged"] * 10
    assert len(held) == 10 and max(held) == held[0] == most, held  # as far as it may, no further
    assert held[-1] == 0 and list(private_tmp.iterdir()) == []
    assert verify(str(tmp_path / "t.db")).ok


def test_a_stop_closes_every_source_read_ahead(tmp_path: Path, private_tmp: Path) -> None:
    runs = tmp_path / "runs"
    _pending_runs(runs, ahead.AHEAD_SOURCES + 4)
    before = snapshot(runs)
    seen: list[str] = []

    def on_source(outcome: SourceOutcome) -> None:
        if not seen:
            time.sleep(0.5)  # several sources are read ahead, private copies made
        seen.append(outcome.status)

    report = merge(
        [str(runs)], str(tmp_path / "t.db"), on_source=on_source, should_stop=lambda: bool(seen)
    )
    assert [s.status for s in report.sources] == ["merged"]
    assert report.not_started == ahead.AHEAD_SOURCES + 3
    assert list(private_tmp.iterdir()) == [] and snapshot(runs) == before
    again = merge([str(runs)], str(tmp_path / "t.db"))
    assert [s.status for s in again.sources] == ["skipped"] + ["merged"] * (ahead.AHEAD_SOURCES + 3)
    assert verify(str(tmp_path / "t.db")).ok


def test_a_pending_sidecar_counts_toward_the_bytes_read_ahead(
    tmp_path: Path, private_tmp: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    runs = tmp_path / "runs"
    _pending_runs(runs, 10)
    each = sum(p.stat().st_size for p in runs.glob("00_run.db*"))  # the file and its -wal
    monkeypatch.setattr(ahead, "AHEAD_BYTES", 3 * each - 1)  # three ahead: not four or five
    held: list[int] = []

    def on_source(_outcome: object) -> None:
        if not held:
            time.sleep(0.5)
        held.append(len(list(private_tmp.glob("consolidate-source-*"))))

    merge([str(runs)], str(tmp_path / "t.db"), on_source=on_source)
    assert held[0] == max(held) == 3, held


def test_a_merge_into_a_new_file_reads_its_sources_before_sqlalchemy_loads(
    tmp_path: Path,
) -> None:
    """Into a new file the workers are forked and the first sources read before SQLAlchemy is
    imported (its import then overlaps their checks); into an existing one, after the target
    is open, as before. Seen from a fresh process, where nothing has imported SQLAlchemy yet."""
    runs = tmp_path / "runs"
    generate(ddl_of(fixture("f7-slim-actions__v33")), runs / "a.db", seed=1)
    code = (
        "import sys\n"
        "from consolidate.layouts import workers\n"
        "from consolidate.merging import ahead\n"
        "seen = []\n"
        "started, enter = workers.started, ahead.ReadAhead.__enter__\n"
        "def spy(what, real):\n"
        "    def called(*args):\n"
        "        seen.append((what, 'sqlalchemy' in sys.modules))\n"
        "        return real(*args)\n"
        "    return called\n"
        "workers.started = spy('fork', started)\n"
        "ahead.ReadAhead.__enter__ = spy('read', enter)\n"
        "from consolidate import merge\n"
        "assert merge([sys.argv[1]], sys.argv[2]).ok\n"
        "print(seen)\n"
    )
    target = tmp_path / "t.db"
    new = subprocess.run(
        [sys.executable, "-c", code, str(runs), str(target)], capture_output=True, text=True
    )
    assert new.returncode == 0, new.stderr
    assert new.stdout.strip() == "[('fork', False), ('read', False)]"
    generate(ddl_of(fixture("f7-slim-actions__v33")), runs / "b.db", seed=2)
    existing = subprocess.run(
        [sys.executable, "-c", code, str(runs), str(target)], capture_output=True, text=True
    )
    assert existing.returncode == 0, existing.stderr
    assert existing.stdout.strip() == "[('fork', True), ('read', True)]"


def test_a_new_file_that_cannot_be_made_closes_the_sources_read_ahead(
    tmp_path: Path, private_tmp: Path
) -> None:
    runs = tmp_path / "runs"
    _pending_runs(runs, 3)  # each one read ahead is a private copy
    before = snapshot(runs)
    with pytest.raises(UsageError, match="does not exist"):
        merge([str(runs)], str(tmp_path / "no such folder" / "t.db"))
    assert list(private_tmp.iterdir()) == []
    assert snapshot(runs) == before
