"""What AgentFarm's ``Environment`` and ``run_simulation`` call on ``environment.db``.

:class:`SimulationContext` gets these members from :class:`AgentFarmMembers`, so a context is
what AgentFarm's own ``setup_db`` returns, scoped to its one simulation: every member reads and
writes that simulation's rows only (AgentFarm's looked agents up by ``agent_id`` alone and wrote
the death's health incident without a ``simulation_id``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

from sqlalchemy import Connection, Engine, select, update
from sqlalchemy.orm import Session as OrmSession
from sqlalchemy.orm import scoped_session

from consolidate.errors import UsageError
from consolidate.schema import metadata
from consolidate.writer import records, rows
from consolidate.writer.buffers import NUMBERED
from consolidate.writer.export import export_tables
from consolidate.writer.retry import write_transaction
from consolidate.writer.sessions import run_in_transaction

if TYPE_CHECKING:
    from consolidate.writer.logger import ExperimentDataLogger

T = TypeVar("T")
log = logging.getLogger(__name__)

AGENTS = metadata.tables["agents"]
CONFIGS = metadata.tables["simulation_config"]
SIMULATIONS = metadata.tables["simulations"]
HEALTH_INCIDENTS = metadata.tables["health_incidents"]


class AgentFarmMembers:
    """AgentFarm's ``DatabaseProtocol`` members of a simulation's context.

    Expects ``simulation_id``, ``logger`` (an ``ExperimentDataLogger``), ``Session`` (the
    simulation's session factory) and ``_engine`` and ``_location`` on the class it is mixed in.
    """

    simulation_id: str
    logger: ExperimentDataLogger
    Session: scoped_session[OrmSession]
    _engine: Engine
    _location: str
    #: Whether update_simulation_record or update_agent_death changed a row directly.
    _record_changed = False

    @property
    def db_path(self) -> str:
        """Where the rows go: the experiment database's file path, or its URL without password."""
        return self._location

    def _execute_in_transaction(self, func: Callable[[OrmSession], T]) -> T:
        """Run ``func(session)`` in one transaction and commit; roll back and re-raise on error.

        Rows still buffered are flushed first, so ``func`` sees everything logged so far (in
        AgentFarm, agents were written at once). The session's writes stay in this simulation
        (:func:`consolidate.writer.sessions.simulation_sessions`).
        """
        self.logger.flush_all_buffers()
        return run_in_transaction(self.Session, func)

    def save_configuration(self, config: Mapping[str, Any]) -> None:
        """Add a ``simulation_config`` row: ``timestamp`` epoch seconds, ``config_data`` JSON."""
        row = rows.blank("simulation_config", self.simulation_id)
        row["timestamp"] = int(time.time())
        row["config_data"] = json.dumps(dict(config), default=str)
        self.logger._add("simulation_config", row)
        self.logger.flush_all_buffers()

    def get_configuration(self) -> dict[str, Any]:
        """The newest configuration saved for this simulation, parsed; ``{}`` when there is none."""
        self.logger.flush_all_buffers()
        query = (
            select(CONFIGS.c.config_data)
            .where(CONFIGS.c.simulation_id == self.simulation_id)
            .order_by(CONFIGS.c.timestamp.desc(), CONFIGS.c.config_id.desc())
            .limit(1)
        )
        with self._engine.connect() as conn:
            text = conn.execute(query).scalar()
        if not text:
            return {}
        try:
            parsed = json.loads(text)
        except ValueError:
            log.warning("simulation %s: its configuration is not JSON", self.simulation_id)
            return {}
        return parsed if isinstance(parsed, dict) else {}

    def add_simulation_record(
        self,
        simulation_id: str,
        start_time: datetime,
        status: str,
        parameters: Mapping[str, Any] | None,
    ) -> None:
        """Nothing to do: opening the context created this simulation's row.

        AgentFarm's ``run_simulation`` calls it only when ``save_configuration`` failed for want
        of that row; the row is never replaced here (see ``replace`` of
        ``create_simulation_context`` for starting a run over).

        Raises:
            UsageError: ``simulation_id`` is not this context's.
        """
        self._check_own(simulation_id)

    def update_simulation_record(
        self,
        simulation_id: str,
        *,
        status: str | None = None,
        end_time: datetime | None = None,
        results_summary: Mapping[str, Any] | None = None,
        simulation_db_path: str | None = None,
    ) -> None:
        """Set the given fields of this simulation's row, after flushing its buffered rows.

        Stored as :func:`consolidate.writer.records.update_simulation` stores them (a status
        that ends the run with no ``end_time`` gets now as its end time).

        Raises:
            UsageError: ``simulation_id`` is not this context's.
        """
        self._check_own(simulation_id)
        self.logger.flush_all_buffers()
        if all(v is None for v in (status, end_time, results_summary, simulation_db_path)):
            return
        self._record_changed = True
        write_transaction(
            self._engine,
            lambda conn: records.update_simulation(
                conn,
                self.simulation_id,
                status=status,
                end_time=end_time,
                results_summary=results_summary,
                simulation_db_path=simulation_db_path,
            ),
        )

    def update_agent_death(self, agent_id: str, death_time: int, cause: str = "starvation") -> None:
        """Set the agent's ``death_time`` and add its death to ``health_incidents``, as AgentFarm
        does (step ``death_time``, health 0 to 0, ``cause``, details ``{"final_state": "dead"}``).

        Both are written in one transaction before this returns, as AgentFarm wrote them, so a
        crash never keeps one without the other; an agent still buffered is flushed first (with
        the rows buffered before it). An agent this simulation never logged is left alone, as in
        AgentFarm (which then logged nothing either).
        """
        agent_id = str(agent_id)
        if self.logger._buffers.pending("agents", agent_id) is not None:
            self.logger.flush_all_buffers()
        incident = rows.health_incident(
            self.simulation_id,
            step_number=death_time,
            agent_id=agent_id,
            health_before=0,
            health_after=0,
            cause=cause,
            details={"final_state": "dead"},
        )
        key = NUMBERED["health_incidents"]
        where = (AGENTS.c.simulation_id == self.simulation_id) & (AGENTS.c.agent_id == agent_id)

        def work(conn: Connection) -> bool:
            result = conn.execute(update(AGENTS).where(where).values(death_time=death_time))
            if not result.rowcount:
                return False
            if incident[key] is None:  # reserved once: a retried transaction keeps it
                incident[key] = self.logger._buffers.reserve("health_incidents")
            conn.execute(HEALTH_INCIDENTS.insert().values(**incident))
            return True

        found = write_transaction(self._engine, work)
        self._record_changed |= found
        if not found:
            log.debug("simulation %s: no agent %s to mark dead", self.simulation_id, agent_id)

    def export_data(
        self,
        filepath: str | Path,
        format: str = "csv",
        data_types: list[str] | None = None,
        start_step: int | None = None,
        end_step: int | None = None,
        include_metadata: bool = True,
    ) -> None:
        """Write this simulation's rows to ``filepath`` as AgentFarm does (see
        :func:`consolidate.writer.export.export_tables`); only this simulation's rows."""
        self.logger.flush_all_buffers()
        metadata_block = None
        if include_metadata:
            metadata_block = {
                "config": self.get_configuration(),
                "simulation_id": self.simulation_id,
                "export_timestamp": datetime.now(UTC).isoformat(),
                "data_range": {"start_step": start_step, "end_step": end_step},
            }
        export_tables(
            self._engine,
            self.simulation_id,
            Path(filepath),
            format=format,
            data_types=data_types,
            start_step=start_step,
            end_step=end_step,
            metadata_block=metadata_block,
        )

    def _check_own(self, simulation_id: str) -> None:
        if simulation_id != self.simulation_id:
            raise UsageError(
                f"simulation {self.simulation_id}: its context cannot change simulation "
                f"{simulation_id}"
            )
