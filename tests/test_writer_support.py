"""Helpers for the writer's tests (this module holds no tests): reading a target back on its
own engine, independently of the writer, and AgentFarm-shaped rows."""

from __future__ import annotations

from typing import Any

from sqlalchemy import Engine, create_engine, event, text

from consolidate.schema.targets import target_url


def query(target: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    """Rows of ``sql`` on ``target`` (a path or a URL), read on a fresh engine."""
    engine = create_engine(target_url(target))
    try:
        with engine.connect() as conn:
            return [tuple(row) for row in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


def count(target: str, table: str, simulation_id: str | None = None) -> int:
    where = "" if simulation_id is None else " WHERE simulation_id = :sim"
    return int(query(target, f"SELECT count(*) FROM {table}{where}", sim=simulation_id)[0][0])


def state(agent_id: str, step: int, reward: float = 0.5) -> tuple[Any, ...]:
    """An AgentFarm agent-state tuple of 10 fields."""
    return (agent_id, 1.0, 2.0, 10.0, 90.0, 100.0, 0, False, reward, step)


def count_transactions(engine: Engine) -> list[int]:
    """A list that grows by one at every transaction begun on ``engine`` (an observer)."""
    begun: list[int] = []
    event.listen(engine, "begin", lambda conn: begun.append(1))
    return begun
