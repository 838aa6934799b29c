"""One run file's transaction: decide, record provenance, copy, check, seal.

What the merge of every source shares (:class:`Job`) and what happens inside the transaction of
one run file; ``pipeline`` finds the sources and hands each one here (experiment databases go to
``experiments``, one transaction per simulation).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
from collections.abc import Callable
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import dataclass, field, replace

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from consolidate.errors import SourceError
from consolidate.layouts.reading import OpenSource
from consolidate.merging import ledger
from consolidate.merging.checks import SourceChecks
from consolidate.merging.ledger import OnConflict
from consolidate.merging.planning import Plan
from consolidate.merging.prepared import Reading
from consolidate.merging.report import SourceOutcome, merged
from consolidate.sinks import Sink, for_target

TableCallback = Callable[[str, int, float], None]


class ExperimentRow:
    """The target's experiment row, made once per merge by the first run file about to merge.

    Not up front: a merge of experiment databases alone (each simulation keeps its experiment)
    must not leave an empty experiment named after the target. Not inside the source's
    transaction either: concurrent jobs would queue on the uncommitted row (PostgreSQL).
    """

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._made = False

    def make(self, conn: Connection, experiment_id: str) -> None:
        """On ``conn``, outside any transaction: one short committed transaction, the first time."""
        with self._lock:
            if not self._made:
                with conn.begin():
                    ledger.ensure_experiment(conn, experiment_id)
                self._made = True


@dataclass(frozen=True)
class Job:
    engine: Engine | None
    experiment_id: str
    plan: Plan | None  # set for --dry-run
    replace: bool
    on_conflict: OnConflict
    on_table: TableCallback | None
    write_lock: threading.Lock | None  # SQLite targets: one writing thread at a time
    known: ledger.Snapshot | None = None  # what the target held when the merge started
    #: Threads that hash and check a source beside its copy (two per source, see
    #: merging.checks), started once per merge: a thread per source cost a small source almost
    #: a millisecond.
    checks: Executor | None = None
    should_stop: Callable[[], bool] | None = None  # asked between an experiment's simulations too
    #: Called after each source's (and simulation's) transaction, outside it: a SQLite target's
    #: checkpoints (``sinks.checkpoints``).
    after_commit: Callable[[], None] | None = None
    experiment_row: ExperimentRow = field(default_factory=ExperimentRow)

    @property
    def reading(self) -> Reading:
        """What reading its sources ahead of their transactions needs."""
        return Reading(self.checks, self.known, dry_run=self.plan is not None)


def merge_read(
    opened: OpenSource,
    base: SourceOutcome,
    legacy_row: dict[str, object] | None,
    job: Job,
    *,
    checked: SourceChecks | None = None,
) -> SourceOutcome:
    """The transaction of a source already read (``base`` holds its counts).

    ``checked`` is its integrity and value checks under way (see ``merging.prepared``); when
    None they are started here, beside the copy.
    """
    if job.plan is not None:
        if job.engine is None:  # the target does not exist (yet)
            return job.plan.source(None, opened, base)
        with job.engine.connect() as conn:
            return job.plan.source(conn, opened, base)
    assert job.engine is not None
    with contextlib.ExitStack() as stack:
        if job.after_commit is not None:  # last: the lock released, the connection given back
            stack.callback(job.after_commit)
        if job.write_lock is not None:
            # SQLite has one writer: threads of --jobs queue here, not on the busy timeout.
            stack.enter_context(job.write_lock)
        conn = stack.enter_context(job.engine.connect().execution_options(write_lock=True))
        job.experiment_row.make(conn, job.experiment_id)
        try:
            sink = for_target(conn)
            with sink.session(conn, opened), conn.begin():
                return _write(conn, sink, opened, base, legacy_row, job, checked)
        except ledger.Skipped as skipped:  # the transaction was rolled back
            return replace(base, status="skipped", reason=str(skipped))


def _write(
    conn: Connection,
    sink: Sink,
    opened: OpenSource,
    base: SourceOutcome,
    legacy_row: dict[str, object] | None,
    job: Job,
    checked: SourceChecks | None,
) -> SourceOutcome:
    """One source's transaction: decide, record provenance, copy, check, seal.

    Two locks make concurrent merges (other processes, other machines) safe: one on the
    simulation_id before the ledger is read, one on the content hash before looking for a twin.
    They are always taken in that order, so two merges never wait on each other in a cycle.
    """
    sink.lock(conn, f"simulation:{base.simulation_id}")
    decision = _decide(conn, opened, base, job)
    if decision.simulation_id != base.simulation_id:
        sink.lock(conn, f"simulation:{decision.simulation_id}")
    if decision.action in ("skip", "reject"):
        status = "skipped" if decision.action == "skip" else "rejected"
        return replace(base, status=status, reason=decision.reason)
    if decision.action == "replace":
        ledger.forget(conn, decision.simulation_id)
    ledger.record(
        conn,
        simulation_id=decision.simulation_id,
        experiment_id=job.experiment_id,
        source_path=str(opened.path),
        sha256=None,
        family=opened.layout.family,
        schema_version=opened.layout.schema_version,
        counts=base.rows,
        legacy_row=legacy_row,
    )
    # Hashing and the integrity check each read the whole source; they run beside the copy
    # (sqlite3 and hashlib release the GIL) and both must be done before the commit.
    with contextlib.ExitStack() as stack:
        if checked is None:
            checks = job.checks or stack.enter_context(ThreadPoolExecutor(max_workers=2))
            checked = SourceChecks(checks, opened.file)
        own, sim = base.simulation_id or "", decision.simulation_id
        try:
            written = sink.copy_tables(conn, opened, sim, own, on_table=job.on_table)
        except (SourceError, SQLAlchemyError, sqlite3.Error):
            checked.result()  # a value no target can carry is the reason, on every sink
            raise
        except BaseException:
            checked.wait()  # the source is closed next: the check must be done reading it
            raise
        sha256 = checked.result()
    sink.lock(conn, f"content:{sha256}")
    ledger.refuse_twin(conn, sha256, besides=decision.simulation_id)
    ledger.seal(conn, decision.simulation_id, sha256)
    if written != {table: rows for table, rows in base.rows.items() if table in written}:
        raise SourceError(str(opened.path), f"rows read {base.rows} but written {written}")
    return merged(base, decision.simulation_id, decision.reason, written)


def _decide(conn: Connection, opened: OpenSource, base: SourceOutcome, job: Job) -> ledger.Decision:
    return ledger.decide(
        conn,
        simulation_id=base.simulation_id or "",
        sha256=lambda: opened.sha256,
        source_path=str(opened.path),
        replace=job.replace,
        on_conflict=job.on_conflict,
    )
