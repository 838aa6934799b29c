"""The answers of AgentFarm's ``ExperimentQueryTool`` (PR #463) that are not DataFrames of steps.

Mixed into :class:`~consolidate.analysis.query.ExperimentQueryTool`, whose scoping they share.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import TYPE_CHECKING, Any

from sqlalchemy import Connection, Select, Table, func, select
from sqlalchemy.sql.elements import ColumnElement

from consolidate.analysis.columns import AGENTS, EXPERIMENTS, SIMULATIONS
from consolidate.analysis.export import write_csv
from consolidate.errors import QueryError
from consolidate.schema import metadata

if TYPE_CHECKING:
    import pandas as pd

#: AgentFarm's file names of ``export_simulation_data`` and the tables they hold.
SIMULATION_FILES = {
    "steps.csv": "simulation_steps",
    "agents.csv": "agents",
    "agent_states.csv": "agent_states",
    "actions.csv": "agent_actions",
    "resources.csv": "resource_states",
}
#: The keys of AgentFarm's ``get_experiment_info`` dict, in its order.
EXPERIMENT_KEYS = (
    "experiment_id",
    "name",
    "description",
    "status",
    "creation_date",
    "last_updated",
    "results_summary",
)


class AgentFarmQueries:
    """``get_experiment_info`` (a dict), ``get_agent_types_distribution`` and
    ``export_simulation_data``, as PR #463 names them, scoped like every other answer."""

    name: str
    experiment_id: str | None

    def get_experiments(self) -> pd.DataFrame:
        """Every column of ``experiments`` plus its ``simulations`` count, one row per
        experiment in scope (what ``get_experiment_info`` returned before it became a dict)."""
        exp = EXPERIMENTS.c
        count = select(func.count()).where(SIMULATIONS.c.experiment_id == exp.experiment_id)
        query = select(EXPERIMENTS, count.scalar_subquery().label("simulations"))
        return self._read(query.where(*self._scope(EXPERIMENTS)).order_by(exp.experiment_id))

    def get_experiment_info(self) -> dict[str, Any]:
        """The experiment as AgentFarm's dict: ``experiment_id``, ``name``, ``description``,
        ``status``, ``creation_date``, ``last_updated``, ``results_summary`` (parsed JSON).

        AgentFarm's read the first experiment of the file; this one is the tool's
        ``experiment_id``, or the database's only experiment.

        Raises:
            QueryError: no experiment, or several and no ``experiment_id`` to choose one
                (AgentFarm returned ``{"error": ...}`` or an arbitrary one).
        """
        query = select(*(EXPERIMENTS.c[key] for key in EXPERIMENT_KEYS))
        query = query.where(*self._scope(EXPERIMENTS)).order_by(EXPERIMENTS.c.experiment_id)
        with self._connect() as conn:
            found = [dict(row._mapping) for row in conn.execute(query.limit(2))]
        if not found:
            where = f" {self.experiment_id}" if self.experiment_id else ""
            raise QueryError(f"{self.name}: no experiment{where}")
        if len(found) > 1:
            raise QueryError(
                f"{self.name}: holds several experiments; pass experiment_id= to choose one, "
                "or use get_experiments()"
            )
        info = found[0]
        summary = info["results_summary"]
        if isinstance(summary, str):
            try:
                info["results_summary"] = json.loads(summary)
            except ValueError:
                pass  # not JSON: handed back as the text it is
        return info

    def get_agent_types_distribution(self, simulation_id: str) -> pd.DataFrame:
        """Columns ``agent_type, count``: the simulation's agents per type, by type.

        Raises:
            QueryError: no such simulation (in the tool's experiment).
        """
        self._check_simulation(simulation_id)
        query = (
            select(AGENTS.c.agent_type, func.count(AGENTS.c.agent_id).label("count"))
            .where(AGENTS.c.simulation_id == simulation_id)
            .group_by(AGENTS.c.agent_type)
            .order_by(AGENTS.c.agent_type)
        )
        return self._read(query)

    def export_simulation_data(self, simulation_id: str, output_path: str | Path) -> dict[str, int]:
        """Write one simulation's tables as CSV files into the folder ``output_path`` (created
        if missing), under AgentFarm's names (:data:`SIMULATION_FILES`); returns rows per file.

        Raises:
            QueryError: no such simulation (in the tool's experiment).
        """
        folder = Path(output_path)
        self._check_simulation(simulation_id)
        folder.mkdir(parents=True, exist_ok=True)
        written = {}
        for file_name, table_name in SIMULATION_FILES.items():
            table = metadata.tables[table_name]
            query = select(table).where(table.c.simulation_id == simulation_id)
            with self._connect() as conn:
                query = query.order_by(*table.primary_key.columns)
                written[file_name] = write_csv(conn, query, folder / file_name)
        return written

    def _check_simulation(self, simulation_id: str) -> None:
        """Raise :class:`QueryError` unless the simulation exists in the tool's scope."""
        known = select(SIMULATIONS.c.simulation_id).where(
            SIMULATIONS.c.simulation_id == simulation_id, *self._scope(SIMULATIONS)
        )
        with self._connect() as conn:
            self._check_known(set(conn.execute(known).scalars()), [simulation_id])

    # -- provided by ExperimentQueryTool -----------------------------------------------------

    def _read(self, query: Select[Any]) -> pd.DataFrame:
        raise NotImplementedError

    def _scope(self, table: Table, ids: list[str] | None = None) -> list[ColumnElement[bool]]:
        raise NotImplementedError

    def _check_known(self, found: set[str], ids: list[str] | None) -> None:
        raise NotImplementedError

    def _connect(self) -> Connection:
        raise NotImplementedError
