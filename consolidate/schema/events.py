"""Event tables that AgentFarm wrote for a while and later removed (the writer still fills them)."""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Text

from consolidate.schema.base import scoped_table

LEARNING_EXPERIENCES = scoped_table(
    "learning_experiences",
    Column("experience_id", BigInteger(), nullable=False),
    Column("step_number", BigInteger()),
    Column("agent_id", Text()),
    Column("module_type", Text()),
    Column("module_id", Text()),
    Column("action_taken", BigInteger()),
    Column("action_taken_mapped", Text()),
    Column("state_before", Text()),
    Column("state_after", Text()),
    Column("reward", Float()),
    Column("loss", Float()),
    key=("experience_id",),
)


REPRODUCTION_EVENTS = scoped_table(
    "reproduction_events",
    Column("event_id", BigInteger(), nullable=False),
    Column("step_number", BigInteger()),
    Column("parent_id", Text()),
    Column("offspring_id", Text()),
    Column("success", BigInteger()),
    Column("parent_resources_before", Float()),
    Column("parent_resources_after", Float()),
    Column("offspring_initial_resources", Float()),
    Column("failure_reason", Text()),
    Column("parent_generation", BigInteger()),
    Column("offspring_generation", BigInteger()),
    Column("parent_position_x", Float()),
    Column("parent_position_y", Float()),
    Column("timestamp", Text()),
    key=("event_id",),
    agent=False,
)


SOCIAL_INTERACTIONS = scoped_table(
    "social_interactions",
    Column("interaction_id", BigInteger(), nullable=False),
    Column("step_number", BigInteger()),
    Column("initiator_id", Text()),
    Column("recipient_id", Text()),
    Column("interaction_type", Text()),
    Column("subtype", Text()),
    Column("outcome", Text()),
    Column("resources_transferred", Float()),
    Column("distance", Float()),
    Column("initiator_resources_before", Float()),
    Column("initiator_resources_after", Float()),
    Column("recipient_resources_before", Float()),
    Column("recipient_resources_after", Float()),
    Column("group_id", Text()),
    Column("details", Text()),
    Column("timestamp", Text()),
    key=("interaction_id",),
    agent=False,
)


INTERACTIONS = scoped_table(
    "interactions",
    Column("interaction_id", BigInteger(), nullable=False),
    Column("step_number", BigInteger()),
    Column("source_type", Text()),
    Column("source_id", Text()),
    Column("target_type", Text()),
    Column("target_id", Text()),  # polymorphic: agent ids, resource ids, "x,y" positions
    Column("interaction_type", Text()),
    Column("action_type", Text()),
    Column("details", Text()),
    Column("timestamp", Text()),
    key=("interaction_id",),
    agent=False,
)
