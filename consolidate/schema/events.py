"""Event tables that AgentFarm wrote for a while and later removed (the writer still fills them)."""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from consolidate.schema.base import Base, SimulationScoped, scoped_keys


class LearningExperience(SimulationScoped, Base):
    __tablename__ = "learning_experiences"
    __table_args__ = scoped_keys("learning_experiences", "experience_id")

    experience_id: Mapped[int]
    step_number: Mapped[int | None]
    agent_id: Mapped[str | None]
    module_type: Mapped[str | None]
    module_id: Mapped[str | None]
    action_taken: Mapped[int | None]
    action_taken_mapped: Mapped[str | None]
    state_before: Mapped[str | None]
    state_after: Mapped[str | None]
    reward: Mapped[float | None]
    loss: Mapped[float | None]


class ReproductionEvent(SimulationScoped, Base):
    __tablename__ = "reproduction_events"
    __table_args__ = scoped_keys("reproduction_events", "event_id", agent=False)

    event_id: Mapped[int]
    step_number: Mapped[int | None]
    parent_id: Mapped[str | None]
    offspring_id: Mapped[str | None]
    success: Mapped[int | None]
    parent_resources_before: Mapped[float | None]
    parent_resources_after: Mapped[float | None]
    offspring_initial_resources: Mapped[float | None]
    failure_reason: Mapped[str | None]
    parent_generation: Mapped[int | None]
    offspring_generation: Mapped[int | None]
    parent_position_x: Mapped[float | None]
    parent_position_y: Mapped[float | None]
    timestamp: Mapped[str | None]


class SocialInteraction(SimulationScoped, Base):
    __tablename__ = "social_interactions"
    __table_args__ = scoped_keys("social_interactions", "interaction_id", agent=False)

    interaction_id: Mapped[int]
    step_number: Mapped[int | None]
    initiator_id: Mapped[str | None]
    recipient_id: Mapped[str | None]
    interaction_type: Mapped[str | None]
    subtype: Mapped[str | None]
    outcome: Mapped[str | None]
    resources_transferred: Mapped[float | None]
    distance: Mapped[float | None]
    initiator_resources_before: Mapped[float | None]
    initiator_resources_after: Mapped[float | None]
    recipient_resources_before: Mapped[float | None]
    recipient_resources_after: Mapped[float | None]
    group_id: Mapped[str | None]
    details: Mapped[str | None]
    timestamp: Mapped[str | None]


class Interaction(SimulationScoped, Base):
    __tablename__ = "interactions"
    __table_args__ = scoped_keys("interactions", "interaction_id", agent=False)

    interaction_id: Mapped[int]
    step_number: Mapped[int | None]
    source_type: Mapped[str | None]
    source_id: Mapped[str | None]
    target_type: Mapped[str | None]
    target_id: Mapped[str | None]  # polymorphic: agent ids, resource ids, "x,y" positions
    interaction_type: Mapped[str | None]
    action_type: Mapped[str | None]
    details: Mapped[str | None]
    timestamp: Mapped[str | None]
