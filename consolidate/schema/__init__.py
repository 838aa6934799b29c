"""Foundation, schema: the central tables, their migrations, and naming a target.
May import: errors. Every stage may import it.

Alembic (``alembic/versions``) owns the real tables; ``tests/test_migrations.py`` proves these
declarations (SQLAlchemy Core tables on :data:`metadata`) and the migrations agree.

The tables load SQLAlchemy (a fifth of a second): they are made on first use (PEP 562), so a
module that needs only plain data (``schema.columns``, ``schema.head``) does not pay for them.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from sqlalchemy import MetaData

    metadata: MetaData
    #: Every table that holds per-simulation rows, in an order that respects nothing but
    #: readability: the only foreign key of a data table points at ``simulations``.
    DATA_TABLES: tuple[str, ...]

#: The modules that declare the tables; each registers its tables on ``base.metadata``.
_TABLE_MODULES = (
    "consolidate.schema.catalog",
    "consolidate.schema.tables",
    "consolidate.schema.events",
    "consolidate.schema.oldest",
)


def __getattr__(name: str) -> Any:
    if name == "metadata":
        for module in _TABLE_MODULES:
            import_module(module)
        value = import_module("consolidate.schema.base").metadata
    elif name == "DATA_TABLES":
        value = tuple(
            t.name
            for t in __getattr__("metadata").sorted_tables
            if t.name not in ("experiments", "simulations")
        )
    else:
        raise AttributeError(f"module 'consolidate.schema' has no attribute {name!r}")
    globals()[name] = value  # the next access is a plain attribute
    return value


__all__ = ["DATA_TABLES", "metadata"]
