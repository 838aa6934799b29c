"""The writer's rows in ``experiments`` and ``simulations``: creating, reopening, statuses.

Every function runs inside the caller's transaction. Times in ``simulations`` are UTC ISO-8601
text (that table keeps legacy times as text); ``experiments`` has real timestamp columns and
gets aware UTC datetimes.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import ColumnElement, Connection, select, update

from consolidate.errors import UsageError
from consolidate.merging import ledger
from consolidate.schema import metadata
from consolidate.writer.rows import utc_now

EXPERIMENTS = metadata.tables["experiments"]
SIMULATIONS = metadata.tables["simulations"]
ORIGIN = "writer"

#: The environment variables of ``DatabaseFactory`` that ask for ``replace`` / ``resume``.
REPLACE_VARIABLE = "EXPERIMENT_REPLACE"
RESUME_VARIABLE = "EXPERIMENT_RESUME"

#: Statuses of a simulation that is not over; any other status sets ``end_time``.
ACTIVE = frozenset({"pending", "running"})


def parameters_json(parameters: Mapping[str, Any] | None) -> str:
    """JSON text of a simulation's parameters; values JSON cannot hold are stored as text."""
    return json.dumps(dict(parameters or {}), default=str)


def ensure_experiment(
    conn: Connection, experiment_id: str, *, name: str | None, description: str | None
) -> None:
    """Create the experiment, ``running``, if it is missing; set name/description if given.

    Several processes may open the same experiment at once: see
    :func:`consolidate.merging.ledger.ensure_experiment`.
    """
    now = datetime.now(UTC)
    ledger.ensure_experiment(
        conn,
        experiment_id,
        name=name if name is not None else experiment_id,
        description=description,
        status="running",
        creation_date=now,
        last_updated=now,
    )
    given = {k: v for k, v in (("name", name), ("description", description)) if v is not None}
    if given:
        conn.execute(
            update(EXPERIMENTS)
            .where(EXPERIMENTS.c.experiment_id == experiment_id)
            .values(**given, last_updated=now)
        )


def open_simulation(
    conn: Connection,
    *,
    simulation_id: str,
    experiment_id: str,
    parameters: Mapping[str, Any] | None,
    location: str,
    replace: bool = False,
    resume: bool = False,
) -> bool:
    """Insert the simulation as ``running``; true if it is new (or replaced).

    An id that already holds a run is never appended to silently:

    - ``replace``: the old run's rows, whatever wrote them, are deleted in this transaction and
      the new run takes its place;
    - ``resume``: a run of the writer's that did not complete (``running`` after its process
      died, ``failed``, ``interrupted``) is set ``running`` again with no end time, its
      parameters replaced when given, and new rows are appended after its own;
    - neither: :class:`~consolidate.errors.UsageError`, naming the id and both ways out.

    A completed or merged run can only be replaced. Nothing records whether a writer is still
    alive, so ``resume`` of a ``running`` run is the caller's word that its writer is gone.

    Raises:
        UsageError: the id is taken (see above), or belongs to another experiment.
    """
    if replace and resume:
        raise UsageError("replace and resume exclude each other")
    sims = SIMULATIONS
    held = conn.execute(
        select(sims.c.origin, sims.c.experiment_id, sims.c.status).where(
            sims.c.simulation_id == simulation_id
        )
    ).first()
    if held is not None and held.experiment_id != experiment_id:
        raise UsageError(
            f"simulation {simulation_id} belongs to experiment {held.experiment_id}, "
            f"not {experiment_id}"
        )
    if held is not None and replace:
        ledger.forget(conn, simulation_id)
        held = None
    if held is None:
        conn.execute(
            sims.insert().values(
                simulation_id=simulation_id,
                experiment_id=experiment_id,
                origin=ORIGIN,
                status="running",
                start_time=utc_now(),
                parameters=parameters_json(parameters),
                simulation_db_path=location,
            )
        )
        return True
    finished = held.origin != ORIGIN or held.status == "completed"
    if finished:
        what = "a run merged from a legacy file" if held.origin != ORIGIN else "a completed run"
        raise UsageError(
            f"simulation {simulation_id} already holds {what}; pass replace=True "
            f"(or set {REPLACE_VARIABLE}=1) to delete it and write the new run in its place"
        )
    if not resume:
        raise UsageError(
            f"simulation {simulation_id} is {held.status}: another writer may be writing it, "
            f"or its run died; pass resume=True (or set {RESUME_VARIABLE}=1) to append to it, "
            f"or replace=True (or {REPLACE_VARIABLE}=1) to start it over"
        )
    values: dict[str, Any] = {"status": "running", "end_time": None}
    if parameters is not None:
        values["parameters"] = parameters_json(parameters)
    conn.execute(update(sims).where(sims.c.simulation_id == simulation_id).values(**values))
    return False


def discard_simulation(conn: Connection, simulation_id: str) -> None:
    """Delete a simulation that is still ``running`` and was never written to."""
    sims = SIMULATIONS
    held = conn.execute(select(sims.c.status).where(sims.c.simulation_id == simulation_id)).scalar()
    if held == "running":
        ledger.forget(conn, simulation_id)


def set_simulation_status(
    conn: Connection,
    *,
    simulation_id: str,
    experiment_id: str,
    status: str,
    results_summary: Mapping[str, Any] | None = None,
    only_if_running: bool = False,
) -> bool:
    """Set a simulation's status; a status that ends it also sets ``end_time`` (UTC).

    ``only_if_running`` leaves a simulation whose status someone already set (a clean exit
    must not overwrite an explicit ``completed`` with its summary, or ``interrupted``).
    Returns whether a row was updated.

    Raises:
        UsageError: no such simulation in this experiment (AgentFarm ignored it silently).
    """
    sims = SIMULATIONS
    where = sims.c.experiment_id == experiment_id
    if only_if_running:
        where &= sims.c.status == "running"
    updated = update_simulation(
        conn, simulation_id, where=where, status=status, results_summary=results_summary
    )
    if updated == 0 and not only_if_running:
        raise UsageError(f"experiment {experiment_id} has no simulation {simulation_id}")
    return bool(updated)


def update_simulation(
    conn: Connection,
    simulation_id: str,
    *,
    where: ColumnElement[bool] | None = None,
    status: str | None = None,
    end_time: datetime | None = None,
    results_summary: Mapping[str, Any] | None = None,
    simulation_db_path: str | None = None,
) -> int:
    """Set the given fields of a simulation's row (and ``where`` holds); returns rows updated.

    A status that ends the run (anything but ``pending``/``running``) with no ``end_time`` gets
    now as its end time, an active one clears it; ``end_time`` is stored as UTC ISO-8601 text
    (a naive one taken as local time, which is what AgentFarm's naive ``datetime.now()``
    meant), ``results_summary`` as JSON text. Nothing given: nothing is run, 0.
    """
    values: dict[str, Any] = {}
    if status is not None:
        values["status"] = status
        values["end_time"] = None if status in ACTIVE else utc_now()
    if end_time is not None:
        values["end_time"] = end_time.astimezone(UTC).isoformat()
    if results_summary is not None:
        values["results_summary"] = json.dumps(dict(results_summary), default=str)
    if simulation_db_path is not None:
        values["simulation_db_path"] = str(simulation_db_path)
    if not values:
        return 0
    sims = SIMULATIONS
    query = update(sims).where(sims.c.simulation_id == simulation_id)
    if where is not None:
        query = query.where(where)
    return conn.execute(query.values(**values)).rowcount


def set_experiment_status(
    conn: Connection,
    experiment_id: str,
    status: str,
    results_summary: Mapping[str, Any] | None = None,
) -> None:
    """Set the experiment's status and ``last_updated``; name and description are untouched."""
    values: dict[str, Any] = {"status": status, "last_updated": datetime.now(UTC)}
    if results_summary is not None:
        values["results_summary"] = json.dumps(dict(results_summary), default=str)
    conn.execute(
        update(EXPERIMENTS).where(EXPERIMENTS.c.experiment_id == experiment_id).values(**values)
    )


def simulation_ids(conn: Connection, experiment_id: str) -> list[str]:
    query = (
        select(SIMULATIONS.c.simulation_id)
        .where(SIMULATIONS.c.experiment_id == experiment_id)
        .order_by(SIMULATIONS.c.simulation_id)
    )
    return list(conn.execute(query).scalars())


def failure_summary(exc: BaseException | str) -> dict[str, str]:
    """AgentFarm's runner's ``results_summary`` for a failed run."""
    if isinstance(exc, str):
        return {"error_type": "Error", "error_message": exc}
    # The first line only: a database error's text carries the whole statement and its values.
    message = str(exc).strip().splitlines()
    return {"error_type": type(exc).__name__, "error_message": message[0] if message else ""}
