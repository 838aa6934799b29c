"""Cross-run questions about an experiment database, answered as pandas DataFrames.

AgentFarm's ``ExperimentQueryTool`` (PR #463), fixed: every answer is scoped by simulation_id, each
method is one SQLAlchemy Core statement, and each call borrows a connection instead of holding a
session. The only module that imports pandas, inside the methods: ``--help`` stays fast.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import sqlalchemy as sa
from sqlalchemy import URL, Connection, Select, Table, func, select
from sqlalchemy.exc import DBAPIError
from sqlalchemy.sql.elements import ColumnElement

from consolidate.analysis.agentfarm import AgentFarmQueries
from consolidate.analysis.columns import (
    AGENTS,
    EXPERIMENTS,
    METRICS,
    SIMULATIONS,
    STATES,
    STEPS,
    TABLES,
    SimulationIds,
    as_list,
    dtypes_of,
    totals,
)
from consolidate.analysis.export import write_csv
from consolidate.analysis.readonly import first_line, run_read_only
from consolidate.errors import ConsolidateError, QueryError, TargetError
from consolidate.schema import metadata, migrations
from consolidate.schema.targets import central_engine, describe, target_url

if TYPE_CHECKING:
    import pandas as pd


class ExperimentQueryTool(AgentFarmQueries):
    """Read-only questions about an experiment database (SQLite file or PostgreSQL URL).

    ``db_path`` is a file path or a URL, positional or, as AgentFarm's scripts pass it, keyword
    (``ExperimentQueryTool(db_path=...)``).

    It answers for every experiment unless ``experiment_id`` is given (AgentFarm's read the first
    one only). Columns get nullable dtypes from the schema's types (``Int64``, ``Float64``,
    ``string``), so a count with a NULL in it stays an integer. A filter naming a simulation that
    does not exist (in that experiment) raises :class:`QueryError` rather than returning less.

    Raises:
        TargetError: no such SQLite file, an unreadable database, or one without the consolidate
            schema at this version's revision (``SchemaOutOfDate`` names the fix).
    """

    def __init__(self, db_path: str | Path | URL, *, experiment_id: str | None = None) -> None:
        self.url = db_path if isinstance(db_path, URL) else target_url(db_path)
        self.name = describe(self.url)
        self.experiment_id = experiment_id
        # must_exist: a reader that created an empty database would answer "nothing" for a typo.
        self._engine = central_engine(self.url, must_exist=True)
        self._closed = False
        try:
            migrations.require_current(self._engine, name=self.name, create=False)
        except DBAPIError as exc:
            self._engine.dispose()
            raise TargetError(f"{self.name}: cannot be read ({first_line(exc)})") from exc
        except ConsolidateError:
            self._engine.dispose()
            raise

    def __enter__(self) -> ExperimentQueryTool:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()

    def close(self) -> None:
        """Dispose of the engine; the tool refuses further calls."""
        self._closed = True
        self._engine.dispose()

    def list_simulations(self) -> pd.DataFrame:
        """Every column of ``simulations`` (status, times, parameters, provenance)."""
        query = select(SIMULATIONS).where(*self._scope(SIMULATIONS))
        return self._read(query.order_by(SIMULATIONS.c.simulation_id))

    def get_simulation_summary(self, simulation_id: str | None = None) -> pd.DataFrame:
        """Per simulation: experiment, origin, layout, status, ``total_steps``, ``final_step``,
        ``agents`` (rows in ``agents``), avg/max/min of ``total_agents``, ``avg_resources``, and
        ``total_births``/``total_deaths`` summed over every step (NA where the layout did not
        record them). A simulation without steps still has its row."""
        ids, sim, steps = as_list(simulation_id), SIMULATIONS.c, STEPS.c
        names = ("simulation_id", "experiment_id", "origin", "source_family")
        identity = [sim[c] for c in (*names, "source_schema_version", "status")]
        agents = select(func.count()).where(AGENTS.c.simulation_id == sim.simulation_id)
        query = (
            select(
                *identity,
                func.count(steps.step_number).label("total_steps"),
                func.max(steps.step_number).label("final_step"),
                agents.scalar_subquery().label("agents"),
                func.avg(steps.total_agents.cast(sa.Float)).label("avg_agents"),
                func.max(steps.total_agents).label("max_agents"),
                func.min(steps.total_agents).label("min_agents"),
                func.avg(steps.total_resources).label("avg_resources"),
                *totals(),
            )
            .select_from(SIMULATIONS.outerjoin(STEPS, steps.simulation_id == sim.simulation_id))
            .where(*self._scope(SIMULATIONS, ids))
            .group_by(*identity)
            .order_by(sim.simulation_id)
        )
        frame = self._read(query)
        self._check_known(set(frame["simulation_id"]), ids)
        return frame

    def get_agent_counts_over_time(self, simulation_ids: SimulationIds = None) -> pd.DataFrame:
        """Columns ``simulation_id, step_number, total_agents``, ordered by both keys."""
        frame, _ = self._per_step("total_agents", as_list(simulation_ids))
        return frame

    def compare_simulations(
        self, metric: str = "total_agents", simulation_ids: SimulationIds = None
    ) -> pd.DataFrame:
        """AgentFarm's pivot: ``step_number`` as index, a float64 column per simulation (all in
        scope, or those asked for in that order; NaN where no value), ready for ``.plot()``.

        (simulation_id, step_number) is simulation_steps' key, so a cell is one row; a pair
        repeated anyway (a hand-made database) is averaged rather than failing the pivot.
        ``metric`` must be one of :data:`METRICS`.
        """
        if metric not in METRICS:
            raise QueryError(f"unknown metric {metric!r}; choose one of: {', '.join(METRICS)}")
        import pandas as pd

        frame, sims = self._per_step(metric, as_list(simulation_ids))
        frame[metric] = frame[metric].astype("float64")  # NaN rather than NA: numpy can plot it
        wide = frame.pivot_table(
            index="step_number", columns="simulation_id", values=metric, aggfunc="mean"
        )
        wide = wide.reindex(columns=pd.Index(sims, name="simulation_id"))
        wide.index.name = "step_number"
        return wide

    def get_final_state(self, simulation_id: str) -> dict[str, Any]:
        """The last step of one simulation as a dict (AgentFarm's keys): ``final_step``,
        ``total_agents``, ``total_resources``, ``average_health``, ``average_resources`` from the
        last step's row; ``total_births``/``total_deaths`` summed over the whole run; and
        ``agent_distribution`` ``{agent_type: agents}`` over agents with a state at the last step,
        typed from ``agents`` joined on (simulation_id, agent_id). ``None`` where not recorded.
        """
        ours = STEPS.c.simulation_id == simulation_id
        last = select(func.max(STEPS.c.step_number)).where(ours).scalar_subquery()
        summed = select(func.max(STEPS.c.step_number).label("final_step"), *totals()).where(ours)
        final = select(
            STEPS.c.total_agents,
            STEPS.c.total_resources,
            STEPS.c.average_agent_health.label("average_health"),
            STEPS.c.average_agent_resources.label("average_resources"),
        ).where(ours, STEPS.c.step_number == last)
        kind = func.coalesce(AGENTS.c.agent_type, STATES.c.agent_type)
        same = sa.and_(*(AGENTS.c[k] == STATES.c[k] for k in ("simulation_id", "agent_id")))
        types = (
            select(kind.label("agent_type"), func.count(sa.distinct(STATES.c.agent_id)).label("n"))
            .select_from(STATES.outerjoin(AGENTS, same))
            .where(STATES.c.simulation_id == simulation_id, STATES.c.step_number == last)
            .group_by(kind)
        )
        t, f, d = summed.subquery(), final.subquery(), types.subquery()
        query = (
            select(SIMULATIONS.c.simulation_id, t, f, d)
            .select_from(
                SIMULATIONS.outerjoin(t, sa.true()).outerjoin(f, sa.true()).outerjoin(d, sa.true())
            )
            .where(SIMULATIONS.c.simulation_id == simulation_id, *self._scope(SIMULATIONS))
        )
        frame = self._read(query)
        self._check_known(set(frame["simulation_id"]), [simulation_id])
        rows = frame.astype(object).where(frame.notna(), None).to_dict(orient="records")
        state = {str(k): v for k, v in rows[0].items() if k not in ("agent_type", "n")}
        counted = (r for r in rows if r["n"] is not None)  # the LEFT JOIN's row when none
        state["agent_distribution"] = {r["agent_type"] or "unknown": r["n"] for r in counted}
        return state

    def export(self, table: str, path: str | Path, simulation_ids: SimulationIds = None) -> int:
        """Write one of :data:`TABLES` to a CSV file, in primary-key order; return its rows.

        Streamed in chunks (memory stays flat); integers stay integers, floats are unrounded, and
        the file appears only once complete. ``experiments`` keeps the experiments holding the
        simulations asked for; an id that matches nothing adds no rows.
        """
        if table not in TABLES:
            raise QueryError(f"unknown table {table!r}; choose one of: {', '.join(TABLES)}")
        source = metadata.tables[table]
        query = select(source).where(*self._scope(source, as_list(simulation_ids)))
        with self._connect() as conn:
            return write_csv(conn, query.order_by(*source.primary_key.columns), Path(path))

    def read_sql(self, sql: str) -> pd.DataFrame:
        """Run one SQL statement read-only (nullable dtypes inferred from the values).

        SQLite runs it under ``PRAGMA query_only``; PostgreSQL in a ``READ ONLY`` transaction via
        the extended protocol, which takes one statement (``COMMIT; DELETE ...`` cannot step out).
        It guards against mistakes, not hostile users: give those a read-only role.

        Raises:
            QueryError: the statement fails, tries to write, or returns no rows.
        """
        import pandas as pd

        columns, rows = run_read_only(self._connect(), sql, name=self.name)
        frame = pd.DataFrame({i: pd.array([r[i] for r in rows]) for i in range(len(columns))})
        frame.columns = pd.Index(columns)  # set afterwards: a result may repeat a column name
        return frame

    def _per_step(self, metric: str, ids: list[str] | None) -> tuple[pd.DataFrame, list[str]]:
        """``(simulation_id, step_number, metric)`` rows and the simulations in scope, in order;
        starting from ``simulations`` tells in the same statement which asked-for ids exist."""
        query = (
            select(SIMULATIONS.c.simulation_id, STEPS.c.step_number, STEPS.c[metric])
            .select_from(
                SIMULATIONS.outerjoin(STEPS, STEPS.c.simulation_id == SIMULATIONS.c.simulation_id)
            )
            .where(*self._scope(SIMULATIONS, ids))
            .order_by(SIMULATIONS.c.simulation_id, STEPS.c.step_number)
        )
        frame = self._read(query)
        self._check_known(set(frame["simulation_id"]), ids)
        sims = ids if ids is not None else list(dict.fromkeys(frame["simulation_id"]))
        steps = frame.dropna(subset=["step_number"]).astype({"step_number": "int64"})
        return steps.reset_index(drop=True), sims

    def _scope(self, table: Table, ids: list[str] | None = None) -> list[ColumnElement[bool]]:
        """WHERE clauses keeping ``table``'s rows of the asked-for simulations and experiment."""
        sim, where = SIMULATIONS.c, []
        if table is EXPERIMENTS:
            if self.experiment_id is not None:
                where.append(EXPERIMENTS.c.experiment_id == self.experiment_id)
            if ids is not None:
                holding = select(sim.experiment_id).where(sim.simulation_id.in_(ids))
                where.append(EXPERIMENTS.c.experiment_id.in_(holding))
            return where
        if ids is not None:
            where.append(table.c.simulation_id.in_(ids))
        if self.experiment_id is not None:
            ours = select(sim.simulation_id).where(sim.experiment_id == self.experiment_id)
            where.append(table.c.simulation_id.in_(ours))
        return where

    def _check_known(self, found: set[str], ids: list[str] | None) -> None:
        missing = [i for i in ids or () if i not in found]
        if missing:
            where = f" in experiment {self.experiment_id}" if self.experiment_id else ""
            raise QueryError(f"{self.name}: no simulation {', '.join(missing)}{where}")

    def _read(self, query: Select[Any]) -> pd.DataFrame:
        import pandas as pd

        dtypes, dates = dtypes_of(query)
        with self._connect() as conn:
            return pd.read_sql(
                query, conn, dtype=dtypes, parse_dates=dates, dtype_backend="numpy_nullable"
            )

    def _connect(self) -> Connection:
        if self._closed:
            raise TargetError(f"{self.name}: this ExperimentQueryTool was closed")
        return self._engine.connect()
