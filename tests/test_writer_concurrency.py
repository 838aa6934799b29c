"""Several writers on one experiment database: processes, threads, locks and retries."""

from __future__ import annotations

import os
import sqlite3
import subprocess
import sys
import threading
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import Connection, event, text
from sqlalchemy.exc import IntegrityError, OperationalError

from consolidate import verify
from consolidate.schema.migrations import upgrade
from consolidate.schema.targets import central_engine
from consolidate.writer import DataLoggingConfig, ExperimentDatabase
from consolidate.writer.retry import is_lock_error, write_transaction
from tests.conftest import REPO
from tests.test_writer_support import count, query

AGENTS, STEPS = 20, 60

#: One replicate run, as a separate process would write it: the same agent ids in every run.
REPLICATE = f"""
import sys
from consolidate.writer import DataLoggingConfig, ExperimentDatabase
target, simulation_id = sys.argv[1], sys.argv[2]
agents = [f"agent_{{n}}" for n in range({AGENTS})]
with ExperimentDatabase(target, "shared") as db:
    config = DataLoggingConfig(buffer_size=25, commit_interval=0)  # many small transactions
    with db.create_simulation_context(simulation_id, {{"seed": 1}}, config) as ctx:
        for agent in agents:
            ctx.log_agent(agent, 0, "system", (0.0, 0.0), 5.0, 100.0)
        for step in range({STEPS}):
            states = [(a, 1.0, 2.0, 3.0, 4.0, 5.0, 0, False, 0.5, step) for a in agents]
            ctx.log_step(step, states, [("r", 1.0, 0.0, 0.0)], {{"total_agents": {AGENTS}}})
            for agent in agents:
                ctx.log_agent_action(step_number=step, agent_id=agent, action_type="move")
"""


def test_two_processes_write_replicates_into_one_database(any_target: str) -> None:
    if "://" not in any_target:  # both processes start on an existing schema, as a job would
        engine = central_engine(any_target)
        upgrade(engine)
        engine.dispose()
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", REPLICATE, any_target, sim],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for sim in ("replicate_1", "replicate_2")
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
    for sim in ("replicate_1", "replicate_2"):
        assert count(any_target, "agents", sim) == AGENTS
        assert count(any_target, "agent_states", sim) == AGENTS * STEPS
        assert count(any_target, "agent_actions", sim) == AGENTS * STEPS
        assert count(any_target, "resource_states", sim) == STEPS
    assert query(any_target, "SELECT DISTINCT status FROM simulations") == [("completed",)]
    report = verify(any_target)
    assert report.ok, [str(m) for m in report.mismatches]


def test_two_processes_may_create_the_database_together(tmp_path: Path) -> None:
    target = str(tmp_path / "new.db")
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    runs = [
        subprocess.Popen(
            [sys.executable, "-c", REPLICATE, target, sim],
            env=env,
            stderr=subprocess.PIPE,
            text=True,
        )
        for sim in ("a", "b")
    ]
    for run in runs:
        _, stderr = run.communicate(timeout=300)
        assert run.returncode == 0, stderr
    assert count(target, "agent_states") == 2 * AGENTS * STEPS
    assert verify(target).ok


def test_threads_share_one_engine_per_database(sqlite_target: Path) -> None:
    databases = [ExperimentDatabase(sqlite_target, "exp") for _ in range(4)]
    assert len({id(db.engine) for db in databases}) == 1
    errors: list[BaseException] = []

    def run(db: ExperimentDatabase, n: int) -> None:
        try:
            with db.create_simulation_context(f"sim_{n}", logging_config=DataLoggingConfig(7)) as c:
                for step in range(30):
                    c.log_step(step, [("a", 0, 0, 0, 0, 0, 0, False, 0, step)], [], {})
                    c.log_agent_action(step_number=step, agent_id="a", action_type="move")
        except BaseException as exc:  # handed to the main thread, which fails the test
            errors.append(exc)

    threads = [threading.Thread(target=run, args=(db, n)) for n, db in enumerate(databases)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for db in databases:
        db.close()
    assert errors == []
    assert count(str(sqlite_target), "agent_states") == 4 * 30
    assert count(str(sqlite_target), "agent_actions") == 4 * 30
    # the last close disposed of the shared engine: a new database gets a new one
    again = ExperimentDatabase(sqlite_target, "exp")
    assert again.engine is not databases[0].engine
    again.close()


def _impatient_engine(target: Path) -> Any:
    """The writer's engine, but failing at once on a lock instead of waiting 60 s."""
    engine = central_engine(target)
    upgrade(engine)

    @event.listens_for(engine, "connect")
    def _no_wait(dbapi_connection: sqlite3.Connection, _record: Any) -> None:
        dbapi_connection.execute("PRAGMA busy_timeout=0")

    engine.dispose()  # connections made from now on get the listener
    return engine


def test_a_locked_database_is_waited_for_with_backoff(tmp_path: Path) -> None:
    target = tmp_path / "locked.db"
    engine = _impatient_engine(target)
    holder = sqlite3.connect(target, isolation_level=None, check_same_thread=False)
    holder.execute("BEGIN IMMEDIATE")  # another writer holds the write lock for a while
    threading.Timer(0.4, lambda: holder.execute("COMMIT")).start()
    attempts: list[float] = []
    started = time.monotonic()

    def work(conn: Connection) -> None:
        attempts.append(time.monotonic())
        conn.execute(text("CREATE TABLE written (x)"))

    write_transaction(engine, work)
    # BEGIN IMMEDIATE failed (busy_timeout 0) before work ran, until the lock was released:
    # work ran once, and only the backoff can have waited that long
    assert len(attempts) == 1
    assert attempts[0] - started >= 0.35
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM written")).scalar() == 0
    engine.dispose()
    holder.close()


def test_a_lock_that_never_goes_raises_after_the_last_attempt(tmp_path: Path) -> None:
    target = tmp_path / "locked.db"
    engine = _impatient_engine(target)
    holder = sqlite3.connect(target, isolation_level=None)
    holder.execute("BEGIN IMMEDIATE")
    started = time.monotonic()
    with pytest.raises(OperationalError, match="database is locked"):
        write_transaction(engine, lambda conn: None, attempts=3, first_delay=0.05)
    assert time.monotonic() - started >= 0.05 * 0.5 * 3  # two backoffs: 0.05 then 0.1 (±50%)
    holder.execute("COMMIT")
    holder.close()
    engine.dispose()


def test_other_errors_are_never_retried(tmp_path: Path) -> None:
    engine = _impatient_engine(tmp_path / "x.db")
    calls: list[int] = []

    def work(conn: Connection) -> None:
        calls.append(1)
        # no creation_date: the NOT NULL constraint fails
        conn.execute(text("INSERT INTO experiments (experiment_id) VALUES ('e')"))

    with pytest.raises(IntegrityError):
        write_transaction(engine, work)
    assert calls == [1]
    engine.dispose()


def test_lock_errors_are_told_apart() -> None:
    locked = OperationalError("BEGIN", {}, sqlite3.OperationalError("database is locked"))
    busy = OperationalError("BEGIN", {}, sqlite3.OperationalError("database table is busy"))
    missing = OperationalError("SELECT", {}, sqlite3.OperationalError("no such table: x"))
    unique = IntegrityError("INSERT", {}, sqlite3.IntegrityError("UNIQUE constraint failed"))
    assert is_lock_error(locked) and is_lock_error(busy)
    assert not is_lock_error(missing) and not is_lock_error(unique)
    assert not is_lock_error(ValueError("database is locked"))
