"""Write transactions that wait out other writers, and give up at once on anything else."""

from __future__ import annotations

import logging
import random
import sqlite3
import time
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy import Connection, Engine
from sqlalchemy.exc import OperationalError

T = TypeVar("T")

log = logging.getLogger(__name__)

#: PostgreSQL SQLSTATEs that mean "another transaction holds a lock": deadlock_detected and
#: lock_not_available. Retrying the whole transaction is the documented remedy for both.
POSTGRES_LOCK_STATES = frozenset({"40P01", "55P03"})

ATTEMPTS = 8
FIRST_DELAY = 0.05
MAX_DELAY = 2.0


def is_lock_error(exc: BaseException) -> bool:
    """True only when ``exc`` says the database was locked or busy, which waiting can cure.

    Integrity errors, bad values and every other failure are the caller's to see at once:
    retrying them (as AgentFarm's ``execute_with_retry`` did) only repeats the failure.
    """
    original = exc.orig if isinstance(exc, OperationalError) else exc
    if isinstance(original, sqlite3.OperationalError):
        message = str(original).lower()
        return "database is locked" in message or "busy" in message
    if isinstance(exc, OperationalError):
        return getattr(original, "sqlstate", None) in POSTGRES_LOCK_STATES
    return False


def write_transaction(
    engine: Engine,
    work: Callable[[Connection], T],
    *,
    attempts: int = ATTEMPTS,
    first_delay: float = FIRST_DELAY,
    max_delay: float = MAX_DELAY,
) -> T:
    """Run ``work`` in one write transaction and commit it; retry the whole of it when locked.

    On SQLite the transaction starts with ``BEGIN IMMEDIATE`` (the ``write_lock`` execution
    option of :func:`consolidate.schema.targets.central_engine`): the write lock is taken up
    front, so writers queue on ``busy_timeout`` instead of failing half-way. A lock error that
    still gets through (the timeout ran out) is retried with exponential backoff and jitter,
    ``attempts`` times in all; ``work`` must therefore be safe to run again after a rollback.
    """
    delay = first_delay
    for attempt in range(1, attempts + 1):
        try:
            with engine.connect().execution_options(write_lock=True) as conn, conn.begin():
                return work(conn)
        except OperationalError as exc:
            if attempt == attempts or not is_lock_error(exc):
                raise
            log.info("database busy (attempt %d of %d), retrying: %s", attempt, attempts, exc)
        # Jitter keeps processes that collided once from colliding again in lock step.
        time.sleep(delay * (0.5 + random.random()))
        delay = min(delay * 2, max_delay)
    raise AssertionError("unreachable: the last attempt returns or raises")
