"""``log_*`` methods AgentFarm removed in late 2025, kept so that older simulation code still runs.

Their rows go to the central tables that hold the same events merged from legacy files
(``learning_experiences``, ``reproduction_events``, ``interactions``); each call warns once per
call site with a DeprecationWarning that names the replacement.
"""

from __future__ import annotations

import warnings
from collections.abc import Mapping, Sequence
from typing import Any

from consolidate.writer.rows import Row, blank, check_step, json_text, text, utc_now


def _removed(name: str, instead: str) -> None:
    warnings.warn(
        f"{name} was removed from AgentFarm in late 2025; {instead}. consolidate still writes "
        "it to its central table",
        DeprecationWarning,
        stacklevel=3,
    )


class RemovedLoggingMethods:
    """Mixed into the logger and the context: each supplies ``simulation_id`` and ``_add``."""

    simulation_id: str

    def _add(self, table: str, row: Row) -> None:
        raise NotImplementedError

    def log_learning_experience(
        self,
        step_number: int,
        agent_id: str,
        module_type: str,
        module_id: object,
        action_taken: int,
        action_taken_mapped: str,
        reward: float,
    ) -> None:
        """Buffer a ``learning_experiences`` row (deprecated: now part of actions)."""
        _removed("log_learning_experience", "pass module_type and action_taken to log_agent_action")
        check_step(step_number)
        row = blank("learning_experiences", self.simulation_id)
        row.update(
            step_number=step_number,
            agent_id=text(agent_id),
            module_type=module_type,
            module_id=text(module_id),
            action_taken=action_taken,
            action_taken_mapped=action_taken_mapped,
            reward=reward,
        )
        self._add("learning_experiences", row)

    def log_reproduction_event(
        self,
        step_number: int,
        parent_id: str,
        offspring_id: str | None,
        success: bool,
        parent_resources_before: float,
        parent_resources_after: float,
        offspring_initial_resources: float | None,
        failure_reason: str | None,
        parent_generation: int,
        offspring_generation: int | None,
        parent_position: Sequence[float],
    ) -> None:
        """Buffer a ``reproduction_events`` row (deprecated: AgentFarm now infers reproduction
        from ``agents.birth_time`` and ``genome_id``)."""
        _removed("log_reproduction_event", "log the offspring with log_agent")
        check_step(step_number)
        row = blank("reproduction_events", self.simulation_id)
        row.update(
            step_number=step_number,
            parent_id=text(parent_id),
            offspring_id=text(offspring_id),
            success=int(bool(success)),
            parent_resources_before=parent_resources_before,
            parent_resources_after=parent_resources_after,
            offspring_initial_resources=offspring_initial_resources,
            failure_reason=failure_reason,
            parent_generation=parent_generation,
            offspring_generation=offspring_generation,
            parent_position_x=parent_position[0],
            parent_position_y=parent_position[1],
            timestamp=utc_now(),
        )
        self._add("reproduction_events", row)

    def log_interaction_edge(
        self,
        step_number: int,
        source_type: str,
        source_id: object,
        target_type: str,
        target_id: object,
        interaction_type: str,
        action_type: str | None = None,
        details: Mapping[str, Any] | None = None,
    ) -> None:
        """Buffer an ``interactions`` row (deprecated: AgentFarm dropped the edge table)."""
        _removed("log_interaction_edge", "log the action with log_agent_action")
        check_step(step_number)
        row = blank("interactions", self.simulation_id)
        row.update(
            step_number=step_number,
            source_type=source_type,
            source_id=text(source_id),
            target_type=target_type,
            target_id=text(target_id),
            interaction_type=interaction_type,
            action_type=action_type,
            details=json_text(details),
            timestamp=utc_now(),
        )
        self._add("interactions", row)
