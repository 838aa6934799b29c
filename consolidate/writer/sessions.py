"""ORM sessions on an experiment database, for code written against AgentFarm's models.

AgentFarm's callers hand ``_execute_in_transaction`` a function of a session that queries
AgentFarm's own models (``AgentModel``, ``AgentStateModel``, ...): the central tables have the
same names and columns, so those queries run here unchanged. Those models key ``agents`` by
``agent_id`` alone, though, so the ORM would update or delete an agent by that id in every
simulation at once (seeded replicates share agent ids). A simulation's session therefore
rewrites such changes to touch only its own simulation's rows; see :func:`simulation_sessions`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, TypeVar

from sqlalchemy import Engine, Table, delete, event, inspect, update
from sqlalchemy.orm import Session, scoped_session, sessionmaker

from consolidate.errors import UsageError
from consolidate.schema import metadata

T = TypeVar("T")


def sessions(engine: Engine) -> scoped_session[Session]:
    """AgentFarm's ``Session``: a scoped session factory whose transactions take the write lock
    up front on SQLite (``BEGIN IMMEDIATE``), so concurrent writers queue instead of failing."""
    return scoped_session(_factory(engine))


def _factory(engine: Engine) -> sessionmaker[Session]:
    return sessionmaker(bind=engine.execution_options(write_lock=True), expire_on_commit=False)


def simulation_sessions(
    engine: Engine, simulation_id: str, reserve_key: Callable[[str], int | None]
) -> scoped_session[Session]:
    """Like :func:`sessions`, for one simulation: what a flush writes stays inside it.

    Before each flush, for every object of a central table that has ``simulation_id``:

    - a new object gets this ``simulation_id`` when it has none, and, when its table's rows
      are numbered per simulation and its key is empty, the next key from ``reserve_key``
      (the simulation's logger, so its own buffered rows never collide with it);
    - a changed or deleted object whose model's primary key lacks ``simulation_id`` (AgentFarm's
      models) is updated or deleted by a statement scoped to this simulation, and taken out of
      the session;
    - an object of another simulation is refused with :class:`~consolidate.errors.UsageError`.
    """
    factory = _factory(engine)

    def before_flush(session: Session, _context: object, _instances: object) -> None:
        for obj in list(session.new):
            table = _scoped_table(obj)
            if table is None:
                continue
            _check_owner(obj, simulation_id, fill=True)
            for column in table.primary_key.columns:
                if column.name != "simulation_id" and getattr(obj, column.name, 0) is None:
                    key = reserve_key(table.name)
                    if key is not None:
                        setattr(obj, column.name, key)
        for obj in list(session.dirty) + list(session.deleted):
            table = _scoped_table(obj)
            if table is None:
                continue
            _check_owner(obj, simulation_id, fill=False)
            if _keyed_by_simulation(obj):
                continue  # its own key already keeps the change inside the simulation
            state = inspect(obj)
            where = [table.c.simulation_id == simulation_id]
            where += [
                table.c[column.name] == value
                for column, value in zip(mapper_keys(state), state.identity or (), strict=True)
            ]
            if obj in session.deleted:
                session.execute(delete(table).where(*where))
            else:
                changed = {
                    attr.key: attr.history.added[0]
                    for attr in state.attrs
                    if attr.history.added and attr.key in table.c
                }
                if changed:
                    session.execute(update(table).where(*where).values(**changed))
            session.expunge(obj)

    event.listen(factory, "before_flush", before_flush)
    return scoped_session(factory)


def _scoped_table(obj: object) -> Table | None:
    """The central table an ORM object is mapped to, if it holds rows of one simulation."""
    table = inspect(obj).mapper.local_table
    central = metadata.tables.get(getattr(table, "name", ""))
    if central is None or "simulation_id" not in central.c:
        return None
    return central


def _keyed_by_simulation(obj: object) -> bool:
    return any(column.name == "simulation_id" for column in inspect(obj).mapper.primary_key)


def _check_owner(obj: Any, simulation_id: str, *, fill: bool) -> None:
    owner = getattr(obj, "simulation_id", None)
    if owner is None and fill:
        obj.simulation_id = simulation_id
    elif owner is not None and owner != simulation_id:
        raise UsageError(
            f"simulation {simulation_id}: its session cannot write rows of simulation {owner}"
        )


def run_in_transaction(factory: scoped_session[Session], work: Callable[[Session], T]) -> T:
    """AgentFarm's ``_execute_in_transaction``: ``work(session)``, then commit; on an error roll
    back and re-raise (AgentFarm retried every error three times; a lock is waited out by
    ``busy_timeout`` on SQLite and by PostgreSQL itself)."""
    session = factory()
    try:
        result = work(session)
        session.commit()
        return result
    except BaseException:
        session.rollback()
        raise
    finally:
        factory.remove()


def mapper_keys(state: Any) -> tuple[Any, ...]:
    """The primary key columns of an object's model (AgentFarm's: ``agent_id`` alone)."""
    return tuple(state.mapper.primary_key)
