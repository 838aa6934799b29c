"""A SQLite target's WAL checkpoints run on a thread beside the merge's writes
(``sinks.checkpoints``): the merge's own connections never checkpoint, the thread copies the
committed pages into the database file, and the log is kept from growing without bound."""

from __future__ import annotations

import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from consolidate import merge, verify
from consolidate.merging import pipeline
from consolidate.schema.targets import central_engine
from consolidate.sinks import checkpoints
from consolidate.sinks.checkpoints import Checkpoints
from tests.test_merge_indexes import build_corpus

PAGE = 4096


def in_file(path: Path, table: str) -> int:
    """Rows of ``table`` in the database file itself (``immutable`` reads never look at -wal);
    0 while the file does not even hold the table."""
    uri = f"{path.as_uri()}?mode=ro&immutable=1"
    with closing(sqlite3.connect(uri, uri=True)) as conn:
        try:
            count: int = conn.execute(f"SELECT count(*) FROM {table}").fetchone()[0]
        except sqlite3.OperationalError as exc:
            assert "no such table" in str(exc)
            return 0
        return count


def writer(path: Path) -> sqlite3.Connection:
    """A connection that writes as the merge's do: WAL, and no checkpoint of its own."""
    conn = sqlite3.connect(path, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA wal_autocheckpoint=0")
    conn.execute("CREATE TABLE blobs (n INTEGER PRIMARY KEY, data BLOB)")
    return conn


def write_transaction(conn: sqlite3.Connection, k: int) -> None:
    """One transaction of 64 pages."""
    conn.execute("BEGIN IMMEDIATE")
    conn.execute("INSERT INTO blobs VALUES (?, randomblob(?))", (k, 64 * PAGE))
    conn.execute("COMMIT")


def test_drained_pages_are_in_the_file_and_the_log_starts_again(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Without the thread the log holds every transaction (the control); with a drain after each
    # commit, each one's pages are in the file when committed() returns, and the next writer
    # starts the log from its beginning, so -wal stays about one transaction long.
    control = writer(tmp_path / "control.db")
    for k in range(40):
        write_transaction(control, k)
    grown = (tmp_path / "control.db-wal").stat().st_size
    assert grown > 40 * 64 * PAGE
    assert in_file(tmp_path / "control.db", "blobs") == 0

    monkeypatch.setattr(checkpoints, "DRAIN_SECONDS", 0.0)
    monkeypatch.setattr(checkpoints, "KICK_BYTES", 0)
    path = tmp_path / "drained.db"
    conn = writer(path)
    with Checkpoints(str(path)) as after:
        for k in range(40):
            write_transaction(conn, k)
            after.committed()
            assert in_file(path, "blobs") == k + 1
    assert (tmp_path / "drained.db-wal").stat().st_size < 4 * 64 * PAGE
    control.close()
    conn.close()


def test_a_short_log_is_left_to_the_last_close(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Under KICK_BYTES (SQLite's own 1,000 pages) nothing is copied, drain or not: a short merge
    # must not wait at its end for a checkpoint of a few pages; past it, a drain copies them.
    monkeypatch.setattr(checkpoints, "DRAIN_SECONDS", 0.0)
    path = tmp_path / "short.db"
    conn = writer(path)
    with Checkpoints(str(path)) as after:
        write_transaction(conn, 0)
        after.committed()
        assert in_file(path, "blobs") == 0
        monkeypatch.setattr(checkpoints, "KICK_BYTES", 64 * PAGE)
        after.committed()
        assert in_file(path, "blobs") == 1
    conn.close()


def test_a_database_it_cannot_open_yet_is_checkpointed_once_it_can(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The thread's own connection failing (here: no such folder yet) must not fail the writer
    # nor leave it waiting, and the thread tries again at the next checkpoint.
    monkeypatch.setattr(checkpoints, "DRAIN_SECONDS", 0.0)
    monkeypatch.setattr(checkpoints, "KICK_BYTES", 0)
    path = tmp_path / "later" / "x.db"
    with Checkpoints(str(path)) as after:
        after.committed()  # a drain, answered without a connection
        path.parent.mkdir()
        conn = writer(path)
        write_transaction(conn, 0)
        assert in_file(path, "blobs") == 0
        after.committed()
        assert in_file(path, "blobs") == 1
    conn.close()


def test_merge_connections_leave_checkpoints_to_the_thread(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    engine = central_engine(tmp_path / "t.db", wal_autocheckpoint=False)
    with engine.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 0
    engine.dispose()
    default = central_engine(tmp_path / "t.db")
    with default.connect() as conn:
        assert conn.exec_driver_sql("PRAGMA wal_autocheckpoint").scalar() == 1000
    default.dispose()

    # A merge drains after each source when told to: every source merged so far is in the
    # database file itself when its outcome is reported, not only in the log.
    monkeypatch.setattr(checkpoints, "DRAIN_SECONDS", 0.0)
    monkeypatch.setattr(checkpoints, "KICK_BYTES", 0)
    runs, target = tmp_path / "runs", tmp_path / "experiment.db"
    runs.mkdir()
    build_corpus(runs, 6)
    seen: list[int] = []

    def on_source(_outcome: object) -> None:
        seen.append(in_file(target, "simulations"))

    report = merge([str(runs)], target, on_source=on_source)
    assert [o.status for o in report.sources] == ["merged"] * 6
    assert seen == [1, 2, 3, 4, 5, 6]
    assert verify(str(target)).ok


def test_with_several_writing_threads_sqlite_keeps_its_own_checkpoints(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With --jobs N the next thread begins before a drain could end, so the log would never
    # start again: the thread is not started, and SQLite checkpoints in the commits as before.
    started: list[str] = []

    class Counted(Checkpoints):
        def __enter__(self) -> Checkpoints:
            started.append("thread")
            return super().__enter__()

    monkeypatch.setattr(pipeline, "Checkpoints", Counted)
    runs = tmp_path / "runs"
    runs.mkdir()
    build_corpus(runs, 4)
    two = merge([str(runs)], tmp_path / "two.db", jobs=2)
    assert started == [] and all(o.status == "merged" for o in two.sources)
    one = merge([str(runs)], tmp_path / "one.db")
    assert started == ["thread"] and all(o.status == "merged" for o in one.sources)
