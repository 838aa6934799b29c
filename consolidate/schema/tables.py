"""The data tables every AgentFarm layout has had in some form, under their modern names.

Each column is the union over all legacy layouts; ``consolidate.layouts.mapping`` documents which
legacy column lands where. Agent, resource and state ids are text whatever the legacy type, so
integer-era and string-era runs share one column.
"""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from consolidate.schema.base import Base, SimulationScoped, scoped_keys


class Agent(SimulationScoped, Base):
    __tablename__ = "agents"
    __table_args__ = scoped_keys("agents", "agent_id", step=False, agent=False)

    agent_id: Mapped[str]
    birth_time: Mapped[int | None]
    death_time: Mapped[int | None]
    agent_type: Mapped[str | None]
    position_x: Mapped[float | None]
    position_y: Mapped[float | None]
    initial_position: Mapped[str | None]  # v03-v07: tuple text "(x, y)", kept verbatim
    initial_resources: Mapped[float | None]
    starting_health: Mapped[float | None]  # also legacy max_health
    starvation_counter: Mapped[int | None]  # also legacy starvation_threshold
    genome_id: Mapped[str | None]
    parent_id: Mapped[str | None]
    generation: Mapped[int | None]
    action_weights: Mapped[str | None]
    allele_frequencies: Mapped[str | None]


class AgentState(SimulationScoped, Base):
    __tablename__ = "agent_states"
    __table_args__ = scoped_keys("agent_states", "id")

    id: Mapped[str]  # legacy id, state_id, or the source rowid where the table had no key
    step_number: Mapped[int | None]
    step_id: Mapped[int | None]  # f1 only; step_number is derived from it
    agent_id: Mapped[str | None]
    agent_type: Mapped[str | None]
    position_x: Mapped[float | None]
    position_y: Mapped[float | None]
    position_z: Mapped[float | None]
    resource_level: Mapped[float | None]
    current_health: Mapped[float | None]
    starting_health: Mapped[float | None]  # also legacy max_health
    starvation_counter: Mapped[int | None]  # also legacy starvation_threshold
    is_defending: Mapped[int | None]
    alive: Mapped[int | None]
    total_reward: Mapped[float | None]
    age: Mapped[int | None]
    allele_frequencies: Mapped[str | None]


class ResourceState(SimulationScoped, Base):
    __tablename__ = "resource_states"
    __table_args__ = scoped_keys("resource_states", "id", agent=False)

    id: Mapped[int]
    step_number: Mapped[int | None]
    step_id: Mapped[int | None]
    resource_id: Mapped[str | None]
    amount: Mapped[float | None]
    position_x: Mapped[float | None]
    position_y: Mapped[float | None]


class SimulationStep(SimulationScoped, Base):
    """One row per step; per-type counts and ``agent_type_counts`` are each filled on merge."""

    __tablename__ = "simulation_steps"
    __table_args__ = scoped_keys("simulation_steps", "step_number", step=False, agent=False)

    step_number: Mapped[int]
    step_id: Mapped[int | None]
    timestamp: Mapped[str | None]
    total_agents: Mapped[int | None]
    system_agents: Mapped[int | None]
    independent_agents: Mapped[int | None]
    control_agents: Mapped[int | None]
    agent_type_counts: Mapped[str | None]
    total_resources: Mapped[float | None]
    average_agent_resources: Mapped[float | None]
    births: Mapped[int | None]
    deaths: Mapped[int | None]
    current_max_generation: Mapped[int | None]
    resource_efficiency: Mapped[float | None]
    resource_distribution_entropy: Mapped[float | None]
    average_agent_health: Mapped[float | None]
    average_agent_age: Mapped[float | None]  # AgentFarm divides: real runs store fractions
    average_reward: Mapped[float | None]
    combat_encounters: Mapped[int | None]
    successful_attacks: Mapped[int | None]
    resources_shared: Mapped[float | None]
    genetic_diversity: Mapped[float | None]
    dominant_genome_ratio: Mapped[float | None]
    resources_consumed: Mapped[float | None]
    resources_shared_this_step: Mapped[float | None]
    combat_encounters_this_step: Mapped[int | None]
    successful_attacks_this_step: Mapped[int | None]


class AgentAction(SimulationScoped, Base):
    __tablename__ = "agent_actions"
    __table_args__ = scoped_keys("agent_actions", "action_id")

    action_id: Mapped[int]
    step_number: Mapped[int | None]
    agent_id: Mapped[str | None]
    action_type: Mapped[str | None]
    action_target_id: Mapped[str | None]
    position_before: Mapped[str | None]
    position_after: Mapped[str | None]
    resources_before: Mapped[float | None]
    resources_after: Mapped[float | None]
    state_before_id: Mapped[str | None]
    state_after_id: Mapped[str | None]
    reward: Mapped[float | None]
    details: Mapped[str | None]
    module_type: Mapped[str | None]
    module_id: Mapped[str | None]


class HealthIncident(SimulationScoped, Base):
    __tablename__ = "health_incidents"
    __table_args__ = scoped_keys("health_incidents", "incident_id")

    incident_id: Mapped[int]
    step_number: Mapped[int | None]
    agent_id: Mapped[str | None]
    health_before: Mapped[float | None]
    health_after: Mapped[float | None]
    cause: Mapped[str | None]
    details: Mapped[str | None]


class SimulationConfig(SimulationScoped, Base):
    __tablename__ = "simulation_config"
    __table_args__ = scoped_keys("simulation_config", "config_id", step=False, agent=False)

    config_id: Mapped[int]
    timestamp: Mapped[int | None]  # epoch seconds, as legacy files wrote it
    config_data: Mapped[str | None]
