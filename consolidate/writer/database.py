"""``ExperimentDatabase``: the experiment database as simulation code writes it, run by run."""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from types import TracebackType
from typing import Any, NoReturn

from sqlalchemy import URL, Connection

from consolidate.errors import UsageError
from consolidate.schema.targets import describe
from consolidate.writer import engines, records
from consolidate.writer.config import DataLoggingConfig
from consolidate.writer.context import SimulationContext
from consolidate.writer.retry import write_transaction
from consolidate.writer.sessions import sessions

log = logging.getLogger(__name__)


class ExperimentDatabase:
    """One experiment in an experiment database (a SQLite file or a PostgreSQL URL).

    Opening it creates the schema in an empty database and refuses one at an older revision
    (:class:`~consolidate.errors.SchemaOutOfDate`); it creates the experiment, ``running``, if
    it is missing. Every process may open the same database at once: each writes its own
    simulations, one engine per database per process is shared, and SQLite writers queue.

    Unlike AgentFarm's, it has no logger of its own (that one wrote rows for a
    ``_experiment_<id>`` simulation that never existed): rows are written through the
    :class:`SimulationContext` of each simulation.

    As a context manager: a clean exit completes every simulation still open and ``running``
    and closes, leaving the experiment's status alone (other processes may still be writing);
    an exception marks every open simulation and the experiment ``failed``, closes, and
    propagates.

    Args:
        db_path: a SQLite file path or a SQLAlchemy URL (``postgresql+psycopg://...``).
        experiment_id: the experiment the simulations belong to.
        config: accepted for compatibility with AgentFarm and ignored: the pragmas are
            consolidate's (WAL, ``busy_timeout``), buffering is per simulation.
        name: the experiment's name (default: its id); updates an existing experiment.
        description: the experiment's description; updates an existing experiment.
    """

    def __init__(
        self,
        db_path: str | Path | URL,
        experiment_id: str,
        config: object = None,
        *,
        name: str | None = None,
        description: str | None = None,
    ) -> None:
        if not experiment_id:
            raise ValueError("experiment_id is required")
        self.db_path = db_path
        self.experiment_id = experiment_id
        #: Always None: an experiment database is no simulation (AgentFarm's attribute).
        self.simulation_id = None
        url = engines.url_of(db_path)
        self.location = describe(url)
        self.engine = engines.acquire(url)
        #: AgentFarm's session factory (``scoped_session``) on the whole database.
        self.Session = sessions(self.engine)
        self._contexts: dict[str, SimulationContext] = {}
        self.closed = False
        try:
            self._write(
                lambda conn: records.ensure_experiment(
                    conn, experiment_id, name=name, description=description
                )
            )
        except BaseException:
            engines.release(self.engine)
            raise

    @property
    def logger(self) -> NoReturn:
        raise UsageError(
            "an ExperimentDatabase has no logger of its own; log through "
            "create_simulation_context(simulation_id)"
        )

    @property
    def open_simulations(self) -> Mapping[str, SimulationContext]:
        """The contexts of this database not yet closed, by simulation id (a copy)."""
        return dict(self._contexts)

    def create_simulation_context(
        self,
        simulation_id: str,
        parameters: Mapping[str, Any] | None = None,
        logging_config: DataLoggingConfig | None = None,
        *,
        replace: bool = False,
        resume: bool = False,
    ) -> SimulationContext:
        """Create the simulation (``running``, start time now) and return its context.

        An id that already holds a run is never appended to silently: ``replace=True`` deletes
        that run's rows and writes the new run in its place; ``resume=True`` continues a run of
        the writer's that did not complete (``running`` after its process died, ``failed``),
        appending after its rows; a completed or merged run can only be replaced. Nothing
        detects whether another writer is still alive: ``resume`` of a ``running`` run is the
        caller's word that its writer is gone. (AgentFarm reused the old row silently.)

        Raises:
            ValueError: ``simulation_id`` is empty.
            UsageError: this database already has an open context for it, the id is taken and
                neither ``replace`` nor ``resume`` allows it (the message says which), or it
                belongs to another experiment.
        """
        self._check_open()
        if not simulation_id:
            raise ValueError("simulation_id is required")
        if simulation_id in self._contexts:  # clearer than the "is running" refusal below
            raise UsageError(f"simulation {simulation_id} already has an open context; close it")
        created: list[bool] = []
        self._write(
            lambda conn: created.append(
                records.open_simulation(
                    conn,
                    simulation_id=simulation_id,
                    experiment_id=self.experiment_id,
                    parameters=parameters,
                    location=self.location,
                    replace=replace,
                    resume=resume,
                )
            )
        )
        context = SimulationContext(self, simulation_id, logging_config)
        #: Whether this context created the simulation (or replaced it) rather than resumed it.
        context.created = created[-1]
        self._contexts[simulation_id] = context
        return context

    def update_simulation_status(
        self,
        simulation_id: str,
        status: str,
        results_summary: Mapping[str, Any] | None = None,
    ) -> None:
        """Set a simulation's status, first flushing its open context if it has one.

        Any status but ``pending`` and ``running`` ends the simulation and sets its end time
        (UTC), ``failed`` included. ``results_summary`` is stored as JSON text when given.

        Raises:
            UsageError: the experiment has no such simulation (AgentFarm ignored it).
        """
        self._check_open()
        context = self._contexts.get(simulation_id)
        if context is not None:
            context.flush_all_buffers()
        self._end_simulation(simulation_id, status, results_summary=results_summary)

    def update_experiment_status(
        self, status: str, results_summary: Mapping[str, Any] | None = None
    ) -> None:
        """Set the experiment's status and ``last_updated`` (UTC)."""
        self._check_open()
        self._write(
            lambda conn: records.set_experiment_status(
                conn, self.experiment_id, status, results_summary
            )
        )

    def get_simulation_ids(self) -> list[str]:
        """Every simulation of this experiment, whoever wrote it, sorted."""
        self._check_open()
        with self.engine.connect() as conn:
            return records.simulation_ids(conn, self.experiment_id)

    def close(self) -> None:
        """Flush every open context, close them, and release the engine.

        If a flush fails, the exception propagates and nothing is closed: every row is still
        buffered, and ``close`` may be called again. Closing twice is harmless.
        """
        if self.closed:
            return
        for context in list(self._contexts.values()):
            context.flush_all_buffers()
        for context in list(self._contexts.values()):
            context.close()
        self._release()

    def __enter__(self) -> ExperimentDatabase:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.finish(exc)

    def finish(self, error: BaseException | None, *, experiment_status: str | None = None) -> None:
        """End every open simulation as a context's exit would, then close.

        With an ``error`` the experiment is marked ``failed`` too, and failures met on the way
        are logged, not raised; without one, the experiment gets ``experiment_status`` if given,
        and a failure on the way (a flush) fails what is still open and is raised.
        """
        if self.closed:
            return
        if error is None:
            try:
                for context in list(self._contexts.values()):
                    context.finish(None)
                if experiment_status is not None:
                    self.update_experiment_status(experiment_status)
                self.close()
            except Exception as exc:
                self.finish(exc)
                raise
            return
        for context in list(self._contexts.values()):
            context.finish(error)
        summary = records.failure_summary(error)
        try:
            self._write(
                lambda conn: records.set_experiment_status(
                    conn, self.experiment_id, "failed", summary
                )
            )
        except Exception:
            log.exception("experiment %s: could not be marked failed", self.experiment_id)
        self._release()

    # -- used by the contexts --------------------------------------------------------------

    def _end_simulation(
        self,
        simulation_id: str,
        status: str,
        *,
        results_summary: Mapping[str, Any] | None = None,
        error: BaseException | str | None = None,
        only_if_running: bool = False,
    ) -> None:
        summary = records.failure_summary(error) if error is not None else results_summary
        self._write(
            lambda conn: records.set_simulation_status(
                conn,
                simulation_id=simulation_id,
                experiment_id=self.experiment_id,
                status=status,
                results_summary=summary,
                only_if_running=only_if_running,
            )
        )

    def _discard(self, simulation_id: str) -> None:
        self._write(lambda conn: records.discard_simulation(conn, simulation_id))

    def _forget(self, context: SimulationContext) -> None:
        if self._contexts.get(context.simulation_id) is context:
            del self._contexts[context.simulation_id]

    def _write(self, work: Callable[[Connection], object]) -> None:
        write_transaction(self.engine, work)

    def _release(self) -> None:
        if self.closed:  # a DatabaseFactory context closes its database from inside close()
            return
        self._contexts.clear()
        self.closed = True
        engines.release(self.engine)

    def _check_open(self) -> None:
        if self.closed:
            raise UsageError(f"{self.location}: this ExperimentDatabase is closed")

    def __repr__(self) -> str:
        return f"ExperimentDatabase({self.location!r}, {self.experiment_id!r})"
