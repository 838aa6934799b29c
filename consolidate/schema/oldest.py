"""Homes for tables that only the oldest layouts and unmerged side branches carried.

They are rare, but "every column of every known layout has a home" is what makes merge lossless.
"""

from __future__ import annotations

from sqlalchemy.orm import Mapped

from consolidate.schema.base import Base, SimulationScoped, scoped_keys


class Resource(SimulationScoped, Base):
    """f1 (v01-v02) ``Resources``."""

    __tablename__ = "resources"
    __table_args__ = scoped_keys("resources", "resource_id", step=False, agent=False)

    resource_id: Mapped[str]
    initial_amount: Mapped[float | None]
    position_x: Mapped[float | None]
    position_y: Mapped[float | None]


class SimulationMetric(SimulationScoped, Base):
    """f1 (v01-v02) ``SimulationMetrics``: one metric per row, keyed to a step by step_id."""

    __tablename__ = "simulation_metrics"
    __table_args__ = scoped_keys("simulation_metrics", "metric_id", agent=False)

    metric_id: Mapped[int]
    step_id: Mapped[int | None]
    step_number: Mapped[int | None]
    metric_name: Mapped[str | None]
    metric_value: Mapped[float | None]


class CombatEvent(SimulationScoped, Base):
    """Side branch f816007b ``CombatEvents``."""

    __tablename__ = "combat_events"
    __table_args__ = scoped_keys("combat_events", "combat_id", agent=False)

    combat_id: Mapped[int]
    step_number: Mapped[int | None]
    attacker_id: Mapped[str | None]
    defender_id: Mapped[str | None]
    damage_dealt: Mapped[float | None]
    defender_health_before: Mapped[float | None]
    defender_health_after: Mapped[float | None]
    defender_died: Mapped[int | None]


class SharingEvent(SimulationScoped, Base):
    """Side branch f816007b ``SharingEvents``."""

    __tablename__ = "sharing_events"
    __table_args__ = scoped_keys("sharing_events", "share_id", agent=False)

    share_id: Mapped[int]
    step_number: Mapped[int | None]
    giver_id: Mapped[str | None]
    receiver_id: Mapped[str | None]
    amount_shared: Mapped[float | None]
    giver_resources_before: Mapped[float | None]
    receiver_resources_before: Mapped[float | None]
    cooperation_score: Mapped[float | None]


class LegacyExperiment(SimulationScoped, Base):
    """A legacy file's own ``experiments`` rows (always empty in real per-run files)."""

    __tablename__ = "legacy_experiments"
    __table_args__ = scoped_keys("legacy_experiments", "experiment_id", step=False, agent=False)

    experiment_id: Mapped[str]
    name: Mapped[str | None]
    description: Mapped[str | None]
    hypothesis: Mapped[str | None]
    creation_date: Mapped[str | None]
    last_updated: Mapped[str | None]
    created_at: Mapped[str | None]
    updated_at: Mapped[str | None]
    status: Mapped[str | None]
    tags: Mapped[str | None]
    variables: Mapped[str | None]
    results_summary: Mapped[str | None]
    notes: Mapped[str | None]
    base_config: Mapped[str | None]
    experiment_metadata: Mapped[str | None]


class ExperimentEvent(SimulationScoped, Base):
    """Side branch 302c4210 ``experiment_events``."""

    __tablename__ = "experiment_events"
    __table_args__ = scoped_keys("experiment_events", "id", step=False, agent=False)

    id: Mapped[int]
    experiment_id: Mapped[str | None]
    event_type: Mapped[str | None]
    event_time: Mapped[str | None]
    details: Mapped[str | None]


class ExperimentMetric(SimulationScoped, Base):
    """Side branch 302c4210 ``experiment_metrics``."""

    __tablename__ = "experiment_metrics"
    __table_args__ = scoped_keys("experiment_metrics", "id", step=False, agent=False)

    id: Mapped[int]
    experiment_id: Mapped[str | None]
    metric_name: Mapped[str | None]
    metric_value: Mapped[float | None]
    metric_type: Mapped[str | None]
    timestamp: Mapped[str | None]
    metric_metadata: Mapped[str | None]
