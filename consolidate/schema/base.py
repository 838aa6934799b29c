"""The metadata every central table registers on, its naming convention, and the shape every
per-simulation table shares.

The tables are SQLAlchemy Core ``Table`` objects, not ORM models: nothing maps rows to objects
(merge, verify and the writer move rows as tuples), and declaring the tables as models loaded
SQLAlchemy's ORM and built its mappers at the start of every merge: 115-175 ms on the 2-core
machine here, against 6-10 ms for these tables.

Column types are portable: ``Text`` is unbounded because legacy files never enforced their
declared VARCHAR lengths (config_data reaches 9 kB in a VARCHAR(4096)); integers are BIGINT;
``Float`` is double precision, so legacy REAL values are carried unrounded.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Column, ForeignKey, Index, MetaData, PrimaryKeyConstraint, Table, Text

# Named constraints make Alembic's batch mode (SQLite) and autogenerate deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

metadata = MetaData(naming_convention=NAMING_CONVENTION)


def scoped_table(
    name: str,
    *columns: Column[Any],
    key: tuple[str, ...],
    step: bool = True,
    agent: bool = True,
) -> Table:
    """A data table: rows belong to exactly one simulation.

    ``simulation_id`` comes first and refers to ``simulations`` (its rows go with it); the
    primary key is simulation_id followed by ``key``, the legacy row key.

    Args:
        name: the table's name.
        columns: the table's own columns, in order (``key``'s among them, NOT NULL).
        key: the legacy row key that follows simulation_id in the primary key.
        step: add the ``(simulation_id, step_number)`` index.
        agent: add the ``(simulation_id, agent_id)`` index.
    """
    args: list[Any] = [
        Column(
            "simulation_id",
            Text(),
            ForeignKey("simulations.simulation_id", ondelete="CASCADE"),
            nullable=False,
        ),
        *columns,
        PrimaryKeyConstraint("simulation_id", *key),
    ]
    if step:
        args.append(Index(f"ix_{name}_simulation_id_step_number", "simulation_id", "step_number"))
    if agent:
        args.append(Index(f"ix_{name}_simulation_id_agent_id", "simulation_id", "agent_id"))
    return Table(name, metadata, *args)
