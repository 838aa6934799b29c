"""Declarative base, naming convention and the shared shape of every per-simulation table."""

from __future__ import annotations

from typing import Any

from sqlalchemy import BigInteger, Float, ForeignKey, Index, MetaData, PrimaryKeyConstraint, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column

# Named constraints make Alembic's batch mode (SQLite) and autogenerate deterministic.
NAMING_CONVENTION = {
    "ix": "ix_%(table_name)s_%(column_0_N_name)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}


class Base(DeclarativeBase):
    """Base of every central table.

    Python types map to portable SQL types: ``str`` is unbounded TEXT because legacy files never
    enforced their declared VARCHAR lengths (config_data reaches 9 kB in a VARCHAR(4096)); ``int``
    is BIGINT; ``float`` is double precision so legacy REAL values are carried unrounded.
    """

    metadata = MetaData(naming_convention=NAMING_CONVENTION)
    type_annotation_map = {str: Text(), int: BigInteger(), float: Float()}


class SimulationScoped:
    """Columns and keys shared by every data table: rows belong to exactly one simulation."""

    simulation_id: Mapped[str] = mapped_column(
        ForeignKey("simulations.simulation_id", ondelete="CASCADE"), sort_order=-1
    )


def scoped_keys(table: str, *key: str, step: bool = True, agent: bool = True) -> tuple[Any, ...]:
    """``__table_args__`` for a data table: a primary key led by simulation_id plus lookups.

    Args:
        table: the table name, used only to name the indexes.
        key: the legacy row key that follows simulation_id in the primary key.
        step: add the ``(simulation_id, step_number)`` index.
        agent: add the ``(simulation_id, agent_id)`` index.
    """
    args: list[Any] = [PrimaryKeyConstraint("simulation_id", *key)]
    if step:
        args.append(Index(f"ix_{table}_simulation_id_step_number", "simulation_id", "step_number"))
    if agent:
        args.append(Index(f"ix_{table}_simulation_id_agent_id", "simulation_id", "agent_id"))
    return tuple(args)
