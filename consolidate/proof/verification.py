"""``verify``: proof that the experiment database holds every row its sources held.

Three layers, each a list of named checks:

- the database: schema at head, SQLite's integrity and foreign-key checks, no data row whose
  simulation is unknown, no merged simulation without provenance or counts;
- each merged simulation and table: central rows against the counts recorded at merge time;
- each source that is still there (or named on the command line), in ``source_checks``: its
  sha256 against the one recorded, its rows read through the same mapping as merge against the
  central rows, compared in both directions inside the engine (``EXCEPT``), which catches a
  deleted row, a changed number, one changed character or a row moved to another simulation;
  and NULL in every central column (of the data tables and of the ``simulations`` row) the
  source has no data for.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Sequence

from sqlalchemy import Connection, func, select

from consolidate.errors import NotATarget
from consolidate.proof.findings import Findings, Mismatch, VerifyReport
from consolidate.proof.source_checks import RecordedSimulation, source_checks
from consolidate.schema import DATA_TABLES, indexes, metadata, migrations
from consolidate.schema.targets import central_engine, describe, target_url

SIMULATIONS = metadata.tables["simulations"]


def verify(
    target: str,
    sources: Sequence[str] = (),
    *,
    on_simulation: Callable[[str], None] | None = None,
) -> VerifyReport:
    """Verify ``target``; with ``sources`` compare against those files, else the recorded paths.

    Raises:
        TargetError: the target does not exist or cannot be opened.
    """
    started = time.perf_counter()
    url = target_url(target)
    engine = central_engine(url, must_exist=True)
    found = Findings()
    try:
        revision, head = migrations.current(engine), migrations.head()
        if revision is None:
            migrations.refuse_foreign(engine, reading=True)
            raise NotATarget(f"{describe(url)}: not an experiment database (it has no schema)")
        if revision != head:
            found.check(False, Mismatch("schema revision", head, revision))
            return _report(describe(url), [], found, started)
        with engine.connect() as conn:
            _database_checks(conn, describe(url), found)
            sims = _simulations(conn)
            counts = _central_counts(conn)
            _recorded_checks(sims, counts, found)
        source_checks(engine, sims, counts, sources, found, on_simulation)
    finally:
        engine.dispose()
    return _report(describe(url), list(sims), found, started)


def _report(name: str, sims: list[str], found: Findings, started: float) -> VerifyReport:
    return VerifyReport(
        target=name,
        simulations=tuple(sims),
        cells=dict(sorted(found.cells.items())),
        mismatches=tuple(found.mismatches),
        notes=tuple(found.notes),
        rows_compared=found.rows,
        seconds=time.perf_counter() - started,
        sources_compared=tuple(found.compared),
    )


def _database_checks(conn: Connection, name: str, found: Findings) -> None:
    if conn.dialect.name == "sqlite":
        integrity = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
        found.check(integrity == ["ok"], Mismatch("integrity_check", "ok", "; ".join(integrity)))
        violations = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        found.check(not violations, Mismatch("foreign_key_check", 0, len(violations)))
    _index_check(conn, name, found)
    known = select(SIMULATIONS.c.simulation_id)
    for name in DATA_TABLES:
        table = metadata.tables[name]
        orphans = conn.execute(
            select(func.count()).select_from(table).where(table.c.simulation_id.not_in(known))
        ).scalar_one()
        found.check(
            orphans == 0,
            Mismatch("rows whose simulation_id is not in simulations", 0, orphans, table=name),
        )


def _index_check(conn: Connection, name: str, found: Findings) -> None:
    """One finding for every missing index, saying how to get them back: a merge into a new
    SQLite target builds them at its end, so a merge killed (or aborted by a second Ctrl-C)
    before then leaves them missing, and its re-run builds them."""
    lacking = indexes.missing(conn)
    if not lacking:
        return
    tables = {i.table.name for i in lacking if i.table is not None}
    how = (
        f"run the same merge again (or consolidate db upgrade {name}) to build them"
        if conn.dialect.name == "sqlite"
        else f"run consolidate db upgrade {name} to build them"
    )
    found.check(
        False,
        Mismatch(
            "indexes present",
            "every index the schema declares",
            f"{len(lacking)} missing ({', '.join(str(i.name) for i in lacking)}); {how}",
            table=tables.pop() if len(tables) == 1 else None,
        ),
    )


def _simulations(conn: Connection) -> dict[str, RecordedSimulation]:
    from consolidate.layouts.mapping import SIMULATION_ROW

    legacy_columns = sorted(set(SIMULATION_ROW.values()))
    rows = conn.execute(
        select(
            SIMULATIONS.c.simulation_id,
            SIMULATIONS.c.origin,
            SIMULATIONS.c.source_path,
            SIMULATIONS.c.source_sha256,
            SIMULATIONS.c.source_row_counts,
            *(SIMULATIONS.c[c] for c in legacy_columns),
        ).order_by(SIMULATIONS.c.simulation_id)
    )
    sims = {}
    for row in rows:
        counts = json.loads(row.source_row_counts) if row.source_row_counts else None
        legacy = {c: row._mapping[c] for c in legacy_columns}
        sims[row.simulation_id] = RecordedSimulation(
            row.origin, row.source_path, row.source_sha256, counts, legacy
        )
    return sims


def _central_counts(conn: Connection) -> dict[str, dict[str, int]]:
    """Rows per simulation and table: one grouped scan per table."""
    counts: dict[str, dict[str, int]] = defaultdict(dict)
    for name in DATA_TABLES:
        table = metadata.tables[name]
        query = select(table.c.simulation_id, func.count()).group_by(table.c.simulation_id)
        for sim, rows in conn.execute(query):
            counts[sim][name] = rows
    return counts


def _recorded_checks(
    sims: dict[str, RecordedSimulation], counts: dict[str, dict[str, int]], found: Findings
) -> None:
    for sim, record in sims.items():
        if record.origin != "merge":
            continue
        missing = [
            label
            for label, value in (
                ("source_path", record.source_path),
                ("source_sha256", record.sha256),
                ("source_row_counts", record.counts),
            )
            if value is None
        ]
        found.check(not missing, Mismatch("provenance", "recorded", f"missing {missing}", sim))
        recorded = record.counts or {}
        for table in sorted(set(recorded) | set(counts.get(sim, {}))):
            have = counts.get(sim, {}).get(table, 0)
            want = recorded.get(table, 0)
            found.check(have == want, Mismatch("rows vs recorded count", want, have, sim, table))
