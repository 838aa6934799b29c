"""ORM sessions on an experiment database, for code written against AgentFarm's models.

AgentFarm's callers hand ``_execute_in_transaction`` a function of a session that queries
AgentFarm's own models (``AgentModel``, ``AgentStateModel``, ...): the central tables have the
same names and columns, so those queries run here unchanged. Those models key ``agents`` by
``agent_id`` alone, though, so unscoped the ORM would read, update or delete an agent by that
id in every simulation at once (seeded replicates share agent ids), and its identity map would
merge the replicates' rows into one object. A simulation's session therefore adds its
``simulation_id`` to every statement it runs and every change it flushes; see
:func:`simulation_sessions`.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any, TypeVar

from sqlalchemy import Delete, Engine, Insert, Table, Update, delete, event, inspect, update
from sqlalchemy.orm import (
    Mapper,
    ORMExecuteState,
    Session,
    scoped_session,
    sessionmaker,
    with_loader_criteria,
)
from sqlalchemy.sql.elements import ClauseElement
from sqlalchemy.sql.util import find_tables

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
    """Like :func:`sessions`, for one simulation: what it reads and writes stays inside it.

    Every statement the session executes (:func:`scope_statement`) sees only this simulation's
    rows of the central tables that have ``simulation_id``: ORM queries, ``Session.get``, lazy
    loads and ORM-enabled bulk ``update``/``delete`` get ``simulation_id = <this one>`` on every
    model mapped to such a table, Core ``update``/``delete`` of such a table get it in their
    ``WHERE``, and a statement that reads such a table it cannot scope is refused. So the
    identity map only ever holds this simulation's rows, even of models keyed by ``agent_id``.
    Raw SQL (``text()``) is run as written: scoping it is the caller's job.

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

    def do_orm_execute(state: ORMExecuteState) -> None:
        scope_statement(state, simulation_id)

    event.listen(factory, "before_flush", before_flush)
    event.listen(factory, "do_orm_execute", do_orm_execute)
    return scoped_session(factory)


def scope_statement(state: ORMExecuteState, simulation_id: str) -> None:
    """Confine a statement a simulation's session is about to run to that simulation's rows.

    Raises:
        UsageError: it reads a central table that has ``simulation_id`` through something
            neither an ORM model with that column nor a Core ``update``/``delete`` of it (a
            Core ``select`` of the table, say), or inserts rows of another simulation.
    """
    statement = state.statement
    if not isinstance(statement, ClauseElement):
        return
    touched = {t.name for t in find_tables(statement, include_aliases=True) if _scoped_name(t)}
    covered: set[str] = set()
    if isinstance(statement, Insert):
        _check_insert(state, statement, simulation_id)
        covered.add(getattr(statement.table, "name", ""))
    elif isinstance(statement, Update | Delete) and not state.is_orm_statement:
        target = statement.table
        if isinstance(target, Table) and _scoped_name(target) and "simulation_id" in target.c:
            state.statement = statement.where(target.c.simulation_id == simulation_id)
            covered.add(target.name)
    # The models of every registry the statement uses: a query's joins, subqueries and the
    # relationships it loads may name models other than its result's (and a count() has none).
    involved = [*state.all_mappers, *([state.bind_mapper] if state.bind_mapper else [])]
    mappers = {m for mapper in involved for m in mapper.registry.mappers}
    options = []
    for mapper in mappers:
        if _scoped_mapper(mapper):
            cls = mapper.class_
            options.append(
                with_loader_criteria(cls, cls.simulation_id == simulation_id, include_aliases=True)
            )
            covered.add(getattr(mapper.local_table, "name", ""))
    if touched - covered:
        raise UsageError(
            f"simulation {simulation_id}: its session cannot scope a statement on "
            f"{', '.join(sorted(touched - covered))} to its own rows; query through a model "
            "that maps simulation_id, or filter raw SQL (text()) on simulation_id yourself"
        )
    if options and not isinstance(statement, Insert):
        state.statement = state.statement.options(*options)


def _scoped_name(table: object) -> bool:
    central = metadata.tables.get(getattr(table, "name", ""))
    return central is not None and "simulation_id" in central.c


def _scoped_mapper(mapper: Mapper[Any]) -> bool:
    return _scoped_name(mapper.local_table) and "simulation_id" in mapper.columns


def _check_insert(state: ORMExecuteState, statement: Insert, simulation_id: str) -> None:
    """Refuse an insert whose rows name another simulation (missing ids are the database's to
    refuse: ``simulation_id`` is NOT NULL)."""
    given = state.parameters
    batches: list[Any] = list(given) if isinstance(given, list | tuple) else [given or {}]
    # Values given in .values(...): compiling an ORM insert here would spoil its later
    # execution, so they are read off the statement (several rows of .values([...]) included).
    embedded = [getattr(statement, "_values", None) or {}]
    embedded += [row for rows in getattr(statement, "_multi_values", ()) for row in rows]
    values = [v for batch in batches for k, v in batch.items() if k == "simulation_id"]
    values += [
        getattr(v, "value", v)
        for row in embedded
        if isinstance(row, Mapping)
        for k, v in row.items()
        if getattr(k, "key", k) == "simulation_id"
    ]
    others = sorted({str(v) for v in values if v != simulation_id})
    if others:
        raise UsageError(
            f"simulation {simulation_id}: its session cannot write rows of simulation "
            f"{', '.join(others)}"
        )


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
