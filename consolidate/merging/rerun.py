"""A re-run's shortcut: a source the ledger already holds byte for byte is skipped from the
ledger's snapshot, after reading only its bytes (the hash), and its own simulation_id when
the ledger's record of it cannot tell that (``Snapshot.simulation_id``).

What it decides is what ``ledger.decide`` would decide for the same bytes at the same path, so
the outcome (status, reason, layout, counts) is the one the full path reports; whenever it is
not sure it returns None and the source takes the full path.

A re-run over sources that are all merged already does nothing but this, so it is done before
anything heavy is loaded (:func:`first_pass`, with plain ``sqlite3``): the target is read, the
sources are found and each is hashed, on two threads (hashlib and sqlite3 release the GIL).
SQLAlchemy and Alembic are imported only when some source needs the full path, which then
starts from what the pass found (:class:`Pass`) instead of doing it again.
"""

from __future__ import annotations

import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import closing
from dataclasses import dataclass
from functools import partial
from pathlib import Path

from consolidate.errors import SourceError
from consolidate.merging import snapshot
from consolidate.merging.report import SourceOutcome
from consolidate.merging.snapshot import Snapshot
from consolidate.merging.threads import Task, Threads
from consolidate.schema.columns import CENTRAL_COLUMNS
from consolidate.schema.head import HEAD, INDEXES
from consolidate.sources.discover import SourceFile, discover
from consolidate.sources.opening import open_file, plain_sha256, plain_uri

#: Milliseconds to wait for another writer's lock, as the merge's engine waits.
_BUSY_MS = 60_000
#: Sources hashed per task at most, and the fewest tasks a long list is cut into (see
#: ``_Decisions``).
_BATCH = 32
_TASKS = 64
#: The tables that hold per-simulation rows (``schema.DATA_TABLES``, without SQLAlchemy).
_DATA = tuple(t for t in CENTRAL_COLUMNS if t not in ("experiments", "simulations"))


def already_merged(source: SourceFile, known: Snapshot) -> SourceOutcome | None:
    """The skipped outcome of a source merged before from identical bytes, else None; its
    seconds are this call's."""
    started = time.perf_counter()
    sha256 = plain_sha256(source.path)
    try:
        if sha256 is None:  # a sidecar, or a problem: open_file reads it (or names it)
            with open_file(source.path, resolved=True) as file:
                return _decided(source, known, file.sha256, file.read_uri, started)
        return _decided(source, known, sha256, None, started)
    except SourceError:
        return None  # the full path names the problem


def _decided(
    source: SourceFile, known: Snapshot, sha256: str, read_uri: str | None, started: float
) -> SourceOutcome | None:
    path = str(source.path)
    if not known.holds_bytes(path, sha256):
        return None  # changed since: no need to read its id (nothing could skip it)
    simulation_id = known.simulation_id(path, sha256, path_id=source.path_id)
    if simulation_id is None:  # the ledger cannot tell: read it (a third of the time)
        sure, own = _own_id(read_uri or plain_uri(source.path))
        if not sure:
            return None
        simulation_id = own or source.path_id
    hit = known.already_merged(simulation_id=simulation_id, source_path=path, sha256=sha256)
    if hit is None:
        return None
    merged, reason = hit
    return SourceOutcome(
        path=path,
        status="skipped",
        simulation_id=simulation_id,
        reason=reason,
        family=merged.family,
        schema_version=merged.schema_version,
        rows=merged.counts,
        seconds=time.perf_counter() - started,
    )


def _own_id(read_uri: str) -> tuple[bool, str | None]:
    """The id in the file's ``simulations`` table as ``OpenSource.own_simulation_id`` reads it
    (SQLite resolves the table's name ignoring case, as mapping does), and whether it is sure."""
    try:
        with closing(sqlite3.connect(read_uri, uri=True, isolation_level=None)) as conn:
            rows = conn.execute("SELECT simulation_id FROM simulations LIMIT 2").fetchall()
    except sqlite3.OperationalError as exc:
        return str(exc).startswith("no such table"), None
    except sqlite3.Error:
        return False, None
    if len(rows) == 1 and isinstance(rows[0][0], str) and rows[0][0]:
        return True, rows[0][0]
    return True, None


@dataclass(frozen=True)
class Pass:
    """What the first pass of a re-run found and decided, for the full path to go on from."""

    target: Path  # the SQLite target, resolved
    files: tuple[SourceFile, ...]  # every source found, in the merge's order
    #: Sources skipped from the snapshot, by path, each already given to ``on_source``.
    skipped: dict[Path, SourceOutcome]
    #: Held paths whose bytes the snapshot did not skip: the full path asks the ledger at once,
    #: without hashing them again.
    unsure: frozenset[str]
    #: Nothing is left to do: every source looked at was skipped, and the target is complete.
    done: bool

    @property
    def rest(self) -> list[SourceFile]:
        """The sources the full path still has to take, in order."""
        return [f for f in self.files if f.path not in self.skipped]

    def combined(self, outcomes: Sequence[SourceOutcome]) -> list[SourceOutcome]:
        """The skipped outcomes and the full path's (of :attr:`rest`), in the sources' order."""
        theirs: dict[str, list[SourceOutcome]] = {}
        for outcome in outcomes:
            theirs.setdefault(outcome.path, []).append(outcome)
        combined: list[SourceOutcome] = []
        for file in self.files:
            hit = self.skipped.get(file.path)
            combined += [hit] if hit is not None else theirs.get(file.label or str(file.path), [])
        return combined


def first_pass(
    sources: Sequence[str | Path],
    target: object,
    *,
    on_plan: Callable[[int], None] | None = None,
    on_source: Callable[[SourceOutcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> Pass | None:
    """Skip from the ledger's snapshot every source merged already, with ``sqlite3`` alone.

    None (nothing decided or reported: the full path starts from scratch) unless ``target`` is
    a SQLite file a merge that merges nothing would leave as it is (see
    :func:`complete_target`) and every source is a path. Otherwise ``on_plan`` is called with
    the sources found (found while the target was read) and every one the ledger holds by its
    path is hashed and decided, the next ones on two threads.

    Raises:
        UsageError: as ``discover`` (the full path would raise the same, before the target).
    """
    path = _sqlite_file(target)
    if path is None or any("://" in str(s) for s in sources):
        return None
    skipped: dict[Path, SourceOutcome] = {}
    unsure: set[str] = set()
    done = True
    with Threads(2) as hashing:
        # The target is read while the sources are found (both wait on the system more than on
        # the GIL); a target the full path must take has them found again there.
        reading = hashing.submit(partial(complete_target, path))
        try:
            files = tuple(discover([str(s) for s in sources], exclude=path))
        finally:
            known = reading.result()
        if known is None:
            return None
        if on_plan is not None:
            on_plan(len(files))
        held = _Decisions(
            hashing, [f for f in files if f.problem is None and known.holds(str(f.path))], known
        )
        try:
            for file in files:
                if should_stop is not None and should_stop():
                    break  # the rest is not started (below, the threads start no further source)
                outcome = held.outcome(file.path)
                if outcome is None:
                    done = False  # a new, changed or unusable source: the full path's
                    if held.holds(file.path):
                        unsure.add(str(file.path))
                    continue
                skipped[file.path] = outcome
                if on_source is not None:
                    on_source(outcome)
        finally:
            held.stop()  # and leaving the block cancels the batches not begun
    return Pass(path, files, skipped, frozenset(unsure), done)


class _Decisions:
    """The held sources' decisions, made on the pool's threads in batches.

    A task per source cost a small one more than hashing it (a thousand hand-overs between the
    threads, each waiting for the GIL), so sources go in batches of up to ``_BATCH`` files (see
    :func:`_batches`), and a short list in batches of one, so that both threads have work. Each
    source's outcome (or error) is its own: a stop ends every batch before its next source,
    and an error is raised at its source, after those before it.
    """

    def __init__(self, pool: Threads, held: list[SourceFile], known: Snapshot) -> None:
        self._known = known
        self._stopped = threading.Event()
        self._where: dict[Path, tuple[Task[list[SourceOutcome | Exception | None]], int]] = {}
        for batch in _batches(held):
            task = pool.submit(partial(self._decide, batch))
            self._where.update((s.path, (task, n)) for n, s in enumerate(batch))

    def holds(self, path: Path) -> bool:
        return path in self._where

    def outcome(self, path: Path) -> SourceOutcome | None:
        """The skipped outcome of the source at ``path`` (waiting for it), or None."""
        where = self._where.get(path)
        if where is None:
            return None
        decided = where[0].result()[where[1]]
        if isinstance(decided, Exception):
            raise decided
        return decided

    def stop(self) -> None:
        self._stopped.set()

    def _decide(self, batch: list[SourceFile]) -> list[SourceOutcome | Exception | None]:
        decided: list[SourceOutcome | Exception | None] = []
        for source in batch:
            if self._stopped.is_set():
                break  # never asked for: the caller stopped before this source
            try:
                decided.append(already_merged(source, self._known))
            except Exception as exc:  # raised where the caller reaches this source
                decided.append(exc)
        return decided


def _batches(held: list[SourceFile]) -> Iterator[list[SourceFile]]:
    # At least _TASKS batches (one file each for a short list), cut by count: the last batch,
    # the one that may leave a thread idle, is then a 64th of the files. Their sizes are never
    # asked for (a stat per file, in this thread, held the GIL from the hashing threads): a
    # batch holding a large file takes longer while the other thread goes on with the next.
    most = max(1, min(_BATCH, len(held) // _TASKS))
    for start in range(0, len(held), most):
        yield held[start : start + most]


def _sqlite_file(target: object) -> Path | None:
    """The file a target names when it is a plain path to an existing file (as ``target_url``
    reads a path); None for a URL, ``:memory:`` or a file not made yet."""
    if not isinstance(target, str | Path) or "://" in str(target) or str(target) == ":memory:":
        return None
    path = Path(target).expanduser().resolve()
    return path if path.is_file() else None


def complete_target(path: Path) -> Snapshot | None:
    """The ledger's snapshot of a target that a merge which merges nothing leaves as it is: an
    experiment database in WAL mode at the schema head with every declared index and some data
    row; else None (the full path then finds out what to do or what is wrong, and says so).

    Read in one transaction on a plain connection, as the merge's engine reads it (waiting on
    another writer's lock, never taking one).
    """
    try:
        with closing(sqlite3.connect(path, timeout=_BUSY_MS / 1000, isolation_level=None)) as conn:
            conn.execute("BEGIN")
            names = conn.execute("SELECT type, tbl_name, name FROM sqlite_master").fetchall()
            if ("table", "alembic_version", "alembic_version") not in names:
                return None
            revisions = conn.execute("SELECT version_num FROM alembic_version").fetchall()
            if revisions != [(HEAD,)] or conn.execute("PRAGMA journal_mode").fetchone() != ("wal",):
                return None
            if not {("index", table, index) for table, index in INDEXES} <= set(names):
                return None  # a merge stopped before its end: the full path builds them
            if not any(conn.execute(f'SELECT 1 FROM "{t}" LIMIT 1').fetchone() for t in _DATA):
                return None  # no data row yet: the full path defers (drops) the indexes
            return snapshot.read(conn)
    except sqlite3.Error:
        return None
