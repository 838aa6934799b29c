"""A simulation being written: what simulation code holds and logs through."""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping, Sequence
from types import TracebackType
from typing import Any, Protocol

from sqlalchemy import Engine

from consolidate.writer.agentfarm import AgentFarmMembers
from consolidate.writer.config import DataLoggingConfig
from consolidate.writer.logger import ExperimentDataLogger
from consolidate.writer.removed import RemovedLoggingMethods
from consolidate.writer.rows import Row
from consolidate.writer.sessions import simulation_sessions

log = logging.getLogger(__name__)


class ParentDatabase(Protocol):
    """What a context needs of the :class:`~consolidate.writer.ExperimentDatabase` that made it.

    A protocol, so this module does not import the database module that imports it.
    """

    engine: Engine
    closed: bool
    location: str

    def update_simulation_status(
        self,
        simulation_id: str,
        status: str,
        results_summary: Mapping[str, Any] | None = None,
    ) -> None: ...

    def close(self) -> None: ...

    def _end_simulation(
        self,
        simulation_id: str,
        status: str,
        *,
        results_summary: Mapping[str, Any] | None = None,
        error: BaseException | str | None = None,
        only_if_running: bool = False,
    ) -> None: ...

    def _forget(self, context: SimulationContext) -> None: ...

    def _discard(self, simulation_id: str) -> None: ...


class SimulationContext(AgentFarmMembers, RemovedLoggingMethods):
    """One simulation of an :class:`~consolidate.writer.ExperimentDatabase`, and its logger.

    Made by ``create_simulation_context``. The ``log_*`` methods are the logger's
    (``log_agent_action`` and ``log_health_incident`` take keywords only, as AgentFarm's context
    does). It is also what AgentFarm's ``Environment`` expects ``environment.db`` to be
    (:class:`~consolidate.writer.agentfarm.AgentFarmMembers`: ``db_path``, ``Session``,
    ``save_configuration``, ``update_agent_death``, ``export_data``, ...).

    As a context manager: a clean exit flushes, marks the simulation ``completed`` with its end
    time unless a status was already set (AgentFarm's runner sets ``completed`` with a summary
    itself), and closes; an exception flushes what it can, marks the simulation ``failed`` with
    its end time and the error, closes, and propagates. :meth:`close` alone only flushes and
    closes: the status is then the caller's to set.
    """

    def __init__(
        self,
        parent_db: ParentDatabase,
        simulation_id: str,
        config: DataLoggingConfig | None = None,
    ) -> None:
        self.parent_db = parent_db
        self.simulation_id = simulation_id
        self.logger = ExperimentDataLogger(parent_db.engine, simulation_id, config)
        self._engine = parent_db.engine
        self._location = parent_db.location
        #: AgentFarm's session factory, for this simulation's rows only.
        self.Session = simulation_sessions(
            parent_db.engine, simulation_id, self.logger._buffers.reserve
        )
        #: Set by DatabaseFactory: closing this context then closes its database too.
        self.owns_parent = False
        #: Set by ``DatabaseFactory.setup_db`` on a simulation it created: closed before anything
        #: but its initial resources was written, the simulation is deleted again (AgentFarm's
        #: in-memory path builds its Environment, closes what setup_db returned at once, and
        #: persists the run to a file of its own, which is merged later under the same id).
        self.discard_if_empty = False
        self.created = True
        self.closed = False

    def log_step(
        self,
        step_number: int,
        agent_states: Sequence[Sequence[Any]],
        resource_states: Sequence[Sequence[Any]],
        metrics: Mapping[str, Any],
    ) -> None:
        """See :meth:`ExperimentDataLogger.log_step`."""
        self.logger.log_step(step_number, agent_states, resource_states, metrics)

    def log_agent(
        self,
        agent_id: str,
        birth_time: int,
        agent_type: str,
        position: Sequence[float],
        initial_resources: float,
        starting_health: float,
        genome_id: str | None = None,
        generation: int = 0,
        action_weights: Mapping[str, float] | None = None,
    ) -> None:
        """See :meth:`ExperimentDataLogger.log_agent`."""
        self.logger.log_agent(
            agent_id,
            birth_time,
            agent_type,
            position,
            initial_resources,
            starting_health,
            genome_id=genome_id,
            generation=generation,
            action_weights=action_weights,
        )

    def log_agents_batch(self, agent_data_list: Sequence[Mapping[str, Any]]) -> None:
        """See :meth:`ExperimentDataLogger.log_agents_batch`."""
        self.logger.log_agents_batch(agent_data_list)

    def log_resource(
        self, resource_id: str, initial_amount: float, position: Sequence[float]
    ) -> None:
        """See :meth:`ExperimentDataLogger.log_resource`."""
        self.logger.log_resource(resource_id, initial_amount, position)

    def log_agent_action(
        self,
        *,
        step_number: int,
        agent_id: str,
        action_type: str,
        action_target_id: object = None,
        reward: float | None = None,
        details: Mapping[str, Any] | None = None,
        module_type: str | None = None,
        module_id: object = None,
        action_taken: int | None = None,
        action_taken_mapped: str | None = None,
    ) -> None:
        """See :meth:`ExperimentDataLogger.log_agent_action`."""
        self.logger.log_agent_action(
            step_number,
            agent_id,
            action_type,
            action_target_id=action_target_id,
            reward=reward,
            details=details,
            module_type=module_type,
            module_id=module_id,
            action_taken=action_taken,
            action_taken_mapped=action_taken_mapped,
        )

    def log_health_incident(
        self,
        *,
        step_number: int,
        agent_id: str,
        health_before: float | None,
        health_after: float | None,
        cause: str | None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """See :meth:`ExperimentDataLogger.log_health_incident`."""
        self.logger.log_health_incident(
            step_number, agent_id, health_before, health_after, cause, details=details
        )

    def _add(self, table: str, row: Row) -> None:  # the removed log_* methods land here
        self.logger._add(table, row)

    def flush_all_buffers(self) -> None:
        """See :meth:`ExperimentDataLogger.flush_all_buffers`."""
        self.logger.flush_all_buffers()

    def flush_if_needed(self) -> None:
        """See :meth:`ExperimentDataLogger.flush_if_needed`."""
        self.logger.flush_if_needed()

    @property
    def needs_flush(self) -> bool:
        return self.logger.needs_flush

    def discard_pending_agents(self, agent_ids: Collection[str]) -> int:
        """See :meth:`ExperimentDataLogger.discard_pending_agents`."""
        return self.logger.discard_pending_agents(agent_ids)

    def update_status(self, status: str, results_summary: Mapping[str, Any] | None = None) -> None:
        """Flush, then set this simulation's status (a final one sets its end time)."""
        self.parent_db.update_simulation_status(self.simulation_id, status, results_summary)

    def close(self) -> None:
        """Flush and stop logging; a context from ``DatabaseFactory`` also closes its database.

        If the flush fails, the exception propagates and the context stays open with every row.
        """
        if self.closed:
            return
        self.logger.close()
        if self.discard_if_empty and self._never_started():
            self.parent_db._discard(self.simulation_id)
        self._detach()

    def _never_started(self) -> bool:
        """True when only the Environment's initial resources were logged: no agent, no step,
        no configuration, no change to the simulation's row."""
        return self.logger.tables_written <= {"resource_states"} and not self._record_changed

    def finish(self, error: BaseException | str | None) -> None:
        """End the simulation: ``completed`` (unless a status was set) or ``failed``; close.

        With an ``error``, never raises for a failure it meets while recording it: ``error`` is
        the one the caller is about to propagate, so the others are logged instead. Without
        one, a flush that fails marks the simulation ``failed`` and is raised.
        """
        if self.closed:
            # close() was called inside the with-block: the rows are written, the status is not.
            if not self.parent_db.closed:
                if error is None:
                    self.parent_db._end_simulation(
                        self.simulation_id, "completed", only_if_running=True
                    )
                else:
                    self.parent_db._end_simulation(self.simulation_id, "failed", error=error)
            return
        if error is None:
            try:
                self.logger.flush_all_buffers()
            except Exception as exc:
                self.finish(exc)
                raise
            self.parent_db._end_simulation(self.simulation_id, "completed", only_if_running=True)
            self.close()
            return
        try:
            self.logger.flush_all_buffers()
        except Exception:
            log.exception(
                "simulation %s: rows not written after %r: %s",
                self.simulation_id,
                error,
                self.logger.pending_rows,
            )
        try:
            self.parent_db._end_simulation(self.simulation_id, "failed", error=error)
        except Exception:
            log.exception("simulation %s: could not be marked failed", self.simulation_id)
        self.logger.abandon()
        try:
            self._detach()
        except Exception:
            log.exception("simulation %s: its database did not close cleanly", self.simulation_id)

    def _detach(self) -> None:
        self.closed = True
        self.parent_db._forget(self)
        if self.owns_parent:
            self.parent_db.close()

    def __enter__(self) -> SimulationContext:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.finish(exc)
