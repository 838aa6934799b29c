"""``DatabaseFactory``: where a simulation writes, decided by arguments or environment variables.

Simulation code asks the factory for a database without knowing whether the run goes into a
shared experiment database; a job script flips it with ``USE_EXPERIMENT_DB=1`` (as in AgentFarm's
centralized-storage branch, PR #463).
"""

from __future__ import annotations

import logging
import os
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

from sqlalchemy import URL

from consolidate.errors import UsageError
from consolidate.writer.config import DataLoggingConfig
from consolidate.writer.context import SimulationContext
from consolidate.writer.database import ExperimentDatabase
from consolidate.writer.records import REPLACE_VARIABLE, RESUME_VARIABLE

log = logging.getLogger(__name__)


def default_experiment_id() -> str:
    """``exp_<YYYYmmdd_HHMMSS>`` in UTC, AgentFarm's default (set ``EXPERIMENT_ID`` to share)."""
    return f"exp_{datetime.now(UTC):%Y%m%d_%H%M%S}"


def parameters_from_config(config: object) -> dict[str, Any] | None:
    """A simulation's parameters from a config: a mapping as it is, else what AgentFarm kept of
    a ``SimulationConfig`` (``seed``, the three population counts, ``str(environment)``)."""
    if config is None:
        return None
    if isinstance(config, Mapping):
        return dict(config)
    population = getattr(config, "population", config)
    found = {
        "seed": getattr(config, "seed", None),
        "system_agents": getattr(population, "system_agents", None),
        "independent_agents": getattr(population, "independent_agents", None),
        "control_agents": getattr(population, "control_agents", None),
    }
    if getattr(config, "environment", None) is not None:
        found["environment"] = str(config.environment)  # type: ignore[attr-defined]
    return {key: value for key, value in found.items() if value is not None}


def logging_config_from(config: Mapping[str, Any] | None) -> DataLoggingConfig | None:
    """Buffering from AgentFarm's ``config.to_dict()``: ``database.log_buffer_size`` and
    ``database.commit_interval_seconds`` when present (None: the defaults).

    AgentFarm's ``SimulationConfig.to_dict()`` flattens its sections into dotted keys
    (``"database.log_buffer_size"``); a nested ``{"database": {...}}`` is read too.
    """
    if not isinstance(config, Mapping):
        return None
    nested = config.get("database")
    section: Mapping[str, Any] = nested if isinstance(nested, Mapping) else {}

    def setting(name: str) -> Any:
        value = config.get(f"database.{name}")
        return value if value is not None else section.get(name)

    size, interval = setting("log_buffer_size"), setting("commit_interval_seconds")
    if size is None and interval is None:
        return None
    defaults = DataLoggingConfig()
    return DataLoggingConfig(
        buffer_size=int(size) if size is not None else defaults.buffer_size,
        commit_interval=float(interval) if interval is not None else defaults.commit_interval,
    )


def make_folder_for(target: str | Path | URL) -> None:
    """Create the folder of a SQLite file target (AgentFarm created ``experiments/``)."""
    if isinstance(target, URL) or "://" in str(target):
        return
    Path(target).expanduser().parent.mkdir(parents=True, exist_ok=True)


class DatabaseFactory:
    """Hands simulation code a :class:`SimulationContext`, in experiment mode or not."""

    @staticmethod
    def create(
        config: object = None,
        db_path: str | Path | URL | None = None,
        simulation_id: str | None = None,
        use_experiment_db: bool | None = None,
        experiment_id: str | None = None,
        experiment_db_path: str | Path | URL | None = None,
        *,
        logging_config: DataLoggingConfig | None = None,
        replace: bool | None = None,
        resume: bool | None = None,
    ) -> SimulationContext:
        """A context for one simulation; closing it closes the database it opened.

        Experiment mode (``use_experiment_db``, or when it is None the environment variable
        ``USE_EXPERIMENT_DB`` set to exactly ``"1"``): the simulation goes into the experiment
        database ``experiment_db_path``, else ``$EXPERIMENT_DB_PATH``, else
        ``experiments/<experiment_id>.db``; the experiment is ``experiment_id``, else
        ``$EXPERIMENT_ID``, else ``exp_<YYYYmmdd_HHMMSS>`` (UTC); ``simulation_id`` is required.

        Otherwise (AgentFarm returned a per-run ``SimulationDatabase`` here, which consolidate
        does not have): the run goes into an experiment database of its own at ``db_path``
        (default ``simulations/simulation_<YYYYmmdd_HHMMSS>_<8 hex>.db``), in the same schema, whose
        simulation and experiment ids default to the file's stem, as ``merge`` would name it.

        Every call shares the process's one engine per database. Parameters come from
        ``config`` (:func:`parameters_from_config`). An id that already holds a run needs
        ``replace`` or ``resume`` (see ``ExperimentDatabase.create_simulation_context``); when
        they are None they come from ``EXPERIMENT_REPLACE`` / ``EXPERIMENT_RESUME`` set to ``"1"``.

        Raises:
            ValueError: no ``simulation_id`` where one is required.
            UsageError: the id holds a run that neither ``replace`` nor ``resume`` allows.
        """
        if use_experiment_db is None:
            use_experiment_db = os.environ.get("USE_EXPERIMENT_DB") == "1"
        if use_experiment_db:
            if not simulation_id:
                raise ValueError("simulation_id is required in experiment mode")
            experiment_id = experiment_id or os.environ.get("EXPERIMENT_ID") or None
            experiment_id = experiment_id or default_experiment_id()
            target: str | Path | URL = (
                experiment_db_path
                or os.environ.get("EXPERIMENT_DB_PATH")
                or Path("experiments") / f"{experiment_id}.db"
            )
        else:
            # AgentFarm's name plus a random suffix: two runs started in one second must not
            # share a file (AgentFarm's setup_db deleted the file it found there).
            unique = f"{datetime.now(UTC):%Y%m%d_%H%M%S}_{uuid.uuid4().hex[:8]}"
            target = db_path or Path("simulations") / f"simulation_{unique}.db"
            is_url = isinstance(target, URL) or "://" in str(target)
            stem = None if is_url else Path(str(target)).stem
            simulation_id = simulation_id or stem
            if not simulation_id:
                raise ValueError(f"simulation_id is required for {target}")
            experiment_id = experiment_id or stem or default_experiment_id()
        if replace is None:
            replace = os.environ.get(REPLACE_VARIABLE) == "1"
        if resume is None:
            resume = os.environ.get(RESUME_VARIABLE) == "1"
        make_folder_for(target)
        database = ExperimentDatabase(target, experiment_id)
        try:
            context = database.create_simulation_context(
                simulation_id,
                parameters_from_config(config),
                logging_config,
                replace=replace,
                resume=resume,
            )
        except BaseException:
            database.close()
            raise
        context.owns_parent = True
        return context

    @staticmethod
    def setup_db(
        db_path: str | Path | None,
        simulation_id: str,
        config: Mapping[str, Any] | None = None,
        *,
        replace: bool | None = None,
        resume: bool | None = None,
    ) -> SimulationContext | None:
        """AgentFarm's ``DatabaseFactoryProtocol.setup_db``: the context ``environment.db`` is.

        Pass the class as ``Environment(..., db_factory=DatabaseFactory)``, or put
        ``DatabaseFactory.setup_db`` in place of ``farm.database.utilities.setup_db``; both call
        it with the run's path, its simulation id and ``config.to_dict()``. The database is
        chosen as :meth:`create` chooses it: in experiment mode (``USE_EXPERIMENT_DB=1``) the
        shared experiment database, whatever ``db_path`` says; otherwise a database of the
        run's own at ``db_path``, in the central schema (``None`` or ``""``, which AgentFarm's
        in-memory path passes, means no database, as in AgentFarm). ``config`` is stored as the
        simulation's parameters, and its ``database.log_buffer_size`` and
        ``database.commit_interval_seconds`` set the buffering (:func:`logging_config_from`).

        Unlike AgentFarm's, it never deletes a file: an id that already holds a run needs
        ``replace`` / ``EXPERIMENT_REPLACE=1`` or ``resume`` / ``EXPERIMENT_RESUME=1``. A
        simulation it created and that is closed before any agent, step or configuration was
        written (only the Environment's initial resources) is deleted again, so AgentFarm's
        in-memory path (which closes this context at once and persists the run to a file of its
        own) leaves nothing behind to clash with ``consolidate merge`` of that file.

        Raises:
            UsageError: ``db_path`` is ``":memory:"`` outside experiment mode (use AgentFarm's
                ``use_in_memory_db``, or an experiment database), or as :meth:`create`.
        """
        experiment_mode = os.environ.get("USE_EXPERIMENT_DB") == "1"
        if not experiment_mode and (db_path is None or str(db_path) == ""):
            log.info("simulation %s: no db_path, so no database (as in AgentFarm)", simulation_id)
            return None
        if not experiment_mode and str(db_path) == ":memory:":
            raise UsageError(
                "setup_db(':memory:'): consolidate writes to a file or a URL; use AgentFarm's "
                "database.use_in_memory_db, or USE_EXPERIMENT_DB=1 with EXPERIMENT_DB_PATH"
            )
        context = DatabaseFactory.create(
            config,
            db_path=None if experiment_mode else db_path,
            simulation_id=simulation_id,
            use_experiment_db=experiment_mode,
            logging_config=logging_config_from(config),
            replace=replace,
            resume=resume,
        )
        context.discard_if_empty = context.created
        return context


def get_experiment_db_from_context(context: object) -> ExperimentDatabase | None:
    """The database behind a context (None for anything else), as in AgentFarm's PR #463."""
    if isinstance(context, SimulationContext) and isinstance(context.parent_db, ExperimentDatabase):
        return context.parent_db
    return None


def close_database(db: SimulationContext | ExperimentDatabase) -> None:
    """Close a context (and the database the factory opened for it) or a database."""
    db.close()
