"""``verify``: proof that the experiment database holds every row its sources held.

Three layers, each a list of named checks:

- the database: schema at head, SQLite's integrity and foreign-key checks, no data row whose
  simulation is unknown, no merged simulation without provenance or counts;
- each merged simulation and table: central rows against the counts recorded at merge time;
- each source that is still there (or named on the command line): its sha256 against the one
  recorded, its rows read through the same mapping as merge against the central rows, compared
  in both directions inside the engine (``EXCEPT``), which catches a deleted row, a changed
  number, one changed character or a row moved to another simulation; and NULL in every central
  column (of the data tables and of the ``simulations`` row) the source has no data for.
"""

from __future__ import annotations

import json
import time
from collections import defaultdict
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Connection, Engine, func, inspect, select

from consolidate.errors import NotATarget, SourceError
from consolidate.layouts import remote
from consolidate.layouts.inspection import blocking_problems, simulation_id_for
from consolidate.layouts.reading import OpenSource, open_source
from consolidate.proof.comparison import TableComparison, compare_tables
from consolidate.proof.experiments import compare_experiment
from consolidate.proof.findings import Findings, Mismatch, VerifyReport
from consolidate.schema import DATA_TABLES, metadata, migrations
from consolidate.schema.targets import central_engine, describe, sqlite_path, target_url
from consolidate.sources.discover import SourceFile

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
            _database_checks(conn, found)
            sims = _simulations(conn)
            counts = _central_counts(conn)
            _recorded_checks(sims, counts, found)
        _source_checks(engine, sims, counts, sources, found, on_simulation)
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


def _database_checks(conn: Connection, found: Findings) -> None:
    if conn.dialect.name == "sqlite":
        integrity = [r[0] for r in conn.exec_driver_sql("PRAGMA integrity_check")]
        found.check(integrity == ["ok"], Mismatch("integrity_check", "ok", "; ".join(integrity)))
        violations = conn.exec_driver_sql("PRAGMA foreign_key_check").fetchall()
        found.check(not violations, Mismatch("foreign_key_check", 0, len(violations)))
    present = {
        table: {ix["name"] for ix in inspect(conn).get_indexes(table)} for table in metadata.tables
    }
    for table in metadata.sorted_tables:
        for index in table.indexes:
            found.check(
                index.name in present[table.name],
                Mismatch(
                    "index present",
                    index.name,
                    "missing",
                    table=table.name,
                ),
            )
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


@dataclass(frozen=True)
class _Simulation:
    origin: str
    source_path: str | None
    sha256: str | None
    counts: dict[str, int] | None
    legacy: dict[str, object]


def _simulations(conn: Connection) -> dict[str, _Simulation]:
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
        sims[row.simulation_id] = _Simulation(
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
    sims: dict[str, _Simulation], counts: dict[str, dict[str, int]], found: Findings
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


def _source_checks(
    engine: Engine,
    sims: dict[str, _Simulation],
    counts: dict[str, dict[str, int]],
    sources: Sequence[str],
    found: Findings,
    on_simulation: Callable[[str], None] | None,
) -> None:
    by_sha = {r.sha256: s for s, r in sims.items() if r.sha256}
    for source, known in _sources_to_compare(engine, sims, sources, found):
        path, problem, sim = source.path, source.problem, known
        if problem is not None:  # found by the scan but unusable: merge rejects it too
            found.notes.append(f"{path}: not compared: merge rejects it ({problem})")
            continue
        try:
            # Opened once: its hash finds its simulation (for named sources) and is then
            # checked against the recorded one, and its rows are compared.
            with open_source(path) as opened:
                if opened.is_experiment:
                    record = _record_comparison
                    compare_experiment(engine, opened, found, counts, record, on_simulation)
                    continue
                if sim is None:
                    sim = by_sha.get(opened.sha256)
                    if sim is None:
                        _not_merged(source, opened, sims, found)
                        continue
                if on_simulation is not None:
                    on_simulation(sim)
                _compare_source(engine, sim, sims[sim], opened, counts.get(sim, {}), found)
        except SourceError as exc:
            if sim is None:  # named, never merged: merge rejects it for the same reason
                found.notes.append(f"{path}: not compared: merge rejects it ({exc.reason})")
            else:
                mismatch = Mismatch("source readable", "a readable source", exc.reason, sim)
                found.check(False, replace(mismatch, source=str(path)))


def _not_merged(
    source: SourceFile, opened: OpenSource, sims: dict[str, _Simulation], found: Findings
) -> None:
    """A named source absent from the target: a note when merge rejects it (for what it holds,
    or because another file holds its simulation_id), else a mismatch."""
    problems = blocking_problems(opened, opened.unknown_table_counts())
    held = sims.get(simulation_id_for(source, opened))
    if held is not None and held.source_path != str(opened.path):
        problems.append(
            f"its simulation_id {simulation_id_for(source, opened)} is held by {held.source_path}"
        )
    if problems:
        found.notes.append(f"{opened.path}: not compared: merge rejects it ({'; '.join(problems)})")
    else:
        mismatch = Mismatch("source merged", "in the target", "absent")
        found.check(False, replace(mismatch, source=str(opened.path)))


def _sources_to_compare(
    engine: Engine, sims: dict[str, _Simulation], sources: Sequence[str], found: Findings
) -> Iterator[tuple[SourceFile, str | None]]:
    """The sources named (simulation found later by hash; an experiment database named by URL
    is read from a private copy while it is compared), else the recorded paths that exist with
    their simulation."""
    if sources:
        # As in merge: a SQLite target inside a scanned directory is not one of its sources.
        url = engine.url
        target_path = sqlite_path(url) if url.get_backend_name() == "sqlite" else None
        exclude = Path(target_path) if target_path else None
        with remote.sources(sources, exclude=exclude) as named:
            yield from ((source, None) for source in named)
        return
    for sim, record in sims.items():
        if record.origin != "merge" or not record.source_path:
            continue
        if Path(record.source_path).is_file():
            yield SourceFile(Path(record.source_path), sim), sim
        else:
            found.notes.append(
                f"{sim}: source {record.source_path} no longer exists; "
                "checked against the recorded counts only"
            )


def _compare_source(
    engine: Engine,
    sim: str,
    record: _Simulation,
    opened: OpenSource,
    counts: dict[str, int],
    found: Findings,
) -> None:
    if opened.sha256 != record.sha256:
        mismatch = Mismatch("source sha256", record.sha256, opened.sha256, sim)
        found.check(False, replace(mismatch, source=str(opened.path)))
        return
    found.compared.append(str(opened.path))
    _compare_simulation_row(opened, record, sim, found)
    own = opened.own_simulation_id() or sim
    with engine.connect() as conn:
        for result in compare_tables(conn, opened, sim, own):
            _record_comparison(result, sim, str(opened.path), counts, found)


def _compare_simulation_row(
    opened: OpenSource, record: _Simulation, sim: str, found: Findings
) -> None:
    """The central row's legacy columns against the source's ``simulations`` row.

    A column the source did not provide (no such table, no row in it, or a layout without that
    column) must be NULL: merge wrote nothing there, so any value is not the source's.
    """
    legacy = opened.simulation_row() or {}
    for column, have in record.legacy.items():
        value = legacy.get(column)
        mismatch = Mismatch(
            f"simulations.{column}", value, have, sim, "simulations", str(opened.path)
        )
        found.check(have == value, mismatch)


def _record_comparison(
    result: TableComparison, sim: str, source: str, counts: dict[str, int], found: Findings
) -> None:
    table = result.table
    want = counts.get(table, 0)
    found.rows += result.source_rows + result.target_rows
    found.check(
        result.source_rows == counts.get(table, 0),
        Mismatch("rows in source vs target", result.source_rows, want, sim, table, source),
    )
    found.check(
        result.identical,
        Mismatch("row contents", "identical rows", result.describe(), sim, table, source),
    )
    found.check(
        result.unfed_rows == 0,
        Mismatch(
            "values in columns the source has no data for",
            0,
            result.unfed_rows,
            sim,
            table,
            source,
        ),
    )
