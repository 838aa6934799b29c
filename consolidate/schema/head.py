"""The schema head as plain data: its revision and the indexes it declares.

A re-run over merged sources checks the target with ``sqlite3`` alone (``merging.rerun``),
without importing SQLAlchemy or Alembic. ``tests/test_migrations.py`` keeps :data:`HEAD` equal
to the scripts' head and ``tests/test_startup.py`` keeps :data:`INDEXES` equal to the tables'.
"""

from __future__ import annotations

#: The head of ``alembic/versions``; a new revision must update it.
HEAD = "0003"

#: (table, index) of every index the tables declare, in ``schema.indexes.declared`` order.
INDEXES: tuple[tuple[str, str], ...] = (
    ("simulations", "ix_simulations_source_path"),
    ("simulations", "ix_simulations_source_sha256"),
    ("agent_actions", "ix_agent_actions_simulation_id_agent_id"),
    ("agent_actions", "ix_agent_actions_simulation_id_step_number"),
    ("agent_states", "ix_agent_states_simulation_id_agent_id"),
    ("agent_states", "ix_agent_states_simulation_id_step_number"),
    ("combat_events", "ix_combat_events_simulation_id_step_number"),
    ("health_incidents", "ix_health_incidents_simulation_id_agent_id"),
    ("health_incidents", "ix_health_incidents_simulation_id_step_number"),
    ("interactions", "ix_interactions_simulation_id_step_number"),
    ("learning_experiences", "ix_learning_experiences_simulation_id_agent_id"),
    ("learning_experiences", "ix_learning_experiences_simulation_id_step_number"),
    ("reproduction_events", "ix_reproduction_events_simulation_id_step_number"),
    ("resource_states", "ix_resource_states_simulation_id_step_number"),
    ("sharing_events", "ix_sharing_events_simulation_id_step_number"),
    ("simulation_metrics", "ix_simulation_metrics_simulation_id_step_number"),
    ("social_interactions", "ix_social_interactions_simulation_id_step_number"),
)
