"""Homes for tables that only the oldest layouts and unmerged side branches carried.

They are rare, but "every column of every known layout has a home" is what makes merge lossless.
"""

from __future__ import annotations

from sqlalchemy import BigInteger, Column, Float, Text

from consolidate.schema.base import scoped_table

#: f1 (v01-v02) ``Resources``.
RESOURCES = scoped_table(
    "resources",
    Column("resource_id", Text(), nullable=False),
    Column("initial_amount", Float()),
    Column("position_x", Float()),
    Column("position_y", Float()),
    key=("resource_id",),
    step=False,
    agent=False,
)


#: f1 (v01-v02) ``SimulationMetrics``: one metric per row, keyed to a step by step_id.
SIMULATION_METRICS = scoped_table(
    "simulation_metrics",
    Column("metric_id", BigInteger(), nullable=False),
    Column("step_id", BigInteger()),
    Column("step_number", BigInteger()),
    Column("metric_name", Text()),
    Column("metric_value", Float()),
    key=("metric_id",),
    agent=False,
)


#: Side branch f816007b ``CombatEvents``.
COMBAT_EVENTS = scoped_table(
    "combat_events",
    Column("combat_id", BigInteger(), nullable=False),
    Column("step_number", BigInteger()),
    Column("attacker_id", Text()),
    Column("defender_id", Text()),
    Column("damage_dealt", Float()),
    Column("defender_health_before", Float()),
    Column("defender_health_after", Float()),
    Column("defender_died", BigInteger()),
    key=("combat_id",),
    agent=False,
)


#: Side branch f816007b ``SharingEvents``.
SHARING_EVENTS = scoped_table(
    "sharing_events",
    Column("share_id", BigInteger(), nullable=False),
    Column("step_number", BigInteger()),
    Column("giver_id", Text()),
    Column("receiver_id", Text()),
    Column("amount_shared", Float()),
    Column("giver_resources_before", Float()),
    Column("receiver_resources_before", Float()),
    Column("cooperation_score", Float()),
    key=("share_id",),
    agent=False,
)


#: A legacy file's own ``experiments`` rows (always empty in real per-run files).
LEGACY_EXPERIMENTS = scoped_table(
    "legacy_experiments",
    Column("experiment_id", Text(), nullable=False),
    Column("name", Text()),
    Column("description", Text()),
    Column("hypothesis", Text()),
    Column("creation_date", Text()),
    Column("last_updated", Text()),
    Column("created_at", Text()),
    Column("updated_at", Text()),
    Column("status", Text()),
    Column("tags", Text()),
    Column("variables", Text()),
    Column("results_summary", Text()),
    Column("notes", Text()),
    Column("base_config", Text()),
    Column("experiment_metadata", Text()),
    key=("experiment_id",),
    step=False,
    agent=False,
)


#: Side branch 302c4210 ``experiment_events``.
EXPERIMENT_EVENTS = scoped_table(
    "experiment_events",
    Column("id", BigInteger(), nullable=False),
    Column("experiment_id", Text()),
    Column("event_type", Text()),
    Column("event_time", Text()),
    Column("details", Text()),
    key=("id",),
    step=False,
    agent=False,
)


#: Side branch 302c4210 ``experiment_metrics``.
EXPERIMENT_METRICS = scoped_table(
    "experiment_metrics",
    Column("id", BigInteger(), nullable=False),
    Column("experiment_id", Text()),
    Column("metric_name", Text()),
    Column("metric_value", Float()),
    Column("metric_type", Text()),
    Column("timestamp", Text()),
    Column("metric_metadata", Text()),
    key=("id",),
    step=False,
    agent=False,
)
