"""The data tables every AgentFarm layout has had in some form, under their modern names.

Each column is the union over all legacy layouts; ``consolidate.layouts.mapping`` documents which
legacy column lands where. Agent, resource and state ids are text whatever the legacy type, so
integer-era and string-era runs share one column.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Text

from consolidate.schema.base import scoped_table

AGENTS = scoped_table(
    "agents",
    Column("agent_id", Text(), nullable=False),
    Column("birth_time", BigInteger()),
    Column("death_time", BigInteger()),
    Column("agent_type", Text()),
    Column("position_x", Float()),
    Column("position_y", Float()),
    Column("initial_position", Text()),  # v03-v07: tuple text "(x, y)", kept verbatim
    Column("initial_resources", Float()),
    Column("starting_health", Float()),  # also legacy max_health
    Column("starvation_counter", BigInteger()),  # also legacy starvation_threshold
    Column("genome_id", Text()),
    Column("parent_id", Text()),
    Column("generation", BigInteger()),
    Column("action_weights", Text()),
    Column("allele_frequencies", Text()),
    key=("agent_id",),
    step=False,
    agent=False,
)


AGENT_STATES = scoped_table(
    "agent_states",
    # The legacy id, state_id, or the source rowid where the table had no key.
    Column("id", Text(), nullable=False),
    Column("step_number", BigInteger()),
    Column("step_id", BigInteger()),  # f1 only; step_number is derived from it
    Column("agent_id", Text()),
    Column("agent_type", Text()),
    Column("position_x", Float()),
    Column("position_y", Float()),
    Column("position_z", Float()),
    Column("resource_level", Float()),
    Column("current_health", Float()),
    Column("starting_health", Float()),  # also legacy max_health
    Column("starvation_counter", BigInteger()),  # also legacy starvation_threshold
    Column("is_defending", BigInteger()),
    Column("alive", BigInteger()),
    Column("total_reward", Float()),
    Column("age", BigInteger()),
    Column("allele_frequencies", Text()),
    key=("id",),
)


RESOURCE_STATES = scoped_table(
    "resource_states",
    Column("id", BigInteger(), nullable=False),
    Column("step_number", BigInteger()),
    Column("step_id", BigInteger()),
    Column("resource_id", Text()),
    Column("amount", Float()),
    Column("position_x", Float()),
    Column("position_y", Float()),
    key=("id",),
    agent=False,
)


#: One row per step; per-type counts and ``agent_type_counts`` are each filled on merge.
SIMULATION_STEPS = scoped_table(
    "simulation_steps",
    Column("step_number", BigInteger(), nullable=False),
    Column("step_id", BigInteger()),
    Column("timestamp", Text()),
    Column("total_agents", BigInteger()),
    Column("system_agents", BigInteger()),
    Column("independent_agents", BigInteger()),
    Column("control_agents", BigInteger()),
    Column("agent_type_counts", Text()),
    Column("total_resources", Float()),
    Column("average_agent_resources", Float()),
    Column("births", BigInteger()),
    Column("deaths", BigInteger()),
    Column("current_max_generation", BigInteger()),
    Column("resource_efficiency", Float()),
    Column("resource_distribution_entropy", Float()),
    Column("average_agent_health", Float()),
    Column("average_agent_age", Float()),  # AgentFarm divides: real runs store fractions
    Column("average_reward", Float()),
    Column("combat_encounters", BigInteger()),
    Column("successful_attacks", BigInteger()),
    Column("resources_shared", Float()),
    Column("genetic_diversity", Float()),
    Column("dominant_genome_ratio", Float()),
    Column("resources_consumed", Float()),
    Column("resources_shared_this_step", Float()),
    Column("combat_encounters_this_step", BigInteger()),
    Column("successful_attacks_this_step", BigInteger()),
    key=("step_number",),
    step=False,
    agent=False,
)


AGENT_ACTIONS = scoped_table(
    "agent_actions",
    Column("action_id", BigInteger(), nullable=False),
    Column("step_number", BigInteger()),
    Column("agent_id", Text()),
    Column("action_type", Text()),
    Column("action_target_id", Text()),
    Column("position_before", Text()),
    Column("position_after", Text()),
    Column("resources_before", Float()),
    Column("resources_after", Float()),
    Column("state_before_id", Text()),
    Column("state_after_id", Text()),
    Column("reward", Float()),
    Column("details", Text()),
    Column("module_type", Text()),
    Column("module_id", Text()),
    key=("action_id",),
)


HEALTH_INCIDENTS = scoped_table(
    "health_incidents",
    Column("incident_id", BigInteger(), nullable=False),
    Column("step_number", BigInteger()),
    Column("agent_id", Text()),
    Column("health_before", Float()),
    Column("health_after", Float()),
    Column("cause", Text()),
    Column("details", Text()),
    key=("incident_id",),
)


SIMULATION_CONFIG = scoped_table(
    "simulation_config",
    Column("config_id", BigInteger(), nullable=False),
    Column("timestamp", BigInteger()),  # epoch seconds, as legacy files wrote it
    Column("config_data", Text()),
    key=("config_id",),
    step=False,
    agent=False,
)
