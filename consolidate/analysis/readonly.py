"""Running one user-written SQL statement without letting it write (``consolidate query``)."""

from __future__ import annotations

import sqlite3
from typing import Any, cast

from sqlalchemy import Connection

from consolidate.errors import QueryError


def run_read_only(conn: Connection, sql: str, *, name: str) -> tuple[list[str], list[Any]]:
    """Run one statement read-only on ``conn`` (which is invalidated afterwards).

    SQLite runs it under ``PRAGMA query_only``; PostgreSQL in a ``READ ONLY`` transaction via
    the extended protocol, which takes one statement (``COMMIT; DELETE ...`` cannot step out).
    It guards against mistakes, not hostile users: give those a read-only role.

    Returns:
        The column names and the rows.

    Raises:
        QueryError: the statement fails, tries to write, or returns no rows.
    """
    postgres = conn.dialect.name == "postgresql"
    with conn:
        try:
            conn.exec_driver_sql(
                "SET TRANSACTION READ ONLY" if postgres else "PRAGMA query_only=ON"
            )
            # The driver's own cursor: SQLAlchemy would pass psycopg empty parameters, and
            # psycopg would then read every '%' in the statement as a placeholder.
            driver = cast(Any, conn.connection.dbapi_connection)
            if not postgres:  # query_only still lets ATTACH create an empty file
                driver.set_authorizer(_refuse_attach)
            cursor = driver.cursor()
            cursor.execute(sql, **({"prepare": True} if postgres else {}))
            if cursor.description is None:
                raise QueryError(f"{name}: the statement returns no rows")
            columns = [d[0] for d in cursor.description]
            return columns, cursor.fetchall()
        except conn.dialect.loaded_dbapi.Error as exc:
            raise QueryError(_sql_failure(name, exc)) from exc
        finally:
            conn.invalidate()  # the statement may have changed the session: never reuse it


def _refuse_attach(action: int, *_: object) -> int:
    return sqlite3.SQLITE_DENY if action == sqlite3.SQLITE_ATTACH else sqlite3.SQLITE_OK


def first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__


def _sql_failure(name: str, exc: BaseException) -> str:
    reason = first_line(exc)
    # SQLite says "attempt to write a readonly database"; PostgreSQL raises SQLSTATE 25006.
    if reason == "not authorized":  # _refuse_attach
        return f"{name}: consolidate query reads this database only; the statement is refused"
    if "readonly database" in reason or getattr(exc, "sqlstate", None) == "25006":
        return f"{name}: consolidate query is read-only; the statement tried to write ({reason})"
    if "one statement at a time" in reason or "multiple commands" in reason:
        return f"{name}: consolidate query runs one statement at a time ({reason})"
    return f"{name}: the query failed: {reason}"
