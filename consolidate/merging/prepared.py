"""A source made ready for its transaction: opened, recognised, counted, its checks under way.

Everything here reads the source and nothing writes the target, so the merge does it for the
next source in a second thread while the current one is copied: on a thousand small runs
opening and reading them is a third of the work, and the copy has to wait for none of it.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from dataclasses import dataclass, field, replace

from sqlalchemy.exc import SQLAlchemyError

from consolidate.errors import SourceError
from consolidate.layouts.inspection import blocking_problems, simulation_id_for
from consolidate.layouts.reading import OpenSource, open_source
from consolidate.merging.checks import SourceChecks
from consolidate.merging.report import SourceOutcome, database_reason
from consolidate.merging.rerun import already_merged
from consolidate.merging.source_transaction import Job
from consolidate.sources.discover import SourceFile


@dataclass
class Prepared:
    """One source, read and waiting for its transaction; :meth:`close` releases it.

    Exactly one of ``done`` (the outcome is known without a transaction: skipped from the
    ledger's snapshot, or rejected) and ``opened`` is set.
    """

    read_seconds: float  # spent opening and reading it (its outcome's seconds add the rest)
    base: SourceOutcome  # what is known of the outcome so far (path, layout, id, counts)
    done: SourceOutcome | None = None
    opened: OpenSource | None = None
    legacy_row: dict[str, object] | None = None
    #: The source's sha256 after its integrity and value checks, computed in the merge's check
    #: threads from the moment the source was read: the transaction waits for it before commit.
    checked: SourceChecks | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def close(self) -> None:
        """Close the source (and remove its private copy); waits for its checks to stop reading
        (checks not begun yet, of a source skipped or stopped before its turn, never begin)."""
        if self.checked is not None:
            self.checked.cancel()
            self.checked.wait()
        self._stack.close()


def prepare(source: SourceFile, job: Job) -> Prepared:
    """Open, recognise and read ``source`` and start its checks; never raises for a bad source
    (its problem becomes ``done``, a rejected outcome naming the reason)."""
    started = time.perf_counter()
    prepared = _prepared(source, job)
    prepared.read_seconds = time.perf_counter() - started
    return prepared


def _prepared(source: SourceFile, job: Job) -> Prepared:
    base = SourceOutcome(path=source.label or str(source.path), status="rejected")
    if source.problem is None and job.known is not None and job.known.holds(str(source.path)):
        skipped = already_merged(source, job.known)
        if skipped is not None:  # held byte for byte: nothing to open
            return Prepared(0.0, base, done=skipped)
    prepared = Prepared(0.0, base)
    try:
        if source.problem is not None:  # found but unusable (a FIFO, an unreadable folder, ...)
            prepared.base = replace(base, simulation_id=source.path_id)
            raise SourceError(str(source.path), source.problem)
        opened = prepared._stack.enter_context(open_source(source.path, check=False))
        prepared.opened = opened
        if opened.is_experiment:
            return prepared  # each of its simulations is read in its own transaction
        prepared.base = replace(
            base,
            family=opened.layout.family,
            schema_version=opened.layout.schema_version,
            simulation_id=simulation_id_for(source, opened),
        )
        _read(prepared, opened, job)
    except SourceError as exc:
        prepared.done = replace(prepared.base, status="rejected", reason=exc.reason)
    except (SQLAlchemyError, sqlite3.Error) as exc:
        reason = database_reason(exc, prepared.base.simulation_id)
        prepared.done = replace(prepared.base, status="rejected", reason=reason)
    except BaseException:
        prepared.close()
        raise
    if prepared.done is not None:
        prepared.close()  # nothing more will read it
        prepared.opened = None
    return prepared


def _read(prepared: Prepared, opened: OpenSource, job: Job) -> None:
    """Counts, the problems that reject it, its legacy simulations row; its checks started."""
    counts = opened.row_counts()
    problems = blocking_problems(opened, opened.unknown_table_counts())
    if problems:
        prepared.done = replace(prepared.base, reason="; ".join(problems), rows=counts)
        return
    prepared.legacy_row = opened.simulation_row()
    prepared.base = replace(prepared.base, rows=counts)
    if job.checks is not None and job.plan is None:  # a dry run checks in its plan
        prepared.checked = SourceChecks(job.checks, opened)
