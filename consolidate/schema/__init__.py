"""Foundation, schema: the central tables as models, their migrations, and naming a target.
May import: errors. Every stage may import it.

Alembic (``alembic/versions``) owns the real tables; ``tests/test_migrations.py`` proves these
declarations and the migrations agree.

The models load SQLAlchemy's ORM (a fifth of a second): they are imported on first use
(PEP 562), so a module that needs only plain data (``schema.columns``) does not pay for them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import MetaData

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

    metadata: MetaData
    #: Every table that holds per-simulation rows, in an order that respects nothing but
    #: readability: the only foreign key of a data table points at ``simulations``.
    DATA_TABLES: tuple[str, ...]

#: Public model name -> the module that declares it.
_MODELS = {
    "Base": "consolidate.schema.base",
    "Experiment": "consolidate.schema.catalog",
    "Simulation": "consolidate.schema.catalog",
    "Interaction": "consolidate.schema.events",
    "LearningExperience": "consolidate.schema.events",
    "ReproductionEvent": "consolidate.schema.events",
    "SocialInteraction": "consolidate.schema.events",
    "CombatEvent": "consolidate.schema.oldest",
    "ExperimentEvent": "consolidate.schema.oldest",
    "ExperimentMetric": "consolidate.schema.oldest",
    "LegacyExperiment": "consolidate.schema.oldest",
    "Resource": "consolidate.schema.oldest",
    "SharingEvent": "consolidate.schema.oldest",
    "SimulationMetric": "consolidate.schema.oldest",
    "Agent": "consolidate.schema.tables",
    "AgentAction": "consolidate.schema.tables",
    "AgentState": "consolidate.schema.tables",
    "HealthIncident": "consolidate.schema.tables",
    "ResourceState": "consolidate.schema.tables",
    "SimulationConfig": "consolidate.schema.tables",
    "SimulationStep": "consolidate.schema.tables",
}


def __getattr__(name: str) -> Any:
    if name in _MODELS:
        value = getattr(import_module(_MODELS[name]), name)
    elif name == "metadata":
        for module in dict.fromkeys(_MODELS.values()):  # each model registers on import
            import_module(module)
        value = import_module("consolidate.schema.base").Base.metadata
    elif name == "DATA_TABLES":
        value = tuple(
            t.name
            for t in __getattr__("metadata").sorted_tables
            if t.name not in ("experiments", "simulations")
        )
    else:
        raise AttributeError(f"module 'consolidate.schema' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain attribute
    return value


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
