"""Stage 6, writer: simulation code puts new runs straight into an experiment database.
May import: errors, schema, layouts (the agent types it shares with the mapping), merging.ledger
(deleting a run it replaces, as `merge --replace` does).

It speaks AgentFarm's API (``ExperimentDatabase``, ``SimulationContext``, ``DataLoggingConfig``,
``DatabaseFactory``, ``ExperimentManager``) and writes the central schema that ``merge`` writes,
with simulations recorded as ``origin='writer'``, so ``verify`` and the query tools read both.
"""

from consolidate.writer.config import DataLoggingConfig
from consolidate.writer.context import SimulationContext
from consolidate.writer.database import ExperimentDatabase
from consolidate.writer.factory import (
    DatabaseFactory,
    close_database,
    get_experiment_db_from_context,
)
from consolidate.writer.logger import ExperimentDataLogger
from consolidate.writer.manager import ExperimentManager

__all__ = [
    "DataLoggingConfig",
    "DatabaseFactory",
    "ExperimentDataLogger",
    "ExperimentDatabase",
    "ExperimentManager",
    "SimulationContext",
    "close_database",
    "get_experiment_db_from_context",
]
