"""What the merge must know of a run file before its transaction: its layout, its
simulation_id, its counts, whatever rejects it, its legacy ``simulations`` row.

Read by one function wherever it is read: in a check worker, beside the source's checks (the
merge process then never opens a small source itself), or in the merge's reading thread.
"""

from __future__ import annotations

import sqlite3
from dataclasses import dataclass, replace

from consolidate.errors import SourceError
from consolidate.layouts.inspection import blocking_problems, simulation_id_for
from consolidate.layouts.reading import OpenSource
from consolidate.merging.report import SourceOutcome, database_reason
from consolidate.sources.discover import SourceFile


@dataclass(frozen=True)
class RunFacts:
    """A run file as read before its transaction (plain data: a worker process sends it)."""

    #: Its outcome so far: path, layout, simulation_id and counts, or rejected with a reason.
    outcome: SourceOutcome
    rejected: bool  # the outcome is final: nothing is written
    legacy_row: dict[str, object] | None = None


def read_run(source: SourceFile, opened: OpenSource, outcome: SourceOutcome) -> RunFacts:
    """The facts of the run file ``opened`` (found as ``source``), starting from ``outcome``
    (its path); never raises for a bad file: its problem is the rejected outcome's reason."""
    try:
        simulation_id = simulation_id_for(source, opened)
    except SourceError as exc:
        return RunFacts(replace(outcome, status="rejected", reason=exc.reason), rejected=True)
    except sqlite3.Error as exc:
        reason = database_reason(exc, None)
        return RunFacts(replace(outcome, status="rejected", reason=reason), rejected=True)
    outcome = replace(
        outcome,
        family=opened.layout.family,
        schema_version=opened.layout.schema_version,
        simulation_id=simulation_id,
    )
    try:
        counts = opened.row_counts()
        problems = blocking_problems(opened, opened.unknown_table_counts())
        if problems:
            reason = "; ".join(problems)
            return RunFacts(replace(outcome, reason=reason, rows=counts), rejected=True)
        legacy_row = opened.simulation_row()
    except SourceError as exc:
        return RunFacts(replace(outcome, status="rejected", reason=exc.reason), rejected=True)
    except sqlite3.Error as exc:
        reason = database_reason(exc, simulation_id)
        return RunFacts(replace(outcome, status="rejected", reason=reason), rejected=True)
    return RunFacts(replace(outcome, rows=counts), rejected=False, legacy_row=legacy_row)
