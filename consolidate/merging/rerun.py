"""A re-run's shortcut: a source the ledger already holds byte for byte is skipped from the
ledger's snapshot, after reading only its bytes (the hash) and its own simulation_id.

What it decides is what :func:`ledger.decide` would decide for the same bytes at the same path,
so the outcome (status, reason, layout, counts) is the one the full path reports; whenever it is
not sure it returns None and the source takes the full path.
"""

from __future__ import annotations

import sqlite3
from contextlib import closing

from consolidate.errors import SourceError
from consolidate.merging.ledger import Snapshot
from consolidate.merging.report import SourceOutcome
from consolidate.sources.discover import SourceFile
from consolidate.sources.opening import OpenFile, open_file


def already_merged(source: SourceFile, known: Snapshot) -> SourceOutcome | None:
    """The skipped outcome of a source merged before from identical bytes, else None."""
    try:
        with open_file(source.path) as file:
            sure, own = _own_id(file)
            if not sure:
                return None
            simulation_id = own or source.path_id
            hit = known.already_merged(
                simulation_id=simulation_id, source_path=str(file.path), sha256=file.sha256
            )
    except SourceError:
        return None  # the full path names the problem
    if hit is None:
        return None
    merged, reason = hit
    return SourceOutcome(
        path=str(source.path),
        status="skipped",
        simulation_id=simulation_id,
        reason=reason,
        family=merged.family,
        schema_version=merged.schema_version,
        rows=merged.counts,
    )


def _own_id(file: OpenFile) -> tuple[bool, str | None]:
    """The id in the file's ``simulations`` table as ``OpenSource.own_simulation_id`` reads it
    (SQLite resolves the table's name ignoring case, as mapping does), and whether it is sure."""
    try:
        with closing(file.connect()) as conn:
            rows = conn.execute("SELECT simulation_id FROM simulations LIMIT 2").fetchall()
    except sqlite3.OperationalError as exc:
        return str(exc).startswith("no such table"), None
    except sqlite3.Error:
        return False, None
    if len(rows) == 1 and isinstance(rows[0][0], str) and rows[0][0]:
        return True, rows[0][0]
    return True, None
