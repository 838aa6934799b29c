"""Merging an experiment database: every simulation in it, one transaction each.

The simulation moves with its provenance as recorded (origin, source path, the sha256 of the
original run file, the counts recorded when it was merged: carried over, never recomputed) and
its experiment's row. A simulation is "the same" as one the target holds under its id when:

- it was merged from a run file: both record the same ``source_sha256`` (the same run file, so
  the target may also have merged that file directly);
- it was written by the writer (no source file): both are writer runs and every table's rows
  have the same order-independent checksum.

The same id with other content follows ``--on-conflict``; ``--replace`` replaces a simulation
merged from the same source path or written by the writer. Re-running skips what is there, and
a killed run leaves whole simulations only, so running it again finishes the job.

A writer run that is still being written (status ``running`` or ``pending``) is skipped with
that reason: copying it would carry half a run, and the finished run would then conflict with
its own copy. A simulation whose experiment row is missing is rejected, on every target (a
SQLite target would otherwise take it as an orphan, PostgreSQL's foreign key would refuse it).
"""

from __future__ import annotations

import contextlib
import sqlite3
import threading
import time
from collections.abc import Callable
from contextlib import closing
from dataclasses import replace
from typing import Any, Protocol

from sqlalchemy import Connection, Engine, select, text
from sqlalchemy.exc import SQLAlchemyError

from consolidate.errors import SourceError
from consolidate.layouts import central
from consolidate.layouts.mapping import quote
from consolidate.layouts.reading import OpenSource
from consolidate.merging import ledger
from consolidate.merging.ledger import SIMULATIONS, OnConflict
from consolidate.merging.report import ALREADY_THERE as ALREADY_THERE  # re-exported
from consolidate.merging.report import SourceOutcome, database_reason, merged
from consolidate.sinks import for_target

UNFINISHED = ("running", "pending")
STOPPED = "not started: the merge was stopped"


class Copy(Protocol):
    """How to copy (merge's job): the target, None for a dry run on a target not made yet;
    ``plan`` is set for a dry run."""

    @property
    def engine(self) -> Engine | None: ...
    @property
    def plan(self) -> object | None: ...
    @property
    def replace(self) -> bool: ...
    @property
    def on_conflict(self) -> OnConflict: ...
    @property
    def on_table(self) -> Callable[[str, int, float], None] | None: ...
    @property
    def write_lock(self) -> threading.Lock | None: ...
    @property
    def after_commit(self) -> Callable[[], None] | None: ...


def merge_experiment(
    opened: OpenSource,
    copy: Copy,
    name: str,
    *,
    on_source: Callable[[SourceOutcome], None] | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> list[SourceOutcome]:
    """Copy every simulation of the experiment database ``opened`` into the target.

    ``name`` is what outcomes call the source (its path, or the URL it was copied from). A
    problem with the whole file (damage, a value no target can carry, a column without a home)
    rejects every simulation in it, before anything is written.

    ``should_stop`` is asked before each simulation begins; once it returns True no further
    simulation starts, and each one not started gets an outcome with status ``not started``
    (not passed to ``on_source``), so the caller can count them.
    """
    base = SourceOutcome(
        path=name,
        status="rejected",
        family=opened.layout.family,
        schema_version=opened.layout.schema_version,
    )
    try:
        _check(opened)
        sims = central.central_rows(opened.connect, opened.shape, "simulations", "simulation_id")
        experiments = {
            row["experiment_id"]: row
            for row in central.central_rows(
                opened.connect, opened.shape, "experiments", "experiment_id"
            )
        }
    except SourceError as exc:
        outcome = replace(base, reason=exc.reason)
        if on_source is not None:
            on_source(outcome)
        return [outcome]
    if not sims:  # still one outcome, so the source is seen and counted
        outcome = replace(base, status="skipped", reason="holds no simulations")
        if on_source is not None:
            on_source(outcome)
        return [outcome]
    outcomes = []
    for n, sim in enumerate(sims):
        if should_stop is not None and should_stop():
            unbegun = replace(base, status="not started", reason=STOPPED)
            outcomes += [replace(unbegun, simulation_id=s["simulation_id"]) for s in sims[n:]]
            break
        started = time.perf_counter()
        one = replace(base, simulation_id=sim["simulation_id"])
        try:
            outcome = _one(opened, copy, sim, experiments.get(sim["experiment_id"]), one)
        except SourceError as exc:
            outcome = replace(one, reason=exc.reason)
        except (SQLAlchemyError, sqlite3.Error) as exc:
            outcome = replace(one, reason=database_reason(exc, one.simulation_id))
        outcome = replace(outcome, seconds=time.perf_counter() - started)
        if on_source is not None:
            on_source(outcome)
        outcomes.append(outcome)
    return outcomes


def _check(opened: OpenSource) -> None:
    homeless = opened.mapping.homeless_columns
    if homeless:
        raise SourceError(str(opened.path), f"columns without a home: {', '.join(homeless)}")
    with closing(opened.connect()) as conn:
        for name in opened.mapping.unknown_tables:
            (rows,) = conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()
            if rows:
                raise SourceError(str(opened.path), f"unknown table {name} holds {rows} rows")
    # One check of the whole file (structure, indexes, values) serves all its simulations.
    opened.check_integrity()


def _one(
    opened: OpenSource,
    copy: Copy,
    sim: dict[str, Any],
    experiment: dict[str, Any] | None,
    base: SourceOutcome,
) -> SourceOutcome:
    own = str(sim["simulation_id"])
    if experiment is None:
        raise SourceError(
            str(opened.path), f"simulation {own}: its experiment {sim['experiment_id']} is missing"
        )
    if sim.get("origin") == "writer" and sim.get("status") in UNFINISHED:
        # A merged run file's status is history (AgentFarm often left "running"): it is whole.
        return replace(
            base,
            status="skipped",
            reason=f"simulation {own} is still being written (status {sim['status']}); "
            "merge again when it has finished",
        )
    counts = central.own_counts(opened.connect, opened.mapping, own)
    base = replace(base, rows=counts)
    if copy.engine is None:
        return replace(base, status="planned", reason="would merge")
    if copy.plan is not None:
        with copy.engine.connect() as conn, conn.begin():
            decision = _decide(conn, opened, sim, copy)
        return _settled(base, decision) or replace(
            base,
            status="planned",
            simulation_id=decision.simulation_id,
            reason=decision.reason or f"would {decision.action}",
        )
    with contextlib.ExitStack() as stack:
        if copy.after_commit is not None:
            stack.callback(copy.after_commit)
        if copy.write_lock is not None:
            stack.enter_context(copy.write_lock)
        conn = stack.enter_context(copy.engine.connect().execution_options(write_lock=True))
        sink = for_target(conn)
        try:
            with sink.session(conn, opened), conn.begin():
                return _write(conn, opened, sim, experiment, base, copy)
        except ledger.Skipped as skipped:  # rolled back
            return replace(base, status="skipped", reason=str(skipped))


def _write(
    conn: Connection,
    opened: OpenSource,
    sim: dict[str, Any],
    experiment: dict[str, Any] | None,
    base: SourceOutcome,
    copy: Copy,
) -> SourceOutcome:
    """One simulation's transaction; the locks are the ones a run file's merge takes."""
    sink = for_target(conn)
    own = str(sim["simulation_id"])
    sink.lock(conn, f"simulation:{own}")
    decision = _decide(conn, opened, sim, copy)
    if decision.simulation_id != own:
        sink.lock(conn, f"simulation:{decision.simulation_id}")
    settled = _settled(base, decision)
    if settled is not None:
        return settled
    if decision.action == "replace":
        ledger.forget(conn, decision.simulation_id)
    if experiment is not None:
        ledger.ensure_experiment(conn, **experiment)  # the target's own row, if any, is kept
    conn.execute(SIMULATIONS.insert().values({**sim, "simulation_id": decision.simulation_id}))
    written = sink.copy_tables(conn, opened, decision.simulation_id, own, on_table=copy.on_table)
    sha256 = sim.get("source_sha256")
    if sha256:
        sink.lock(conn, f"content:{sha256}")
        ledger.refuse_twin(conn, sha256, besides=decision.simulation_id)
    if written != base.rows:
        raise SourceError(str(opened.path), f"{own}: rows read {base.rows} but written {written}")
    return merged(base, decision.simulation_id, decision.reason, written)


def _settled(base: SourceOutcome, decision: ledger.Decision) -> SourceOutcome | None:
    if decision.action not in ("skip", "reject"):
        return None
    status = "skipped" if decision.action == "skip" else "rejected"
    return replace(base, status=status, reason=decision.reason)


def _decide(
    conn: Connection, opened: OpenSource, sim: dict[str, Any], copy: Copy
) -> ledger.Decision:
    own = str(sim["simulation_id"])
    held = conn.execute(
        select(SIMULATIONS.c.origin, SIMULATIONS.c.source_path, SIMULATIONS.c.source_sha256).where(
            SIMULATIONS.c.simulation_id == own
        )
    ).first()
    if held is None:
        return ledger.Decision("merge", own)
    if sim.get("source_sha256"):
        if held.source_sha256 == sim["source_sha256"]:
            return ledger.Decision("skip", own, ledger.ALREADY_MERGED)
    elif held.origin == "writer" and held.source_sha256 is None and _same_rows(conn, opened, own):
        return ledger.Decision("skip", own, ALREADY_THERE)
    replaceable = (held.origin, held.source_path) == (sim["origin"], sim["source_path"])
    if copy.replace and replaceable:
        return ledger.Decision("replace", own, "content changed since it was merged")
    holder = held.source_path or "the writer"
    decision = ledger.conflict(conn, own, holder, copy.on_conflict)
    if decision.action == "reject" and replaceable:  # --replace would take it: say so
        return replace(
            decision,
            reason=f"simulation_id {own} already belongs to {holder} with other rows; "
            "use --replace to replace it, or --on-conflict rename or skip",
        )
    return decision


def _same_rows(conn: Connection, opened: OpenSource, own: str) -> bool:
    """Whether the target's rows of ``own`` checksum like the source's, table by table."""
    with closing(opened.connect()) as source:
        want = central.source_checksums(source, opened.mapping, own)
    for mapping in opened.mapping.tables:
        columns = ", ".join(quote(c) for c in mapping.central_columns)
        rows = conn.execute(
            text(f"SELECT {columns} FROM {quote(mapping.central_table)} WHERE simulation_id = :s"),
            {"s": own},
        )
        if central.checksum(rows) != want[mapping.central_table]:
            return False
    return True
