"""``merge``'s full path: many legacy run files into one experiment database, one transaction
per source (``entry.merge`` is the way in: a re-run with nothing to do never gets here).

For each source: open it read-only and recognise it; count its rows; reject it if anything in it
has no home; ask the ledger whether it is new, already merged, changed or in conflict; then, in
one transaction, record its provenance and copy its rows. A failure anywhere rolls that source
back and the next one goes on.
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from concurrent.futures import Executor, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from sqlalchemy import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from consolidate.errors import SourceError
from consolidate.layouts import remote, workers
from consolidate.merging import experiments, indexes, ledger, rerun
from consolidate.merging.ahead import Begun, ReadAhead
from consolidate.merging.ledger import OnConflict
from consolidate.merging.planning import Plan
from consolidate.merging.prepared import Prepared, prepare
from consolidate.merging.report import (
    MergeReport,
    SourceOutcome,
    database_reason,
    summarise,
)
from consolidate.merging.source_transaction import Job, TableCallback, merge_read
from consolidate.schema import migrations
from consolidate.schema.targets import central_engine, describe, sqlite_path, target_url
from consolidate.sinks.checkpoints import Checkpoints
from consolidate.sources.discover import SourceFile


def merge(
    sources: Sequence[str],
    target: str | Path | URL,
    *,
    experiment_id: str | None = None,
    dry_run: bool = False,
    replace: bool = False,
    on_conflict: OnConflict | str = OnConflict.ERROR,
    jobs: int = 1,
    on_source: Callable[[SourceOutcome], None] | None = None,
    on_table: TableCallback | None = None,
    on_plan: Callable[[int], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
    after: rerun.Pass | None = None,
    begun: Begun | None = None,
    started: float | None = None,
) -> MergeReport:
    """The full path of :func:`consolidate.merging.entry.merge` (the same arguments), which
    every source takes that a re-run's first pass could not skip from memory.

    ``after``: what that pass found and decided. Its sources are not found again (nor
    ``on_plan`` called twice), those it skipped are not read again and keep their outcomes, and
    those it hashed without skipping go straight to the ledger.

    ``begun``: a merge into a new SQLite file that ``entry`` began (sources found, ``on_plan``
    called, check workers forked, the first sources read ahead); it goes on from there.

    ``started``: ``perf_counter()`` when the caller's merge began (the report's seconds then
    include loading this module); default: now.
    """
    if started is None:
        started = time.perf_counter()
    url = target if isinstance(target, URL) else target_url(target)
    target_path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    exclude = Path(target_path) if target_path else None
    found = contextlib.ExitStack()  # private copies of sources named by URL live until the end
    engine: Engine | None = None  # closed with them below, however the merge ends
    try:
        if begun is not None:
            files = begun.files
        elif after is not None:
            files = after.rest
        else:
            files = found.enter_context(remote.sources(sources, exclude=exclude))
            if on_plan is not None:
                on_plan(len(files))
        experiment = experiment_id or _default_experiment_id(url)
        # Two check workers per source at a time (merging.checks), so --jobs N wants 2N; forked
        # before the target is opened or any thread started (a dry run checks in its plan).
        pool = begun.checks if begun is not None else None
        if pool is None and not dry_run:
            pool = found.enter_context(workers.started(2 * max(1, jobs)))
        engine = _open_target(url, dry_run=dry_run, target_path=target_path, jobs=jobs)
        checkpoints = None
        if engine is not None and _checkpoints_beside(target_path, dry_run=dry_run, jobs=jobs):
            assert target_path is not None
            checkpoints = found.enter_context(Checkpoints(target_path))
        seconds: dict[str, float] = defaultdict(float)
        counting = threading.Lock()  # PostgreSQL with --jobs N copies on N threads at once

        def table_done(table: str, rows: int, spent: float) -> None:
            with counting:
                seconds[table] += spent
            if on_table is not None:  # outside the lock: a caller's callback may wait on others
                on_table(table, rows, spent)

        conflict = OnConflict(on_conflict)
        job = Job(
            engine=engine,
            experiment_id=experiment,
            plan=Plan(replace=replace, on_conflict=conflict) if dry_run else None,
            replace=replace,
            on_conflict=conflict,
            on_table=table_done,
            write_lock=threading.Lock() if url.get_backend_name() == "sqlite" else None,
            should_stop=should_stop,
            after_commit=checkpoints.committed if checkpoints is not None else None,
        )
        if engine is None or dry_run:
            outcomes = _run_all(files, job, jobs, on_source, should_stop)
        else:
            with engine.connect() as conn, conn.begin():  # a read: no write lock needed
                job = _with_snapshot(job, conn, after)
            indexes.defer(engine)  # a new SQLite target: build the lookup indexes at the end
            job = _with_checks(job, pool)
            ahead = begun.ahead if begun is not None else None
            outcomes = _run_all(files, job, jobs, on_source, should_stop, ahead=ahead)
            indexes.complete(engine)  # also after a Ctrl-C, and what a killed merge left
    finally:
        found.close()
        if engine is not None:
            engine.dispose()
    not_started = len(files) - len({o.path for o in outcomes})  # a file: one path or more
    if after is not None:
        outcomes = after.combined(outcomes)
    return MergeReport(
        target=describe(url),
        experiment_id=experiment,
        dry_run=dry_run,
        sources=tuple(outcomes),
        tables=summarise(outcomes, seconds),
        seconds=time.perf_counter() - started,
        not_started=not_started,
    )


def _with_snapshot(job: Job, conn: Connection, after: rerun.Pass | None) -> Job:
    """``job`` knowing what the ledger holds, so a re-run skips merged sources from memory
    (those ``after`` hashed and did not skip are decided by the ledger without a second look)."""
    known = ledger.snapshot(conn)
    return replace(job, known=known.without(after.unsure) if after is not None else known)


def _with_checks(job: Job, checks: Executor | None) -> Job:
    return replace(job, checks=checks)  # ``replace`` is an argument's name inside merge()


def _default_experiment_id(url: URL) -> str:
    path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    return Path(path).stem if path else (url.database or "experiment")


def _checkpoints_beside(target_path: str | None, *, dry_run: bool, jobs: int) -> bool:
    """Whether a SQLite target's log is checkpointed on a thread beside the writes
    (``sinks.checkpoints``) instead of in the commits. Not with ``--jobs N``: the next thread
    would begin its transaction before the checkpoint ends, so the log would never start again
    from its beginning (with one writer, ``Checkpoints.committed`` waits for that)."""
    return target_path is not None and not dry_run and jobs <= 1


def _open_target(url: URL, *, dry_run: bool, target_path: str | None, jobs: int) -> Engine | None:
    """The target's engine, at the schema head; None for a dry run on a target not made yet."""
    if dry_run and target_path is not None and not Path(target_path).is_file():
        return None  # a dry run never creates the target
    # One pooled connection per worker thread, so --jobs never waits on the pool.
    beside = _checkpoints_beside(target_path, dry_run=dry_run, jobs=jobs)
    engine = central_engine(url, pool_size=max(5, jobs + 1), wal_autocheckpoint=not beside)
    try:
        if dry_run and migrations.current(engine) is None:
            migrations.refuse_foreign(engine)
            engine.dispose()
            return None  # an empty database: the real merge would create the schema
        migrations.require_current(engine, name=describe(url), create=not dry_run)
    except BaseException:
        engine.dispose()
        raise
    return engine


def _run_all(
    files: list[SourceFile],
    job: Job,
    jobs: int,
    on_source: Callable[[SourceOutcome], None] | None,
    should_stop: Callable[[], bool] | None = None,
    *,
    ahead: ReadAhead | None = None,
) -> list[SourceOutcome]:
    if jobs <= 1:
        return _run_in_order(files, job, on_source, should_stop, ahead=ahead)

    def run(source: SourceFile) -> list[SourceOutcome] | None:
        if should_stop is not None and should_stop():
            return None  # stopped before this source began: nothing of it was written
        return merge_one(source, job, on_source)

    with ThreadPoolExecutor(max_workers=jobs) as pool:
        return [o for batch in pool.map(run, files) if batch is not None for o in batch]


def _run_in_order(
    files: list[SourceFile],
    job: Job,
    on_source: Callable[[SourceOutcome], None] | None,
    should_stop: Callable[[], bool] | None,
    *,
    ahead: ReadAhead | None = None,
) -> list[SourceOutcome]:
    """One source at a time, the next ones opened and read (their checks started) in a second
    thread while the current one is written (see :mod:`consolidate.merging.ahead`); ``ahead``:
    that reading begun already (its owner closes it)."""
    outcomes: list[SourceOutcome] = []
    begun = contextlib.nullcontext(ahead) if ahead is not None else None
    with begun or ReadAhead(files, job.reading) as reading:
        for _ in files:
            if should_stop is not None and should_stop():
                break  # before this source began: nothing of it was written (closed on exit)
            outcomes += finish(reading.take(), job, on_source)
    return outcomes


def merge_one(
    source: SourceFile,
    job: Job,
    on_source: Callable[[SourceOutcome], None] | None = None,
) -> list[SourceOutcome]:
    """Merge one source (an experiment database: each of its simulations); every failure
    becomes a rejected outcome naming the reason."""
    return finish(prepare(source, job.reading), job, on_source)


def finish(
    prepared: Prepared,
    job: Job,
    on_source: Callable[[SourceOutcome], None] | None = None,
) -> list[SourceOutcome]:
    """The transaction(s) of a prepared source, then its outcome(s); the source is closed."""
    started = time.perf_counter()
    try:
        outcome = prepared.done or _written(prepared, job, on_source)
    finally:
        prepared.close()
    if isinstance(outcome, list):  # an experiment database: one outcome per simulation
        return outcome
    seconds = prepared.read_seconds + time.perf_counter() - started
    return _done(replace(outcome, seconds=seconds), on_source)


def _written(
    prepared: Prepared, job: Job, on_source: Callable[[SourceOutcome], None] | None
) -> SourceOutcome | list[SourceOutcome]:
    opened, base = prepared.opened, prepared.base
    assert opened is not None
    try:
        if opened.is_experiment:
            return experiments.merge_experiment(
                opened, job, base.path, on_source=on_source, should_stop=job.should_stop
            )
        return merge_read(opened, base, prepared.legacy_row, job, checked=prepared.checked)
    except SourceError as exc:
        return replace(base, status="rejected", reason=exc.reason)
    except (SQLAlchemyError, sqlite3.Error) as exc:
        return replace(base, status="rejected", reason=database_reason(exc, base.simulation_id))


def _done(
    outcome: SourceOutcome, on_source: Callable[[SourceOutcome], None] | None
) -> list[SourceOutcome]:
    if on_source is not None:
        on_source(outcome)
    return [outcome]
