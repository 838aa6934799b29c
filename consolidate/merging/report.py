"""What a merge did, per source and per table: frozen results for the CLI and ``--json``."""

from __future__ import annotations

import sqlite3
from collections import defaultdict
from dataclasses import dataclass, field, replace
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # a re-run with nothing to do reports without loading SQLAlchemy
    from sqlalchemy.exc import SQLAlchemyError

#: Why an experiment database's writer run is skipped when the target holds the same rows.
ALREADY_THERE = "already there (a writer run with the same rows)"


@dataclass(frozen=True)
class SourceOutcome:
    """One source's fate. ``status`` is merged, skipped, rejected, planned (``--dry-run``), or
    not started (a simulation of an experiment database when the merge was asked to stop)."""

    path: str
    status: str
    simulation_id: str | None = None
    reason: str | None = None
    family: str | None = None
    schema_version: str | None = None
    rows: dict[str, int] = field(default_factory=dict)  # per central table
    seconds: float = 0.0

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "simulation_id": self.simulation_id,
            "status": self.status,
            "reason": self.reason,
            "family": self.family,
            "schema_version": self.schema_version,
            "rows": self.rows,
            "seconds": round(self.seconds, 3),
        }


@dataclass(frozen=True)
class TableSummary:
    """pgloader-style line: rows read from sources, written, in rejected sources, and time."""

    table: str
    read: int = 0
    written: int = 0
    rejected: int = 0
    seconds: float = 0.0


@dataclass(frozen=True)
class MergeReport:
    target: str
    experiment_id: str
    dry_run: bool
    sources: tuple[SourceOutcome, ...]
    tables: tuple[TableSummary, ...]
    seconds: float
    not_started: int = 0  # sources never begun because the caller asked the merge to stop

    @property
    def unstarted(self) -> int:
        """Sources, and simulations of experiment databases, never begun because of a stop."""
        return self.not_started + self.count("not started")

    @property
    def stopped(self) -> bool:
        """The merge was asked to stop before every source (or simulation) was begun."""
        return self.unstarted > 0

    def count(self, status: str) -> int:
        return sum(1 for s in self.sources if s.status == status)

    @property
    def ok(self) -> bool:
        return self.count("rejected") == 0

    def as_json(self) -> dict[str, object]:
        return {
            "target": self.target,
            "experiment_id": self.experiment_id,
            "dry_run": self.dry_run,
            "sources": [s.as_json() for s in self.sources],
            "tables": [vars(t) | {"seconds": round(t.seconds, 3)} for t in self.tables],
            "totals": {
                "sources": len(self.sources),
                "merged": self.count("merged"),
                "skipped": self.count("skipped"),
                "rejected": self.count("rejected"),
                "planned": self.count("planned"),
                "not_started": self.unstarted,
                "rows_read": sum(t.read for t in self.tables),
                "rows_written": sum(t.written for t in self.tables),
                "seconds": round(self.seconds, 3),
            },
        }


def summarise(outcomes: list[SourceOutcome], seconds: dict[str, float]) -> tuple[TableSummary, ...]:
    """The per-table summary of a merge: rows read, written, in rejected sources, seconds."""
    read: dict[str, int] = defaultdict(int)
    written: dict[str, int] = defaultdict(int)
    rejected: dict[str, int] = defaultdict(int)
    for outcome in outcomes:
        for table, rows in outcome.rows.items():
            read[table] += rows
            if outcome.status == "merged":
                written[table] += rows
            elif outcome.status == "rejected":
                rejected[table] += rows
    return tuple(
        TableSummary(t, read[t], written[t], rejected[t], seconds[t]) for t in sorted(read)
    )


def database_reason(exc: SQLAlchemyError | sqlite3.Error, simulation_id: str | None) -> str:
    """A database error while merging, as one line; a foreign simulation_id said plainly."""
    from sqlalchemy.exc import DBAPIError

    original = exc.orig if isinstance(exc, DBAPIError) else exc
    text = (str(original).splitlines() or [type(original).__name__])[0]
    if "NOT NULL constraint failed" in text and text.endswith(".simulation_id"):
        table = text.rsplit(": ", 1)[-1].split(".")[0]
        return f"rows of {table} carry a simulation_id other than the file's {simulation_id!r}"
    return f"database error while merging: {text}"


def merged(
    base: SourceOutcome, simulation_id: str, reason: str | None, rows: dict[str, int]
) -> SourceOutcome:
    """``base`` merged as ``simulation_id`` (renamed when it differs), with the rows written."""
    return replace(base, status="merged", simulation_id=simulation_id, reason=reason, rows=rows)
