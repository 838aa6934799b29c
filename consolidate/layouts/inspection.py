"""``inspect``: what each source is and what a merge would make of it, without writing anything."""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace

from consolidate.errors import SourceError
from consolidate.layouts.mapping import quote
from consolidate.layouts.reading import OpenSource, open_source
from consolidate.layouts.workers import in_order
from consolidate.sources.discover import SourceFile, discover


@dataclass(frozen=True)
class SourceReport:
    """One source as ``inspect`` sees it; ``problems`` are one line each, worst first."""

    path: str
    family: str
    schema_version: str
    simulation_id: str | None
    tables: dict[str, int] = field(default_factory=dict)
    problems: tuple[str, ...] = ()
    nearest_family: str | None = None
    mergeable: bool = False

    def as_json(self) -> dict[str, object]:
        return {
            "path": self.path,
            "family": self.family,
            "schema_version": self.schema_version,
            "nearest_family": self.nearest_family,
            "simulation_id": self.simulation_id,
            "tables": self.tables,
            "problems": list(self.problems),
            "mergeable": self.mergeable,
        }


def inspect(
    sources: Iterable[str],
    *,
    on_source: Callable[[SourceReport], None] | None = None,
) -> list[SourceReport]:
    """Describe every source named by files, directories or glob patterns.

    A broken source is described, not raised: its report has family ``unknown`` and the reason
    among its problems. Several sources are read on every core (see :func:`in_order`); the
    reports, and the calls of ``on_source``, still come in the order of the sources.
    """
    files = discover(sources)
    reports = []
    with in_order(inspect_one, files) as each:
        for report in each:
            reports.append(report)
            if on_source is not None:
                on_source(report)
    return reports


def inspect_one(source: SourceFile) -> SourceReport:
    """Describe one source file; never raises for a bad file."""
    if source.problem is not None:  # found but unusable: never opened
        problems = (source.problem,)
        return SourceReport(str(source.path), "unknown", "unknown", None, problems=problems)
    try:
        with open_source(source.path, check=False) as opened:
            # One connection for everything: damage first, as the rest cannot be trusted.
            opened.file.check_integrity(full=True, conn=opened.reader)
            try:
                opened.check_values(on_reader=True)
            except SourceError as exc:  # a value no target can carry
                damage: str | None = exc.reason
            else:
                damage = None
            if opened.is_experiment:
                return _experiment_report(source, opened, damage)
            report = _report(source, opened)
            if damage is None:
                return report
            return replace(report, problems=(damage, *report.problems), mergeable=False)
    except SourceError as exc:
        return SourceReport(str(source.path), "unknown", "unknown", None, problems=(exc.reason,))


def _experiment_report(source: SourceFile, opened: OpenSource, damage: str | None) -> SourceReport:
    """An experiment database: merge copies each of its simulations (one line says how many)."""
    counts = table_counts(opened, opened.reader)
    problems = [damage] if damage else []
    problems += blocking_problems(opened, counts, runs=False)
    n = counts.get("simulations", 0)
    return SourceReport(
        path=str(source.path),
        family=opened.layout.family,
        schema_version=opened.layout.schema_version,
        simulation_id=f"({n} simulations)",
        tables=counts,
        problems=tuple(problems),
        mergeable=not problems,
    )


def simulation_id_for(source: SourceFile, opened: OpenSource) -> str:
    """The file's own id when its ``simulations`` table holds exactly one string id, else the
    id its path gives it."""
    return opened.own_simulation_id() or source.path_id


def table_counts(opened: OpenSource, conn: sqlite3.Connection) -> dict[str, int]:
    """Rows per table of the source, by the table's name in the file."""
    names = [t.name for t in opened.shape.tables]
    counts: list[int] = []
    # One statement per 500 tables (SQLite allows 2,000 result columns): a round trip per
    # table was a tenth of a small source's inspect.
    for start in range(0, len(names), 500):
        select = ", ".join(f"(SELECT count(*) FROM {quote(n)})" for n in names[start : start + 500])
        counts += conn.execute(f"SELECT {select}").fetchone()
    return dict(zip(names, counts, strict=True))


def blocking_problems(
    opened: OpenSource, counts: dict[str, int], *, runs: bool = True
) -> list[str]:
    """Problems that make merge reject the source: data it could not carry losslessly.

    ``runs=False`` (an experiment database) leaves out the checks of a single run's steps.
    """
    problems = []
    if opened.mapping.homeless_columns:
        problems.append("columns without a home: " + ", ".join(opened.mapping.homeless_columns))
    for name in opened.mapping.unknown_tables:
        if counts.get(name):
            problems.append(f"unknown table {name} holds {counts[name]} rows with no home")
    if runs:
        problems += _repeated_steps(opened)
    return problems


def _repeated_steps(opened: OpenSource) -> list[str]:
    """Steps the central key ``(simulation_id, step_number)`` cannot hold twice.

    f1 keyed its steps by ``step_id`` and f5 by ``(step_number, simulation_id)``, so a file may
    repeat a step_number (or repeat it with an empty simulation_id that merge fills in).
    """
    steps = next((t for t in opened.mapping.tables if t.central_table == "simulation_steps"), None)
    if steps is None:
        return []
    (repeated,) = opened.reader.execute(
        f"SELECT count(step_number) - count(DISTINCT step_number) FROM {quote(steps.legacy_table)}"
    ).fetchone()
    if not repeated:
        return []
    return [
        f"{steps.legacy_table} repeats {repeated} step_number values, which the central key "
        "(simulation_id, step_number) cannot hold twice"
    ]


def _report(source: SourceFile, opened: OpenSource) -> SourceReport:
    layout = opened.layout
    problems: list[str] = []
    # The source's reader: a connection of its own would parse the schema once more.
    conn = opened.reader
    counts = table_counts(opened, conn)
    blocking = blocking_problems(opened, counts)
    problems += blocking
    try:
        opened.simulation_row()
    except SourceError as exc:
        blocking.append(exc.reason)
        problems.append(exc.reason)
    simulation_id = simulation_id_for(source, opened)
    problems += _simulation_id_problems(opened, conn, simulation_id)
    problems += _data_problems(opened, conn, counts)
    if layout.schema_version == "unknown":
        problems.append(
            f"layout matches no known version (nearest family: {layout.nearest_family})"
        )
    empty_unknown = [n for n in opened.mapping.unknown_tables if not counts.get(n)]
    if empty_unknown:
        problems.append("empty unknown tables (not merged): " + ", ".join(empty_unknown))
    if opened.sidecar:
        problems.append(f"pending {opened.sidecar} sidecar: read through a private copy")
    return SourceReport(
        path=str(source.path),
        family=layout.family,
        schema_version=layout.schema_version,
        simulation_id=simulation_id,
        tables=counts,
        problems=tuple(problems),
        nearest_family=layout.nearest_family,
        mergeable=not blocking and not any("another simulation_id" in p for p in problems),
    )


def _simulation_id_problems(opened: OpenSource, conn: sqlite3.Connection, sim: str) -> list[str]:
    filled: dict[str, int] = {}
    foreign: dict[str, int] = {}
    tables = [t.legacy_table for t in opened.mapping.tables]
    tables = [t for t in tables if opened.shape.table(t) and _has_sim(opened, t)]
    if not tables:
        return []
    # Every table in one statement (a row of two counts each), as for the row counts.
    select = " UNION ALL ".join(
        f"SELECT {n}, count(*) FILTER (WHERE simulation_id IS NULL OR simulation_id = ''),"
        " count(*) FILTER (WHERE simulation_id <> '' AND simulation_id <> ?1)"
        f" FROM {quote(t)}"
        for n, t in enumerate(tables)
    )
    for n, empty, other in sorted(conn.execute(select, (sim,))):
        table = tables[n]
        if empty:
            filled[table] = empty
        if other:
            foreign[table] = other
    problems = []
    if foreign:
        detail = ", ".join(f"{t} {n}" for t, n in foreign.items())
        problems.append(f"rows carry another simulation_id than {sim!r} (rejected): {detail}")
    if filled:
        detail = ", ".join(f"{t} {n}" for t, n in filled.items())
        problems.append(
            f"{sum(filled.values())} rows with NULL or empty simulation_id get {sim!r}: {detail}"
        )
    return problems


def _has_sim(opened: OpenSource, table: str) -> bool:
    shape = opened.shape.table(table)
    return shape is not None and shape.has("simulation_id")


def _data_problems(
    opened: OpenSource, conn: sqlite3.Connection, counts: dict[str, int]
) -> list[str]:
    problems = []
    states = opened.shape.table_ci("resource_states") or opened.shape.table_ci("ResourceStates")
    if states is not None and states.has("step_number") and states.has("resource_id"):
        (extra,) = conn.execute(
            f"SELECT count(*) - count(DISTINCT step_number || ':' || resource_id) "
            f"FROM {quote(states.name)} WHERE resource_id IS NOT NULL AND step_number IS NOT NULL"
        ).fetchone()
        if extra:
            problems.append(
                f"{states.name}: {extra} duplicated (step_number, resource_id) rows "
                "(kept: duplicates are data)"
            )
    agents = next((counts[t.name] for t in opened.shape.tables if t.name.lower() == "agents"), 0)
    steps_table = opened.shape.table_ci("simulation_steps") or opened.shape.table_ci(
        "SimulationSteps"
    )
    steps = counts.get(steps_table.name, 0) if steps_table else 0
    if not agents and not steps:
        problems.append("stub: no agents and no steps (run aborted, or its WAL was lost)")
    configured = _configured_steps(opened, conn)
    if configured and steps and steps < configured:
        problems.append(f"partial run: {steps} step rows, the config asks for {configured} steps")
    return problems


def _configured_steps(opened: OpenSource, conn: sqlite3.Connection) -> int | None:
    config = opened.shape.table_ci("simulation_config") or opened.shape.table_ci("SimulationConfig")
    if config is None or not config.has("config_data"):
        return None
    row = conn.execute(f"SELECT config_data FROM {quote(config.name)} LIMIT 1").fetchone()
    try:
        steps = json.loads(row[0]).get("simulation_steps") if row else None
    except (TypeError, ValueError, AttributeError):
        return None
    return steps if isinstance(steps, int) else None
