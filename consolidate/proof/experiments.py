"""``verify TARGET OLD_EXPERIMENT.db``: the target against the experiment database it came from.

Every simulation of the old database must be in the target under its id, with the same
provenance (origin, source path, source sha256, recorded counts, experiment) and the same rows
in every table, compared as a run file's rows are (``EXCEPT`` on SQLite, checksums on
PostgreSQL).
"""

from __future__ import annotations

import json
from collections.abc import Callable

from sqlalchemy import Engine, select

from consolidate.layouts import central
from consolidate.layouts.reading import OpenSource
from consolidate.proof.comparison import TableComparison, compare_tables
from consolidate.proof.findings import Findings, Mismatch
from consolidate.schema import metadata

SIMULATIONS = metadata.tables["simulations"]

#: The provenance a moved simulation must carry unchanged.
CARRIED = ("origin", "experiment_id", "source_path", "source_sha256", "source_row_counts")


def compare_experiment(
    engine: Engine,
    opened: OpenSource,
    found: Findings,
    counts: dict[str, dict[str, int]],
    record: Callable[[TableComparison, str, str, dict[str, int], Findings], None],
    on_simulation: Callable[[str], None] | None = None,
) -> None:
    """Compare every simulation of the experiment database ``opened`` with the target.

    Args:
        counts: the target's rows per simulation and table.
        record: files one table's comparison of one simulation among the findings
            (result, simulation, source, the simulation's counts, findings).
    """
    with engine.connect() as conn:
        rows = conn.execute(select(SIMULATIONS)).mappings()
        target = {str(r["simulation_id"]): dict(r) for r in rows}
    sims = central.central_rows(opened.connect, opened.shape, "simulations", "simulation_id")
    found.compared.append(str(opened.path))
    for old in sims:
        sim = str(old["simulation_id"])
        if on_simulation is not None:
            on_simulation(sim)
        have = target.get(sim)
        if have is None:
            found.check(False, Mismatch("simulation in the target", sim, "absent", sim))
            continue
        for column in CARRIED:
            want, got = _comparable(column, old[column]), _comparable(column, have[column])
            found.check(want == got, Mismatch(f"simulations.{column}", want, got, sim))
        with engine.connect() as conn:
            for result in compare_tables(conn, opened, sim, sim):
                record(result, sim, str(opened.path), counts.get(sim, {}), found)


def _comparable(column: str, value: object) -> object:
    if column == "source_row_counts" and isinstance(value, str):
        return json.loads(value)
    return value
