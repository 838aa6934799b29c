"""``merge``, the library's way in: a re-run with nothing to do is answered with ``sqlite3``
alone (``rerun.first_pass``); anything else goes on in ``pipeline``, from where the pass left.

Importing SQLAlchemy, the tables and Alembic costs a merge about a third of a second, which on a
re-run over a thousand merged files was more than reading every file once; so nothing here
imports them until a source needs the full path. A merge into a new SQLite file starts reading
and checking its sources before that import, so the checks use the core it leaves idle.
"""

from __future__ import annotations

import os
import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from consolidate.merging import rerun
from consolidate.merging.conflict import OnConflict
from consolidate.merging.report import MergeReport, SourceOutcome, summarise
from consolidate.sources.discover import discover

if TYPE_CHECKING:
    from sqlalchemy import URL

    from consolidate.merging.ahead import Begun
    from consolidate.merging.source_transaction import TableCallback


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
) -> MergeReport:
    """Merge every source named by files, directories or glob patterns into ``target``.

    A new SQLite target gets its lookup indexes once, when the merge ends (stopped or not), and
    any merge builds those a killed one left missing (:mod:`consolidate.merging.indexes`). A
    re-run whose sources are all merged already reports them skipped without loading SQLAlchemy
    (:mod:`consolidate.merging.rerun`); its report is the one the full path would give.

    Args:
        sources: files, directories (scanned recursively), glob patterns, database URLs.
        target: a SQLite file path or a SQLAlchemy URL.
        experiment_id: the experiment the simulations join; default: the target file's stem
            (or the database name of a URL).
        dry_run: decide and report, but write nothing (an absent target stays absent).
        replace: re-merge a source whose content changed since it was merged.
        on_conflict: when another source holds the simulation_id: reject, skip, or rename.
        jobs: sources read and checked in parallel (SQLite still writes one at a time).
        on_source: called after each source with its outcome (progress); once per source, but
            on a re-run the sources skipped from the ledger come before the others.
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
    started = time.perf_counter()  # the report's seconds: the whole call, loading included
    conflict = OnConflict(on_conflict)  # a wrong choice fails here, as in the full path
    first = None
    if not dry_run:  # a dry run plans through the ledger's transactions: the full path
        first = rerun.first_pass(
            sources, target, on_plan=on_plan, on_source=on_source, should_stop=should_stop
        )

    def full_path(*, after: rerun.Pass | None = None, begun: Begun | None = None) -> MergeReport:
        from consolidate.merging import pipeline

        return pipeline.merge(
            sources,
            target,
            experiment_id=experiment_id,
            dry_run=dry_run,
            replace=replace,
            on_conflict=conflict,
            jobs=jobs,
            on_source=on_source,
            on_table=on_table,
            on_plan=on_plan,
            should_stop=should_stop,
            after=after,
            begun=begun,
            started=started,
        )

    new = None if dry_run or first is not None or jobs > 1 else _new_file(target, sources)
    if new is not None:
        return _into_new_file(new, sources, on_plan=on_plan, full_path=full_path)
    if first is not None and first.done:
        outcomes = list(first.skipped.values())
        return MergeReport(
            target=str(first.target),
            experiment_id=experiment_id or first.target.stem,
            dry_run=False,
            sources=tuple(outcomes),
            tables=summarise(outcomes, defaultdict(float)),
            seconds=time.perf_counter() - started,
            not_started=len(first.files) - len(outcomes),
        )
    return full_path(after=first)


def _new_file(target: str | Path | URL, sources: Sequence[str]) -> Path | None:
    """The file a target names when it is a path where nothing is yet (not ``:memory:``, not a
    URL) and every source is a path; else None."""
    if not isinstance(target, str | Path) or str(target) == ":memory:":
        return None
    if any("://" in str(s) for s in (target, *sources)):
        return None
    path = Path(target).expanduser()
    return None if os.path.lexists(path) else path.resolve()


def _into_new_file(
    path: Path,
    sources: Sequence[str],
    *,
    on_plan: Callable[[int], None] | None,
    full_path: Callable[..., MergeReport],
) -> MergeReport:
    """A merge into the new SQLite file ``path``, begun before SQLAlchemy is loaded.

    Loading SQLAlchemy takes a fifth of a second on one core while the other waits; here the
    sources are found, the check workers forked (smaller without SQLAlchemy) and the first
    sources read and handed to them, so their checks run during that load, and the merge goes
    on in ``full_path`` from there. On any way out the sources read ahead are closed.
    """
    # Reading and checking sources (a re-run never loads them: its start-up is a goal).
    from consolidate.layouts import workers
    from consolidate.merging.ahead import Begun, ReadAhead
    from consolidate.merging.prepared import Reading

    files = discover([str(s) for s in sources], exclude=path)
    if on_plan is not None:
        on_plan(len(files))
    with workers.started(2) as checks, ReadAhead(files, Reading(checks)) as ahead:
        return full_path(begun=Begun(files, checks, ahead))
