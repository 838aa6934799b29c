"""verify's third layer: each source still there (or named) against what the target holds.

Its sha256 against the recorded one, its rows read through the same mapping as merge against the
central rows (``EXCEPT`` in both directions), NULL in every central column it has no data for,
and its ``simulations`` row; a source merge rejects is a note naming the file, not a mismatch.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, replace
from pathlib import Path

from sqlalchemy import Engine

from consolidate.errors import SourceError
from consolidate.layouts import remote
from consolidate.layouts.inspection import blocking_problems, simulation_id_for
from consolidate.layouts.reading import OpenSource, open_source
from consolidate.proof.comparison import TableComparison, compare_tables
from consolidate.proof.experiments import compare_experiment
from consolidate.proof.findings import Findings, Mismatch
from consolidate.schema.targets import sqlite_path
from consolidate.sources.discover import SourceFile


@dataclass(frozen=True)
class RecordedSimulation:
    """What the target recorded of one simulation: where it came from and what it held."""

    origin: str
    source_path: str | None
    sha256: str | None
    counts: dict[str, int] | None
    legacy: dict[str, object]


def source_checks(
    engine: Engine,
    sims: dict[str, RecordedSimulation],
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
    source: SourceFile, opened: OpenSource, sims: dict[str, RecordedSimulation], found: Findings
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
    engine: Engine, sims: dict[str, RecordedSimulation], sources: Sequence[str], found: Findings
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
    record: RecordedSimulation,
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
    opened: OpenSource, record: RecordedSimulation, sim: str, found: Findings
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
