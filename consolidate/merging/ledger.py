"""The ledger: which sources the target already holds, and the decision for a new one.

The central ``simulations`` table is the ledger. Each merged source is recorded there, with its
sha256 and per-table counts, in the same transaction as its rows, so the ledger can never claim a
simulation that is not fully there; re-running a merge asks the ledger what is left to do.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

from sqlalchemy import Connection, Executable, bindparam, delete, insert, select, update

from consolidate.merging.conflict import OnConflict as OnConflict  # re-exported
from consolidate.merging.snapshot import ALREADY_MERGED as ALREADY_MERGED  # re-exported
from consolidate.merging.snapshot import QUERY as SNAPSHOT_QUERY
from consolidate.merging.snapshot import Snapshot as Snapshot  # re-exported
from consolidate.schema import DATA_TABLES, metadata

SIMULATIONS = metadata.tables["simulations"]
EXPERIMENTS = metadata.tables["experiments"]

# The statements every merged source runs, built once: building a Core statement costs about
# four times executing it, and a thousand small sources would build each a thousand times.
_EARLIER = select(SIMULATIONS.c.simulation_id, SIMULATIONS.c.source_sha256).where(
    SIMULATIONS.c.origin == "merge",
    SIMULATIONS.c.source_path == bindparam("path"),
    SIMULATIONS.c.simulation_id != bindparam("sim"),
)
_HOLDER = select(
    SIMULATIONS.c.source_sha256, SIMULATIONS.c.source_path, SIMULATIONS.c.origin
).where(SIMULATIONS.c.simulation_id == bindparam("sim"))
_TWIN = (
    select(SIMULATIONS.c.simulation_id)
    .where(
        SIMULATIONS.c.source_sha256 == bindparam("sha"),
        SIMULATIONS.c.simulation_id != bindparam("sim"),
    )
    .limit(1)
)
_SEAL = (
    update(SIMULATIONS)
    .where(SIMULATIONS.c.simulation_id == bindparam("sim"))
    .values(source_sha256=bindparam("sha"))
)
_RECORD = insert(SIMULATIONS)


@dataclass(frozen=True)
class Decision:
    """``action`` is 'merge', 'replace', 'skip' or 'reject'; ``simulation_id`` may be renamed."""

    action: str
    simulation_id: str
    reason: str | None = None


def decide(
    conn: Connection,
    *,
    simulation_id: str,
    sha256: Callable[[], str],
    source_path: str,
    replace: bool,
    on_conflict: OnConflict,
) -> Decision:
    """Decide what to do with one source, reading the ledger inside the caller's transaction.

    ``sha256`` is called only when the simulation_id is already taken: for a new id the hash is
    computed beside the copy, and :func:`twin` then looks for the same bytes under another id.
    """
    earlier = conn.execute(_EARLIER, {"path": source_path, "sim": simulation_id}).first()
    if earlier is not None:  # this file was merged before under another id (--on-conflict rename)
        if earlier.source_sha256 == sha256():
            return Decision("skip", earlier.simulation_id, f"already merged as {earlier[0]}")
        if replace:
            return Decision("replace", earlier.simulation_id, "content changed since it was merged")
        return Decision(
            "reject",
            earlier.simulation_id,
            "content changed since it was merged; pass --replace to merge it again",
        )
    row = conn.execute(_HOLDER, {"sim": simulation_id}).first()
    if row is None:
        return Decision("merge", simulation_id)
    if row.source_sha256 == sha256():
        return Decision("skip", simulation_id, ALREADY_MERGED)
    if row.origin == "merge" and row.source_path == source_path:
        if replace:
            return Decision("replace", simulation_id, "content changed since it was merged")
        return Decision(
            "reject",
            simulation_id,
            "content changed since it was merged; pass --replace to merge it again",
        )
    return conflict(conn, simulation_id, row.source_path or "the writer", on_conflict)


def conflict(
    conn: Connection, simulation_id: str, holder: str, on_conflict: OnConflict
) -> Decision:
    """The decision when ``holder`` (a path, or the writer) holds ``simulation_id`` already."""
    if on_conflict is OnConflict.SKIP:
        return Decision("skip", simulation_id, f"simulation_id {simulation_id} is held by {holder}")
    if on_conflict is OnConflict.RENAME:
        return Decision("merge", _free_id(conn, simulation_id), f"renamed: {holder} holds it")
    return Decision(
        "reject",
        simulation_id,
        f"simulation_id {simulation_id} already belongs to {holder}; "
        "use --on-conflict rename or skip",
    )


def snapshot(conn: Connection) -> Snapshot:
    """Every merged source of the ledger, in one query (see :class:`Snapshot`)."""
    return Snapshot(tuple(row) for row in conn.exec_driver_sql(SNAPSHOT_QUERY))


def twin(conn: Connection, sha256: str, *, besides: str) -> str | None:
    """Another simulation merged from identical bytes, if any."""
    return conn.execute(_TWIN, {"sha": sha256, "sim": besides}).scalar()


def twin_reason(simulation_id: str) -> str:
    return f"identical content already merged as {simulation_id}"


class Skipped(Exception):
    """Raised inside a source's transaction to roll it back and report the source skipped."""


def refuse_twin(conn: Connection, sha256: str, *, besides: str) -> None:
    """Raise :class:`Skipped` when identical content is merged already under another id."""
    held = twin(conn, sha256, besides=besides)
    if held is not None:
        raise Skipped(twin_reason(held))


def seal(conn: Connection, simulation_id: str, sha256: str) -> None:
    """Set the hash of a simulation recorded before its source was hashed."""
    conn.execute(_SEAL, {"sim": simulation_id, "sha": sha256})


def _free_id(conn: Connection, base: str) -> str:
    sims = SIMULATIONS
    taken = set(
        conn.execute(
            select(sims.c.simulation_id).where(sims.c.simulation_id.startswith(base + "~"))
        ).scalars()
    )
    n = 2
    while f"{base}~{n}" in taken:
        n += 1
    return f"{base}~{n}"


def ensure_experiment(conn: Connection, experiment_id: str, **columns: object) -> None:
    """Create the experiment row if it is missing (an existing one is left as it is).

    ``columns`` (other columns of ``experiments``, by name) replace a new row's defaults: name
    the id, status ``consolidated``, creation_date now. ``ON CONFLICT DO NOTHING`` rather than
    look-then-insert: merges (and writers) started at the same moment on several machines all
    ask for the same experiment.
    """
    values: dict[str, object] = {
        "name": experiment_id,
        "status": "consolidated",
        "creation_date": datetime.now(UTC),
        **columns,
        "experiment_id": experiment_id,
    }
    # The target's own dialect only: importing PostgreSQL's costs a SQLite merge ~20 ms.
    if conn.dialect.name == "postgresql":
        from sqlalchemy.dialects import postgresql

        new: Executable = postgresql.insert(EXPERIMENTS).on_conflict_do_nothing(
            index_elements=["experiment_id"]
        )
    else:
        from sqlalchemy.dialects import sqlite

        new = sqlite.insert(EXPERIMENTS).on_conflict_do_nothing(index_elements=["experiment_id"])
    conn.execute(new, values)


def forget(conn: Connection, simulation_id: str) -> None:
    """Delete a simulation and every row it owns (for ``--replace``)."""
    for name in DATA_TABLES:
        table = metadata.tables[name]
        conn.execute(delete(table).where(table.c.simulation_id == simulation_id))
    sims = SIMULATIONS
    conn.execute(delete(sims).where(sims.c.simulation_id == simulation_id))


def record(
    conn: Connection,
    *,
    simulation_id: str,
    experiment_id: str,
    source_path: str,
    sha256: str | None,
    family: str,
    schema_version: str,
    counts: dict[str, int],
    legacy_row: dict[str, object] | None,
) -> None:
    """Insert the provenance row; it must precede the data rows that reference it.

    ``sha256`` may be None while the source is still being hashed: :func:`seal` sets it before
    the transaction commits, so no committed row lacks it.
    """
    conn.execute(
        _RECORD,
        {
            "simulation_id": simulation_id,
            "experiment_id": experiment_id,
            "origin": "merge",
            "source_path": source_path,
            "source_sha256": sha256,
            "source_family": family,
            "source_schema_version": schema_version,
            "source_row_counts": json.dumps(counts, sort_keys=True),
            "merged_at": datetime.now(UTC),
            **(legacy_row or {}),
        },
    )
