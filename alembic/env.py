"""Alembic environment for the consolidate central schema.

Two ways in: the library passes an open connection in ``config.attributes["connection"]``
(``consolidate db upgrade``); the plain ``alembic`` command, run from the repository root, takes
the target from ``-x db=PATH_OR_URL``, else ``CONSOLIDATE_DATABASE_URL``, else ``./experiment.db``.
"""

from __future__ import annotations

import os
from logging.config import fileConfig

from alembic import context
from sqlalchemy import Connection

from consolidate.schema import metadata
from consolidate.schema.migrations import current, migrating
from consolidate.schema.targets import central_engine, describe

config = context.config
if config.config_file_name is not None and os.path.isfile(config.config_file_name):
    fileConfig(config.config_file_name)


def _run(connection: Connection) -> None:
    # Batch mode lets the same revision ALTER tables on SQLite (copy-and-move) and PostgreSQL.
    context.configure(connection=connection, target_metadata=metadata, render_as_batch=True)
    with context.begin_transaction():
        context.run_migrations()


def _target() -> str:
    return (
        context.get_x_argument(as_dictionary=True).get("db")
        or os.environ.get("CONSOLIDATE_DATABASE_URL")
        or "experiment.db"
    )


if context.is_offline_mode():
    raise SystemExit("offline (--sql) migrations are not supported: batch mode needs a database")

shared = config.attributes.get("connection")
if shared is not None:
    _run(shared)
else:
    engine = central_engine(_target())
    try:
        with migrating(engine) as conn:
            _run(conn)
        command = getattr(config.cmd_opts, "cmd", None)
        if command and command[0].__name__ in ("upgrade", "downgrade", "stamp"):
            # As ``consolidate db upgrade`` does: say where the target now is.
            print(f"{describe(engine.url)}: at revision {current(engine) or 'none (empty)'}")
    finally:
        engine.dispose()
