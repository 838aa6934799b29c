"""The rows a simulation has logged and not yet committed, one buffer per central table.

Rows with a natural key (an agent, an agent's state at a step, a step) are kept by that key and
written as upserts, so logging the same one twice keeps the last, whether or not the first was
already flushed (AgentFarm collapsed duplicates inside one ``log_step`` call and raised
IntegrityError across calls). Event rows get their integer key here, when they are logged: the
central keys are ``(simulation_id, key)``, so the writer numbers each simulation's rows itself,
and a flush that fails and is tried again writes the very same keys.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping
from functools import cache
from typing import Any

from sqlalchemy import Connection, Dialect, Insert, func, insert, select
from sqlalchemy.dialects import postgresql, sqlite

from consolidate.schema import metadata
from consolidate.writer.rows import Row

#: Tables whose rows replace an earlier row with the same natural key.
KEYED: Mapping[str, str] = {
    "agents": "agent_id",
    "simulation_steps": "step_number",
    "agent_states": "id",
}
#: Tables whose rows are numbered per simulation by the writer: table -> key column.
NUMBERED: Mapping[str, str] = {
    "resource_states": "id",
    "agent_actions": "action_id",
    "health_incidents": "incident_id",
    "learning_experiences": "experience_id",
    "reproduction_events": "event_id",
    "interactions": "interaction_id",
    "simulation_config": "config_id",
}
#: Buffered rows of these tables belong to an agent (see :meth:`RowBuffers.discard_agents`).
AGENT_EVENTS = ("agent_actions", "health_incidents", "learning_experiences")


def next_keys(conn: Connection, simulation_id: str) -> dict[str, int]:
    """The first free key of each numbered table for ``simulation_id`` (max + 1, or 1)."""
    keys = {}
    for table_name, column in NUMBERED.items():
        table = metadata.tables[table_name]
        highest = conn.execute(
            select(func.max(table.c[column])).where(table.c.simulation_id == simulation_id)
        ).scalar()
        keys[table_name] = (highest or 0) + 1
    return keys


#: SQLite's driver also takes parameters by name (``:column``), and binds them from each row
#: dict in C, which is faster than building a tuple per row in Python.
_SQLITE_NAMED = sqlite.dialect(paramstyle="named")


@cache
def _driver_sql(dialect: Dialect, table_name: str) -> str:
    """The INSERT of :func:`statement` as driver SQL taking its parameters by column name
    (psycopg's own style is already by name)."""
    named = _SQLITE_NAMED if dialect.name == "sqlite" else dialect
    return str(statement(dialect.name, table_name).compile(dialect=named))


@cache
def statement(dialect: str, table_name: str) -> Insert:
    """The INSERT for one table's buffered rows: an upsert on the natural key when it has one."""
    table = metadata.tables[table_name]
    if table_name not in KEYED:
        return insert(table)
    upsert = (postgresql if dialect == "postgresql" else sqlite).insert(table)
    key = [column.name for column in table.primary_key.columns]
    values = {c.name: upsert.excluded[c.name] for c in table.columns if c.name not in key}
    replacing: Insert = upsert.on_conflict_do_update(index_elements=key, set_=values)
    return replacing


class RowBuffers:
    """Pending rows of one simulation; nothing here touches the database but :meth:`write`."""

    def __init__(self, first_keys: Mapping[str, int]) -> None:
        self._keyed: dict[str, dict[Any, Row]] = {name: {} for name in KEYED}
        self._numbered: dict[str, list[Row]] = {name: [] for name in NUMBERED}
        self._next_key = dict(first_keys)

    def add(self, table: str, row: Row) -> int:
        """Buffer one row of ``table``; returns how many rows that table's buffer now holds."""
        if table in KEYED:
            keyed = self._keyed[table]
            keyed[row[KEYED[table]]] = row
            return len(keyed)
        row[NUMBERED[table]] = self._next_key[table]
        self._next_key[table] += 1
        numbered = self._numbered[table]
        numbered.append(row)
        return len(numbered)

    def reserve(self, table: str) -> int | None:
        """Take the next key of a numbered table for a row written elsewhere (an ORM session);
        None for a table the writer does not number."""
        if table not in NUMBERED:
            return None
        key = self._next_key[table]
        self._next_key[table] += 1
        return key

    def pending(self, table: str, key: object) -> Row | None:
        """The buffered row of a keyed table with this natural key, if one is waiting."""
        return self._keyed[table].get(key) if table in KEYED else None

    def rows(self, table: str) -> list[Row]:
        """The rows buffered for ``table``, in the order they will be written (a copy)."""
        if table in KEYED:
            return list(self._keyed[table].values())
        return list(self._numbered[table])

    def counts(self) -> dict[str, int]:
        """Buffered rows per table, for every table that has some."""
        sizes = {name: len(rows) for name, rows in self._keyed.items()}
        sizes.update((name, len(rows)) for name, rows in self._numbered.items())
        return {name: size for name, size in sizes.items() if size}

    def __bool__(self) -> bool:
        return any(self._keyed.values()) or any(self._numbered.values())

    def write(self, conn: Connection) -> int:
        """Insert every buffered row inside the caller's transaction; returns the row count.

        The buffers are left as they are: only the caller knows when the transaction committed.
        """
        written = 0
        for table in (*KEYED, *NUMBERED):
            rows = self.rows(table)
            if not rows:
                continue
            # Straight to the driver's executemany: the data columns are text and numbers, which
            # need no SQLAlchemy type processing, and skipping it halves the cost of a flush.
            conn.exec_driver_sql(_driver_sql(conn.dialect, table), rows)
            written += len(rows)
        return written

    def clear(self) -> None:
        for keyed in self._keyed.values():
            keyed.clear()
        for numbered in self._numbered.values():
            numbered.clear()

    def discard_agents(self, agent_ids: Collection[str]) -> int:
        """Drop buffered actions, health incidents and learning experiences of these agents.

        Returns how many rows were dropped (AgentFarm's ``discard_pending_agents``).
        """
        wanted = {str(agent_id) for agent_id in agent_ids}
        dropped = 0
        for table in AGENT_EVENTS:
            rows = self._numbered[table]
            kept = [row for row in rows if row["agent_id"] not in wanted]
            dropped += len(rows) - len(kept)
            rows[:] = kept
        return dropped
