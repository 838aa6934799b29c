"""The logger of one simulation: AgentFarm's ``log_*`` methods over per-table row buffers.

Every row is buffered, not only actions and health incidents as in AgentFarm: one flush writes
all the buffers in one transaction, which is what makes the writer fast (a step of agent states
is one ``executemany`` among a thousand rows, not a transaction of its own). A flush happens
when any buffer reaches ``buffer_size``, when ``commit_interval`` seconds have passed at a
``log_step`` or ``flush_if_needed``, and on ``flush_all_buffers`` and ``close``. The buffers are
cleared only once that transaction has committed: a failed flush loses nothing and may simply
be tried again.
"""

from __future__ import annotations

import time
from collections.abc import Collection, Mapping, Sequence
from typing import Any

from sqlalchemy import Engine

from consolidate.errors import UsageError
from consolidate.writer import rows
from consolidate.writer.buffers import RowBuffers, next_keys
from consolidate.writer.config import DataLoggingConfig
from consolidate.writer.removed import RemovedLoggingMethods
from consolidate.writer.retry import write_transaction
from consolidate.writer.rows import Row


class ExperimentDataLogger(RemovedLoggingMethods):
    """Buffers and writes the rows of one simulation, which must already exist.

    Made by :class:`~consolidate.writer.SimulationContext`; one logger belongs to one thread.
    Integer keys continue after the highest one the simulation already has, so reopening a
    simulation appends to it.

    Raises:
        ValueError: ``simulation_id`` is empty.
    """

    def __init__(
        self, database: Engine | Any, simulation_id: str, config: DataLoggingConfig | None = None
    ) -> None:
        """``database``: an Engine or, as in AgentFarm, the database (anything with ``.engine``)."""
        if not simulation_id:
            raise ValueError("simulation_id is required: every row belongs to one simulation")
        self.simulation_id = simulation_id
        self.config = config if config is not None else DataLoggingConfig()
        engine: Engine = database if isinstance(database, Engine) else database.engine
        self._engine = engine
        with engine.connect() as conn:
            self._buffers = RowBuffers(next_keys(conn, simulation_id))
        self._last_commit_time = time.monotonic()
        self._closed = False
        #: Rows this logger has committed, and the tables they went to.
        self.rows_written = 0
        self.tables_written: set[str] = set()

    # -- what AgentFarm's DataLogger offers ------------------------------------------------

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
        """Buffer one ``agents`` row; logging an agent id again replaces the earlier row."""
        data = {
            "agent_id": agent_id,
            "birth_time": birth_time,
            "agent_type": agent_type,
            "position": position,
            "initial_resources": initial_resources,
            "starting_health": starting_health,
            "genome_id": genome_id,
            "generation": generation,
            "action_weights": action_weights,
        }
        self._add_all("agents", [rows.agent(self.simulation_id, data)])

    def log_agents_batch(self, agent_data_list: Sequence[Mapping[str, Any]]) -> None:
        """Buffer ``agents`` rows from dicts shaped like :meth:`log_agent`'s arguments.

        A dict's own ``simulation_id``, if it has one, is ignored: the rows belong to this
        logger's simulation.

        Raises:
            ValueError: a dict lacks a required field (nothing of the batch is buffered).
        """
        built = [rows.agent(self.simulation_id, data) for data in agent_data_list]
        self._add_all("agents", built)

    def log_step(
        self,
        step_number: int,
        agent_states: Sequence[Sequence[Any]],
        resource_states: Sequence[Sequence[Any]],
        metrics: Mapping[str, Any],
    ) -> None:
        """Buffer one step: its agent states, resource states and ``simulation_steps`` row.

        ``agent_states`` are 10-tuples (agent_id, position_x, position_y, resource_level,
        current_health, starting_health, starvation_counter, is_defending, total_reward, age);
        ``resource_states`` are (resource_id, amount, position_x, position_y). Logging a step or
        an agent's state at a step again replaces the earlier row. ``metrics`` is not changed.

        Raises:
            ValueError: a negative step, a tuple of the wrong length, or a metric that is not a
                ``simulation_steps`` column (named in the message); nothing is buffered then.
        """
        rows.check_step(step_number)
        sim = self.simulation_id
        states = rows.agent_states(sim, step_number, agent_states)
        resources = rows.resource_states(sim, step_number, resource_states)
        step = rows.step(sim, step_number, metrics)
        self._check_open()
        full = self._buffer_all("agent_states", states)
        full |= self._buffer_all("resource_states", resources)
        full |= self._buffer_all("simulation_steps", [step])
        if full:
            self.flush_all_buffers()
        else:
            self.flush_if_needed()

    def log_resource(
        self, resource_id: str, initial_amount: float, position: Sequence[float]
    ) -> None:
        """Buffer a ``resource_states`` row at step 0: a resource as it was created."""
        state = (resource_id, initial_amount, position[0], position[1])
        self._add_all("resource_states", rows.resource_states(self.simulation_id, 0, [state]))

    def log_agent_action(
        self,
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
        """Buffer an ``agent_actions`` row.

        ``action_taken`` and ``action_taken_mapped`` are merged into a copy of ``details``,
        stored as JSON text (NULL when empty), as AgentFarm does since it dropped
        ``learning_experiences``.

        Raises:
            ValueError: ``step_number`` is negative.
        """
        row = rows.action(
            self.simulation_id,
            step_number=step_number,
            agent_id=agent_id,
            action_type=action_type,
            action_target_id=action_target_id,
            reward=reward,
            details=details,
            module_type=module_type,
            module_id=module_id,
            action_taken=action_taken,
            action_taken_mapped=action_taken_mapped,
        )
        self._add_all("agent_actions", [row])

    def log_health_incident(
        self,
        step_number: int,
        agent_id: str,
        health_before: float | None,
        health_after: float | None,
        cause: str | None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Buffer a ``health_incidents`` row.

        Raises:
            ValueError: ``step_number`` is negative.
        """
        row = rows.health_incident(
            self.simulation_id,
            step_number=step_number,
            agent_id=agent_id,
            health_before=health_before,
            health_after=health_after,
            cause=cause,
            details=details,
        )
        self._add_all("health_incidents", [row])

    # -- flushing --------------------------------------------------------------------------

    @property
    def needs_flush(self) -> bool:
        """True when some row is buffered and not yet committed."""
        return bool(self._buffers)

    @property
    def pending_rows(self) -> dict[str, int]:
        """Buffered rows per table (only tables that have some)."""
        return self._buffers.counts()

    def flush_all_buffers(self) -> None:
        """Write every buffered row in one transaction; clear the buffers once it committed.

        Does not touch the database when nothing is buffered. If the transaction fails, the
        exception propagates and every row stays buffered, with the same keys, for the next
        flush. A locked database is waited for and retried; nothing else is.
        """
        if not self._buffers:
            return
        tables = self._buffers.counts()
        self.rows_written += write_transaction(self._engine, self._buffers.write)
        self.tables_written.update(tables)
        self._buffers.clear()
        self._last_commit_time = time.monotonic()

    def flush_if_needed(self) -> None:
        """Flush when rows are pending and ``commit_interval`` seconds have passed since the
        last commit (AgentFarm's runner calls this once per step)."""
        if not self._buffers:
            return
        if time.monotonic() - self._last_commit_time >= self.config.commit_interval:
            self.flush_all_buffers()

    def discard_pending_agents(self, agent_ids: Collection[str]) -> int:
        """Drop buffered actions, health incidents and learning experiences of these agents.

        Returns the number of rows dropped.
        """
        return self._buffers.discard_agents(agent_ids)

    def close(self) -> None:
        """Flush, then refuse further logging. Closing twice is harmless.

        If the flush fails the logger stays open with its rows, so the caller can retry.
        """
        if self._closed:
            return
        self.flush_all_buffers()
        self._closed = True

    def abandon(self) -> None:
        """Close without flushing: whatever is still buffered is dropped."""
        self._buffers.clear()
        self._closed = True

    # -- internals -------------------------------------------------------------------------

    def _add(self, table: str, row: Row) -> None:
        self._add_all(table, [row])

    def _add_all(self, table: str, built: list[Row]) -> None:
        self._check_open()
        if self._buffer_all(table, built):
            self.flush_all_buffers()

    def _buffer_all(self, table: str, built: list[Row]) -> bool:
        """Buffer rows; true when that table's buffer has reached ``buffer_size``."""
        size = 0
        for row in built:
            size = self._buffers.add(table, row)
        return size >= self.config.buffer_size

    def _check_open(self) -> None:
        if self._closed:
            raise UsageError(f"simulation {self.simulation_id}: its logger is closed")
