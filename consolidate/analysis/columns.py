"""The tables, columns and dtypes that the query tool's answers are built from.

Kept apart from the tool so that its statements and the exports share one reading of the schema.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlalchemy as sa
from sqlalchemy import Select, func
from sqlalchemy.sql.elements import ColumnElement

from consolidate.schema import metadata

EXPERIMENTS = metadata.tables["experiments"]
SIMULATIONS = metadata.tables["simulations"]
STEPS = metadata.tables["simulation_steps"]
AGENTS = metadata.tables["agents"]
STATES = metadata.tables["agent_states"]

#: What ``compare_simulations`` accepts: the numeric columns of simulation_steps but its keys.
METRICS: tuple[str, ...] = tuple(
    c.name
    for c in STEPS.columns
    if isinstance(c.type, sa.Integer | sa.Float) and c.name not in ("step_number", "step_id")
)
#: What ``export`` accepts: every central table (``alembic_version`` is bookkeeping, not data).
TABLES: tuple[str, ...] = tuple(sorted(metadata.tables))

#: One simulation id, several, or ``None`` for every simulation in scope.
SimulationIds = str | Sequence[str] | None


def totals() -> tuple[ColumnElement[int], ...]:
    """``total_births`` and ``total_deaths`` summed over the steps in a query's scope."""
    # PostgreSQL sums bigints as numeric (Decimal in Python): cast back so totals stay integers.
    return tuple(
        func.sum(STEPS.c[c]).cast(sa.BigInteger).label(f"total_{c}") for c in ("births", "deaths")
    )


def dtypes_of(query: Select[Any]) -> tuple[dict[str, str], list[str]]:
    """Nullable dtypes and date columns from the schema's column types, so a column's dtype never
    depends on its values (an all-NULL integer column would otherwise come back as text)."""
    kinds = ((sa.Integer, "Int64"), (sa.Float, "Float64"), (sa.String, "string"))
    columns = [(str(c.key), c.type) for c in query.selected_columns]
    dtypes = {
        key: name for key, type_ in columns for kind, name in kinds if isinstance(type_, kind)
    }
    return dtypes, [key for key, type_ in columns if isinstance(type_, sa.DateTime)]


def as_list(ids: SimulationIds) -> list[str] | None:
    """The ids as a list, or None for every simulation."""
    # A lone string is one id, not a sequence of one-character ids.
    return None if ids is None else [ids] if isinstance(ids, str) else list(ids)
