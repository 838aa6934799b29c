"""``merge``: many legacy run files into one experiment database, one transaction per source.

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
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import replace
from pathlib import Path

from sqlalchemy import URL, Connection, Engine
from sqlalchemy.exc import SQLAlchemyError

from consolidate.errors import SourceError
from consolidate.layouts import remote
from consolidate.merging import experiments, indexes, ledger
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
from consolidate.sources.discover import SourceFile


def merge(
    sources: Sequence[str],
    target: str | URL,
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
) -> MergeReport:
    """Merge every source named by files, directories or glob patterns into ``target``.

    A new SQLite target gets its lookup indexes once, when the merge ends (stopped or not), and
    any merge builds those a killed one left missing (:mod:`consolidate.merging.indexes`).

    Args:
        sources: files, directories (scanned recursively), glob patterns, database URLs.
        target: a SQLite file path or a SQLAlchemy URL.
        experiment_id: the experiment the simulations join; default: the target file's stem
            (or the database name of a URL).
        dry_run: decide and report, but write nothing (an absent target stays absent).
        replace: re-merge a source whose content changed since it was merged.
        on_conflict: when another source holds the simulation_id: reject, skip, or rename.
        jobs: sources read and checked in parallel (SQLite still writes one at a time).
        on_source: called after each source with its outcome (progress).
        on_table: called after each table copy with (table, rows, seconds) (progress).
        on_plan: called once with the number of sources found.
        should_stop: asked before each source begins (and before each simulation of an
            experiment database); once it returns True no further source or simulation
            starts, the ones under way finish their transaction (committed or rolled back), and
            the report says how many were not started (``MergeReport.unstarted``). This is how
            a caller stops a merge cleanly (the CLI does it on Ctrl-C): an exception thrown
            into the middle of a commit could leave the source's fate unknown.

    Raises:
        UsageError: no sources were found or the target cannot be named.
        SchemaOutOfDate: the target's schema is older than this consolidate's.
    """
    started = time.perf_counter()
    url = target if isinstance(target, URL) else target_url(target)
    target_path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    exclude = Path(target_path) if target_path else None
    found = contextlib.ExitStack()  # private copies of sources named by URL live until the end
    files = found.enter_context(remote.sources(sources, exclude=exclude))
    if on_plan is not None:
        on_plan(len(files))
    experiment = experiment_id or _default_experiment_id(url)
    engine = _open_target(url, dry_run=dry_run, target_path=target_path, jobs=jobs)
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
    )
    try:
        if engine is None or dry_run:
            outcomes = _run_all(files, job, jobs, on_source, should_stop)
        else:
            with engine.connect() as conn, conn.begin():  # a read: no write lock needed
                job = _with_snapshot(job, conn)
            indexes.defer(engine)  # a new SQLite target: build the lookup indexes at the end
            # Two check threads per source at a time (merging.checks), so --jobs N wants 2N.
            with ThreadPoolExecutor(max_workers=2 * max(1, jobs)) as checks:
                job = _with_checks(job, checks)
                outcomes = _run_all(files, job, jobs, on_source, should_stop)
            indexes.complete(engine)  # also after a Ctrl-C, and what a killed merge left
    finally:
        found.close()
        if engine is not None:
            engine.dispose()
    return MergeReport(
        target=describe(url),
        experiment_id=experiment,
        dry_run=dry_run,
        sources=tuple(outcomes),
        tables=summarise(outcomes, seconds),
        seconds=time.perf_counter() - started,
        not_started=len(files) - len({o.path for o in outcomes}),  # a file: one path or more
    )


def _with_snapshot(job: Job, conn: Connection) -> Job:
    """``job`` knowing what the ledger holds, so a re-run skips merged sources from memory."""
    return replace(job, known=ledger.snapshot(conn))


def _with_checks(job: Job, checks: ThreadPoolExecutor) -> Job:
    return replace(job, checks=checks)  # ``replace`` is an argument's name inside merge()


def _default_experiment_id(url: URL) -> str:
    path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
    return Path(path).stem if path else (url.database or "experiment")


def _open_target(url: URL, *, dry_run: bool, target_path: str | None, jobs: int) -> Engine | None:
    """The target's engine, at the schema head; None for a dry run on a target not made yet."""
    if dry_run and target_path is not None and not Path(target_path).is_file():
        return None  # a dry run never creates the target
    # One pooled connection per worker thread, so --jobs never waits on the pool.
    engine = central_engine(url, pool_size=max(5, jobs + 1))
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
) -> list[SourceOutcome]:
    if jobs <= 1:
        return _run_in_order(files, job, on_source, should_stop)

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
) -> list[SourceOutcome]:
    """One source at a time, the next one opened and read (its checks started) in a second
    thread while the current one is written."""
    outcomes: list[SourceOutcome] = []
    with ThreadPoolExecutor(max_workers=1) as reading:
        upcoming: Future[Prepared] | None = None
        if files:
            upcoming = reading.submit(prepare, files[0], job)
        try:
            for n in range(len(files)):
                assert upcoming is not None
                if should_stop is not None and should_stop():
                    break  # before this source began: nothing of it was written (closed below)
                current, upcoming = upcoming.result(), None
                if n + 1 < len(files):
                    upcoming = reading.submit(prepare, files[n + 1], job)
                outcomes += finish(current, job, on_source)
        finally:
            # A stop or an exception left the next source read (or being read), not written.
            if upcoming is not None and not upcoming.cancel():
                with contextlib.suppress(BaseException):
                    upcoming.result().close()
    return outcomes


def merge_one(
    source: SourceFile,
    job: Job,
    on_source: Callable[[SourceOutcome], None] | None = None,
) -> list[SourceOutcome]:
    """Merge one source (an experiment database: each of its simulations); every failure
    becomes a rejected outcome naming the reason."""
    return finish(prepare(source, job), job, on_source)


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
