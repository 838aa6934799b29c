"""Foundation, schema: the central tables as models, their migrations, and naming a target.
May import: errors. Every stage may import it.

Alembic (``alembic/versions``) owns the real tables; ``tests/test_migrations.py`` proves these
declarations and the migrations agree.
"""

from consolidate.schema.base import Base
from consolidate.schema.catalog import Experiment, Simulation
from consolidate.schema.events import (
    Interaction,
    LearningExperience,
    ReproductionEvent,
    SocialInteraction,
)
from consolidate.schema.oldest import (
    CombatEvent,
    ExperimentEvent,
    ExperimentMetric,
    LegacyExperiment,
    Resource,
    SharingEvent,
    SimulationMetric,
)
from consolidate.schema.tables import (
    Agent,
    AgentAction,
    AgentState,
    HealthIncident,
    ResourceState,
    SimulationConfig,
    SimulationStep,
)

metadata = Base.metadata

#: Every table that holds per-simulation rows, in an order that respects nothing but readability:
#: the only foreign key of a data table points at ``simulations``.
DATA_TABLES: tuple[str, ...] = tuple(
    t.name for t in metadata.sorted_tables if t.name not in ("experiments", "simulations")
)

__all__ = [
    "DATA_TABLES",
    "Agent",
    "AgentAction",
    "AgentState",
    "Base",
    "CombatEvent",
    "Experiment",
    "ExperimentEvent",
    "ExperimentMetric",
    "HealthIncident",
    "Interaction",
    "LearningExperience",
    "LegacyExperiment",
    "ReproductionEvent",
    "Resource",
    "ResourceState",
    "SharingEvent",
    "Simulation",
    "SimulationConfig",
    "SimulationMetric",
    "SimulationStep",
    "SocialInteraction",
    "metadata",
]
