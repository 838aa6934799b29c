"""consolidate: merge legacy AgentFarm per-run SQLite databases into one experiment database.

The command line (``consolidate``) is a thin layer over the functions re-exported here. They are
imported on first use (PEP 562), so ``import consolidate.cli`` for ``consolidate --help`` does not
pay for SQLAlchemy, pandas or the writer.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

from consolidate.errors import (
    ConsolidateError,
    QueryError,
    SchemaOutOfDate,
    SourceError,
    TargetError,
    UsageError,
)

if TYPE_CHECKING:
    from consolidate.analysis.query import ExperimentQueryTool
    from consolidate.layouts.inspection import SourceReport, inspect
    from consolidate.merging.conflict import OnConflict
    from consolidate.merging.entry import merge
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

#: Public name -> the module that defines it.
_LAZY = {
    "ExperimentQueryTool": "consolidate.analysis.query",
    "SourceReport": "consolidate.layouts.inspection",
    "inspect": "consolidate.layouts.inspection",
    "OnConflict": "consolidate.merging.conflict",
    "merge": "consolidate.merging.entry",
    "MergeReport": "consolidate.merging.report",
    "SourceOutcome": "consolidate.merging.report",
    "TableSummary": "consolidate.merging.report",
    "Mismatch": "consolidate.proof.findings",
    "VerifyReport": "consolidate.proof.findings",
    "verify": "consolidate.proof.verification",
    "DatabaseFactory": "consolidate.writer",
    "DataLoggingConfig": "consolidate.writer",
    "ExperimentDatabase": "consolidate.writer",
    "ExperimentManager": "consolidate.writer",
    "SimulationContext": "consolidate.writer",
}


def __getattr__(name: str) -> Any:
    if name == "__version__":
        from importlib.metadata import PackageNotFoundError, version

        try:
            return version("consolidate")
        except PackageNotFoundError:  # running from a source tree that was never installed
            return "0.0.0"
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'consolidate' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value  # the next access is a plain attribute
    return value


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
