"""The next source is opened and read while the current one is written: what that must not
change (order, cleanup of a source read but never written, outcomes of bad sources)."""

from __future__ import annotations

import tempfile
from pathlib import Path

import pytest

from consolidate import merge, verify
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
