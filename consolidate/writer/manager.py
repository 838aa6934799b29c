"""``ExperimentManager``: one experiment run from one script, simulation after simulation."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from types import TracebackType
from typing import Any

from sqlalchemy import URL

from consolidate.writer.config import DataLoggingConfig
from consolidate.writer.context import SimulationContext
from consolidate.writer.database import ExperimentDatabase
from consolidate.writer.factory import make_folder_for
from consolidate.writer.records import failure_summary


class ExperimentManager:
    """An experiment and the simulations a script creates in it.

    ``name`` and ``description`` go to the experiment's own columns (AgentFarm put them in
    ``results_summary``, where a failure overwrote them).

    As a context manager: a clean exit completes the simulations still open and ``running``
    and marks the experiment ``completed``; an exception marks every simulation still open and
    the experiment ``failed`` (AgentFarm left the simulations ``running``). Either way the
    database is closed and the exception is never suppressed.

    Args:
        experiment_id: the experiment.
        db_path: a SQLite file or a URL; default ``experiments/<experiment_id>.db``.
        config: kept as ``self.config``; not written anywhere.
        name: the experiment's name (default: its id).
        description: the experiment's description.
    """

    def __init__(
        self,
        experiment_id: str,
        db_path: str | Path | URL | None = None,
        config: object = None,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        self.experiment_id = experiment_id
        self.config = config
        self.db_path = (
            db_path if db_path is not None else Path("experiments", f"{experiment_id}.db")
        )
        make_folder_for(self.db_path)
        self.db = ExperimentDatabase(
            self.db_path, experiment_id, config, name=name, description=description
        )

    def create_simulation(
        self,
        simulation_id: str,
        parameters: Mapping[str, Any] | None = None,
        *,
        logging_config: DataLoggingConfig | None = None,
    ) -> SimulationContext:
        """Create the simulation, ``running``, and return its context (kept until it ends)."""
        return self.db.create_simulation_context(simulation_id, parameters, logging_config)

    def complete_simulation(
        self, simulation_id: str, results_summary: Mapping[str, Any] | None = None
    ) -> None:
        """Flush the simulation, mark it ``completed`` with its end time, close its context.

        Raises:
            UsageError: the experiment has no such simulation.
        """
        self.db.update_simulation_status(simulation_id, "completed", results_summary)
        context = self.db.open_simulations.get(simulation_id)
        if context is not None:
            context.close()

    def fail_simulation(self, simulation_id: str, error: BaseException | str) -> None:
        """Mark the simulation ``failed`` with its end time and the error, flushing what it can.

        ``results_summary`` becomes ``{"error_type", "error_message"}``, as AgentFarm's runner
        writes it.

        Raises:
            UsageError: the experiment has no such simulation.
        """
        context = self.db.open_simulations.get(simulation_id)
        if context is not None:
            context.finish(error)
        else:
            self.db.update_simulation_status(simulation_id, "failed", failure_summary(error))

    def get_simulation_ids(self) -> list[str]:
        return self.db.get_simulation_ids()

    def close(self) -> None:
        """Flush every open simulation and close the database (statuses are left as they are)."""
        self.db.close()

    def __enter__(self) -> ExperimentManager:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.db.finish(exc, experiment_status="completed")
