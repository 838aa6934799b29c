"""consolidate: merge legacy AgentFarm per-run SQLite databases into one experiment database.

The command line (``consolidate``) is a thin layer over the functions re-exported here.
"""

from importlib.metadata import PackageNotFoundError, version

from consolidate.analysis.query import ExperimentQueryTool
from consolidate.errors import (
    ConsolidateError,
    QueryError,
    SchemaOutOfDate,
    SourceError,
    TargetError,
    UsageError,
)
from consolidate.layouts.inspection import SourceReport, inspect
from consolidate.merging.ledger import OnConflict
from consolidate.merging.pipeline import merge
from consolidate.merging.report import MergeReport, SourceOutcome, TableSummary
from consolidate.proof.findings import Mismatch, VerifyReport
from consolidate.proof.verification import verify
from consolidate.writer import (
    DatabaseFactory,
    DataLoggingConfig,
    ExperimentDatabase,
    ExperimentManager,
    SimulationContext,
)

try:
    __version__ = version("consolidate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = [
    "ConsolidateError",
    "DataLoggingConfig",
    "DatabaseFactory",
    "ExperimentDatabase",
    "ExperimentManager",
    "ExperimentQueryTool",
    "SimulationContext",
    "MergeReport",
    "QueryError",
    "Mismatch",
    "OnConflict",
    "SchemaOutOfDate",
    "SourceError",
    "SourceOutcome",
    "SourceReport",
    "TableSummary",
    "TargetError",
    "UsageError",
    "VerifyReport",
    "__version__",
    "inspect",
    "merge",
    "verify",
]
