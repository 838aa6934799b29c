"""A simulation's ORM session reads and changes its own simulation's rows only, whatever it runs.

Two seeded replicates share agent ids; AgentFarm's models key ``agents`` by ``agent_id`` alone,
so an unscoped query, bulk update or delete would see or change both.
"""

from __future__ import annotations

import csv
import io
import json
import tracemalloc
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import delete, insert, select, text, update
from sqlalchemy.orm import aliased

from consolidate.errors import UsageError
from consolidate.schema import metadata
from consolidate.schema.targets import central_engine
from consolidate.writer import ExperimentDatabase
from consolidate.writer.context import SimulationContext
from consolidate.writer.export import DATA_TYPES
from tests.agentfarm_driver import AgentModel
from tests.test_agentfarm_port import rows


@pytest.fixture
def replicates(any_target: str) -> Iterator[tuple[str, SimulationContext, SimulationContext]]:
    """Simulations ``one`` and ``two``, each with agents ``agent_x`` and ``agent_y``."""
    with ExperimentDatabase(any_target, "exp") as database:
        contexts = [database.create_simulation_context(s) for s in ("one", "two")]
        for ctx in contexts:
            ctx.log_agent("agent_x", 0, "SystemAgent", (0.0, 0.0), 1.0, 100.0)
            ctx.log_agent("agent_y", 0, "SystemAgent", (0.0, 0.0), 1.0, 100.0)
            ctx.flush_all_buffers()
        yield any_target, contexts[0], contexts[1]


def agents(target: str) -> list[tuple[Any, ...]]:
    return rows(target, "SELECT simulation_id, agent_id, death_time FROM agents ORDER BY 1, 2")


UNTOUCHED_TWO = [("two", "agent_x", None), ("two", "agent_y", None)]


def test_queries_see_only_the_sessions_simulation(
    replicates: tuple[str, SimulationContext, SimulationContext],
) -> None:
    _, one, _ = replicates

    def look(session: Any) -> Any:
        return (
            session.query(AgentModel).count(),
            [a.simulation_id for a in session.query(AgentModel).filter_by(agent_id="agent_x")],
            session.scalars(select(AgentModel.simulation_id)).all(),
            session.get(AgentModel, "agent_y").simulation_id,
            session.query(AgentModel).filter_by(simulation_id="two").all(),
            session.query(aliased(AgentModel)).count(),
        )

    count, found, ids, got, others, via_alias = one._execute_in_transaction(look)
    assert via_alias == 2
    assert count == 2
    assert found == ["one"]
    assert ids == ["one", "one"]
    assert got == "one"
    assert others == []


def test_bulk_updates_and_deletes_change_only_the_sessions_simulation(
    replicates: tuple[str, SimulationContext, SimulationContext],
) -> None:
    target, one, _ = replicates
    one._execute_in_transaction(
        lambda s: (
            s.query(AgentModel).filter(AgentModel.agent_id == "agent_x").update({"death_time": 3})
        )
    )
    one._execute_in_transaction(
        lambda s: s.execute(
            update(AgentModel).where(AgentModel.agent_id == "agent_y").values(death_time=5)
        )
    )
    assert agents(target) == [("one", "agent_x", 3), ("one", "agent_y", 5), *UNTOUCHED_TWO]
    one._execute_in_transaction(
        lambda s: s.query(AgentModel).filter(AgentModel.agent_id == "agent_x").delete()
    )
    one._execute_in_transaction(
        lambda s: s.execute(delete(AgentModel).where(AgentModel.agent_id == "agent_y"))
    )
    assert agents(target) == UNTOUCHED_TWO


def test_core_statements_on_tables_are_scoped_or_refused(
    replicates: tuple[str, SimulationContext, SimulationContext],
) -> None:
    target, one, _ = replicates
    table = metadata.tables["agents"]
    one._execute_in_transaction(
        lambda s: s.execute(update(table).where(table.c.agent_id == "agent_x").values(death_time=2))
    )
    one._execute_in_transaction(
        lambda s: s.execute(delete(table).where(table.c.agent_id == "agent_y"))
    )
    assert agents(target) == [("one", "agent_x", 2), *UNTOUCHED_TWO]
    with pytest.raises(UsageError, match="cannot scope"):
        one._execute_in_transaction(lambda s: s.execute(select(table)).all())
    with pytest.raises(UsageError, match="cannot write rows of simulation two"):
        one._execute_in_transaction(lambda s: s.add(AgentModel(simulation_id="two", agent_id="z")))
    with pytest.raises(UsageError, match="cannot write rows of simulation two"):
        one._execute_in_transaction(
            lambda s: s.execute(insert(AgentModel), [{"simulation_id": "two", "agent_id": "z"}])
        )
    with pytest.raises(UsageError, match="cannot write rows of simulation two"):
        one._execute_in_transaction(
            lambda s: s.execute(insert(AgentModel).values(simulation_id="two", agent_id="z"))
        )
    with pytest.raises(UsageError, match="cannot write rows of simulation two"):
        one._execute_in_transaction(
            lambda s: s.execute(insert(table).values([{"simulation_id": "two", "agent_id": "z"}]))
        )
    # Raw SQL stays the caller's to scope (documented): it runs as written.
    assert (
        one._execute_in_transaction(
            lambda s: s.execute(text("SELECT count(*) FROM agents")).scalar()
        )
        == 3
    )


def test_an_attribute_change_updates_only_the_sessions_row(
    replicates: tuple[str, SimulationContext, SimulationContext],
) -> None:
    target, _, two = replicates  # "one" was written first: unscoped, its rows load first

    def kill(session: Any) -> None:
        session.query(AgentModel).filter_by(agent_id="agent_x").one().death_time = 7

    two._execute_in_transaction(kill)
    two._execute_in_transaction(lambda s: s.delete(s.get(AgentModel, "agent_y")))
    assert agents(target) == [
        ("one", "agent_x", None),
        ("one", "agent_y", None),
        ("two", "agent_x", 7),
    ]


@pytest.mark.parametrize("flushed", [False, True], ids=["agent-buffered", "agent-written"])
def test_a_death_and_its_health_incident_are_written_together(
    any_target: str, flushed: bool
) -> None:
    """AgentFarm writes both at once: a crash right after must not keep one without the other."""
    with ExperimentDatabase(any_target, "exp") as database:
        ctx = database.create_simulation_context("sim")
        ctx.log_agent("agent_x", 0, "SystemAgent", (0.0, 0.0), 1.0, 100.0)
        ctx.log_agent_action(step_number=0, agent_id="agent_x", action_type="move")
        if flushed:
            ctx.flush_all_buffers()
        ctx.update_agent_death("agent_x", 4, cause="starvation")
        # Read from another connection while the context is still open and nothing flushed.
        assert agents(any_target) == [("sim", "agent_x", 4)]
        assert rows(
            any_target,
            "SELECT simulation_id, step_number, agent_id, health_before, health_after, cause, "
            "details FROM health_incidents",
        ) == [("sim", 4, "agent_x", 0, 0, "starvation", '{"final_state": "dead"}')]
        ctx.log_health_incident(
            step_number=5, agent_id="agent_x", health_before=0, health_after=0, cause="later"
        )
        ctx.close()
    assert rows(any_target, "SELECT incident_id, cause FROM health_incidents ORDER BY 1") == [
        (1, "starvation"),
        (2, "later"),
    ]


def reference_document(target: str, simulation_id: str) -> dict[str, list[dict[str, Any]]]:
    """Every row export_data writes, read in one go (what the export held in memory before)."""
    engine = central_engine(target)
    try:
        with engine.connect() as conn:
            document = {}
            for kind, name in DATA_TYPES.items():
                table = metadata.tables[name]
                query = select(table).where(table.c.simulation_id == simulation_id)
                query = query.order_by(*table.primary_key.columns)
                document[kind] = [dict(row._mapping) for row in conn.execute(query)]
            return document
    finally:
        engine.dispose()


def test_a_large_export_streams_and_writes_what_it_did_before(
    sqlite_target: Path, tmp_path: Path
) -> None:
    """Memory stays flat (the rows are read in batches) and the files are byte for byte what
    json.dumps / csv.DictWriter of every row at once gave."""
    actions = 30_000
    with ExperimentDatabase(sqlite_target, "exp") as database:
        ctx = database.create_simulation_context("sim")
        ctx.save_configuration({"seed": 3})
        for n in range(actions):
            ctx.log_agent_action(
                step_number=n // 100, agent_id=f"agent_{n % 100}", action_type="move", reward=n / 7
            )
        ctx.log_step(0, [("agent_0", 0, 0, 1, 90, 100, 0, False, 0.0, 0)], [], {"births": 1})
        ctx.flush_all_buffers()
        expected = reference_document(str(sqlite_target), "sim")
        ctx.export_data(tmp_path / "warm.csv", format="csv", data_types=["metrics"])
        tracemalloc.start()
        try:
            ctx.export_data(tmp_path / "big.json", format="json")
            ctx.export_data(tmp_path / "big.csv", format="csv")
            _, peak = tracemalloc.get_traced_memory()
        finally:
            tracemalloc.stop()
    # Every row in memory at once took well over 30 MB here; a batch takes a few.
    assert peak < 12_000_000, peak
    written = json.loads((tmp_path / "big.json").read_text(encoding="utf-8"))
    assert len(written["actions"]) == actions
    document: dict[str, Any] = {**expected, "metadata": written["metadata"]}
    assert (tmp_path / "big.json").read_text(encoding="utf-8") == json.dumps(
        document, indent=2, default=str
    )
    for kind, records in expected.items():
        buffer = io.StringIO(newline="")
        table = metadata.tables[DATA_TYPES[kind]]
        writer = csv.DictWriter(buffer, fieldnames=list(table.c.keys()))
        writer.writeheader()
        writer.writerows(records)
        with (tmp_path / f"big_{kind}.csv").open(encoding="utf-8", newline="") as handle:
            assert handle.read() == buffer.getvalue()
