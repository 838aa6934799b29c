"""Alembic glue: where the revisions live, upgrading a target, and the schema gate.

The revisions live in ``alembic/`` at the repository root; the wheel ships the same folder as
``consolidate/_alembic`` so an installed ``consolidate db upgrade`` works without the repository.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING

from sqlalchemy import Connection, Engine, inspect, text
from sqlalchemy.exc import DBAPIError

from consolidate.errors import NotATarget, SchemaOutOfDate, TargetError
from consolidate.schema.head import HEAD as HEAD  # a constant: the gate imports no Alembic
from consolidate.schema.targets import describe

if TYPE_CHECKING:  # alembic is imported lazily so `consolidate --help` stays fast
    from alembic.config import Config


def script_location() -> Path:
    """The folder holding ``env.py`` and ``versions/``: packaged copy first, else the repo's."""
    package = Path(__file__).resolve().parents[1]  # consolidate/, where the wheel puts _alembic
    packaged = package / "_alembic"
    if (packaged / "env.py").is_file():
        return packaged
    repo = package.parent / "alembic"
    if (repo / "env.py").is_file():
        return repo
    raise TargetError("the Alembic migrations are missing from this installation of consolidate")


def alembic_config(connection: Connection | None = None) -> Config:
    """An Alembic config without an ini file, optionally bound to an open connection."""
    from alembic.config import Config

    config = Config()
    # ConfigParser interpolates '%', so a path containing one must be escaped.
    config.set_main_option("script_location", str(script_location()).replace("%", "%%"))
    if connection is not None:
        config.attributes["connection"] = connection
    return config


def head() -> str:
    """The one head revision of the shipped migrations (read from the scripts)."""
    from alembic.script import ScriptDirectory

    heads = ScriptDirectory.from_config(alembic_config()).get_heads()
    if len(heads) != 1:  # a packaging bug: two branches of migrations were shipped unmerged
        raise TargetError(f"the shipped migrations have {len(heads)} heads: {heads}")
    return heads[0]


def current(engine: Engine) -> str | None:
    """The revision the target is at, or ``None`` for a database without our schema.

    Raises:
        TargetError: the target cannot be opened or read (named, with the reason).
    """
    try:
        with engine.connect() as conn:
            if not inspect(conn).has_table("alembic_version"):
                return None
            versions = conn.exec_driver_sql("SELECT version_num FROM alembic_version").fetchall()
    except DBAPIError as exc:
        reason = (str(exc.orig).splitlines() or ["cannot be opened"])[0]
        raise TargetError(f"{describe(engine.url)}: {reason}") from exc
    if len(versions) > 1:  # branches are never shipped; a target with two is not ours
        raise TargetError(f"the target is at several schema revisions: {versions}")
    return versions[0][0] if versions else None


def upgrade(engine: Engine, revision: str = "head") -> None:
    """Upgrade the target (creating the schema in an empty one) inside one transaction.

    Raises:
        TargetError: the target holds tables of its own and no schema revision.
    """
    from alembic import command

    if current(engine) is None:
        refuse_foreign(engine)
    with migrating(engine) as conn:
        _complete_at_head(conn)
        command.upgrade(alembic_config(conn), revision)
        _complete_at_head(conn)


@contextmanager
def migrating(engine: Engine, *, write_lock: bool = False) -> Iterator[Connection]:
    """A connection inside one transaction, for running revisions on it.

    On SQLite foreign keys are off for that transaction and checked before it commits: a revision
    that rebuilds a referenced table (``experiments``) would otherwise fail at commit, and
    ``PRAGMA foreign_keys`` cannot change inside a transaction. They are on again afterwards.

    Raises:
        TargetError: the migrated rows break a foreign key (nothing is committed).
    """
    with engine.connect() as conn:
        raw = conn.connection.dbapi_connection if conn.dialect.name == "sqlite" else None
        if raw is not None:
            raw.execute("PRAGMA foreign_keys=OFF")
        try:
            with conn.execution_options(write_lock=write_lock).begin():
                yield conn
                if raw is not None and conn.exec_driver_sql("PRAGMA foreign_key_check").first():
                    raise TargetError(
                        f"{describe(engine.url)}: the migration would break foreign keys; "
                        "nothing was changed"
                    )
        finally:
            if raw is not None:
                raw.execute("PRAGMA foreign_keys=ON")


def refuse_foreign(engine: Engine, *, reading: bool = False) -> None:
    """Refuse a target without our schema that holds tables of its own (a legacy run, say).

    ``reading``: the command reads an experiment database (verify, query, ...), so the advice
    is about the file named, not about choosing somewhere to write.

    Raises:
        NotATarget: naming the target.
    """
    if set(inspect(engine).get_table_names()) - {"alembic_version"}:
        name = describe(engine.url)
        advice = (
            "a legacy run file is a source: look at it with consolidate inspect, or merge it "
            "with consolidate merge"
            if reading
            else "choose a new file or an empty database"
        )
        raise NotATarget(
            f"{name} is not a consolidate experiment database (it holds other tables and no "
            f"schema revision); {advice}"
        )


def _create(engine: Engine) -> None:
    """Build the schema in an empty target, once, however many processes ask at the same time.

    The upgrade runs under a lock (an advisory lock on PostgreSQL, the write lock on SQLite)
    and checks again inside it: a merge started on another machine may have just done it. A
    SQLite target gets the DDL the revisions produce at head (``schema.sqlite_head``, which a
    test keeps identical to them) instead of running them: importing Alembic and reading its
    scripts cost every merge into a new file about 0.17 s before its first row.
    """
    with migrating(engine, write_lock=True) as conn:
        if conn.dialect.name == "postgresql":
            conn.execute(
                text("SELECT pg_advisory_xact_lock(hashtextextended(:key, 0))"),
                {"key": "consolidate:schema"},
            )
        if inspect(conn).has_table("alembic_version"):
            return
        if conn.dialect.name == "sqlite":
            from consolidate.schema import sqlite_head

            if sqlite_head.REVISION == HEAD:
                for statement in sqlite_head.STATEMENTS:
                    conn.exec_driver_sql(statement)
                conn.exec_driver_sql("INSERT INTO alembic_version VALUES (?)", (HEAD,))
                return
        from alembic import command

        command.upgrade(alembic_config(conn), "head")


def downgrade(engine: Engine, revision: str) -> None:
    """Downgrade the target to ``revision`` (``base`` removes every table)."""
    from alembic import command

    with migrating(engine) as conn:
        _complete_at_head(conn)
        command.downgrade(alembic_config(conn), revision)


def _complete_at_head(conn: Connection) -> None:
    """At the head revision, build the indexes the schema declares and the target lacks.

    A merge into a new SQLite target builds its lookup indexes at its end (see
    ``merging.indexes``), so a merge killed before then leaves them missing. ``db upgrade``
    completes such a target too, and a revision that drops an index always finds it. Only at
    the head: the tables describe the head's, not an older revision's.
    """
    if not inspect(conn).has_table("alembic_version"):
        return
    if conn.exec_driver_sql("SELECT version_num FROM alembic_version").scalar() != HEAD:
        return
    from consolidate.schema import indexes

    indexes.build(conn, indexes.missing(conn))


def require_current(engine: Engine, *, name: str, create: bool = True) -> None:
    """The gate every writing command passes first.

    An empty database (no tables at all) is upgraded from nothing when ``create`` is true. A
    database at an older revision is refused with the command that fixes it; one at an unknown
    revision (written by a newer consolidate) is refused too.

    Args:
        engine: the target.
        name: how to name the target in messages (its path or URL without password).
        create: upgrade an empty database instead of refusing it.
    """
    found = current(engine)
    if found == HEAD:
        return
    if found is None:
        tables = set(inspect(engine).get_table_names())
        if not tables and create:
            _create(engine)
            return
        # Another process may have built the schema between the two reads above.
        found = current(engine)
        if found == HEAD:
            return
    if found is None:
        refuse_foreign(engine, reading=not create)
        raise SchemaOutOfDate(f"{name} has no schema; run: consolidate db upgrade {name}")
    wanted = head()  # read only for the message: a new target must not pay for it twice
    from alembic.script import ScriptDirectory

    known = {rev.revision for rev in ScriptDirectory.from_config(alembic_config()).walk_revisions()}
    if found in known:
        raise SchemaOutOfDate(
            f"{name} is at schema revision {found}, this consolidate needs {wanted}; "
            f"back it up, then run: consolidate db upgrade {name}"
        )
    raise SchemaOutOfDate(
        f"{name} is at schema revision {found}, unknown to this consolidate (head {wanted}); "
        "it was written by a newer version: upgrade consolidate"
    )
