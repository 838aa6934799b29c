"""``merge --dry-run``: what a merge would do with each source, without writing anything.

The plan reads the ledger like a merge does and also remembers what it has planned so far, so
two sources of the same run that claim one simulation_id, or hold identical bytes, are planned
as the real merge will treat them (the second rejected, renamed or skipped).
"""

from __future__ import annotations

import threading
from dataclasses import replace

from sqlalchemy import Connection

from consolidate.layouts.reading import OpenSource
from consolidate.merging import ledger
from consolidate.merging.ledger import OnConflict
from consolidate.merging.report import SourceOutcome


class Plan:
    """The simulation ids and content hashes planned so far in one dry run (thread-safe)."""

    def __init__(self, *, replace: bool, on_conflict: OnConflict) -> None:
        self.replace = replace
        self.on_conflict = on_conflict
        self._ids: dict[str, str] = {}  # simulation_id -> source path
        self._hashes: dict[str, str] = {}  # sha256 -> simulation_id
        self._lock = threading.Lock()

    def source(
        self, conn: Connection | None, opened: OpenSource, base: SourceOutcome
    ) -> SourceOutcome:
        """The planned outcome of one source; ``conn`` is None when the target does not exist."""
        opened.check_integrity()
        sim = base.simulation_id or ""
        decision = ledger.Decision("merge", sim)
        twin = None
        if conn is not None:
            with conn.begin():
                decision = ledger.decide(
                    conn,
                    simulation_id=sim,
                    sha256=lambda: opened.sha256,
                    source_path=str(opened.path),
                    replace=self.replace,
                    on_conflict=self.on_conflict,
                )
                twin = ledger.twin(conn, opened.sha256, besides=decision.simulation_id)
        with self._lock:
            return self._settle(opened, base, decision, twin)

    def _settle(
        self,
        opened: OpenSource,
        base: SourceOutcome,
        decision: ledger.Decision,
        twin: str | None,
    ) -> SourceOutcome:
        if decision.action in ("skip", "reject"):
            status = "skipped" if decision.action == "skip" else "rejected"
            return replace(base, status=status, reason=decision.reason)
        twin = twin or self._hashes.get(opened.sha256)
        if twin is not None:
            return replace(base, status="skipped", reason=ledger.twin_reason(twin))
        sim, reason = decision.simulation_id, decision.reason or f"would {decision.action}"
        holder = self._ids.get(sim)
        if holder is not None:
            if self.on_conflict is OnConflict.ERROR:
                return replace(
                    base,
                    status="rejected",
                    reason=f"simulation_id {sim} is also claimed by {holder}",
                )
            if self.on_conflict is OnConflict.SKIP:
                return replace(
                    base, status="skipped", reason=f"simulation_id {sim} is held by {holder}"
                )
            n = 2
            while f"{sim}~{n}" in self._ids:
                n += 1
            sim, reason = f"{sim}~{n}", f"would merge, renamed: {holder} holds {sim}"
        self._ids[sim] = str(opened.path)
        self._hashes[opened.sha256] = sim
        return replace(base, status="planned", simulation_id=sim, reason=reason)
