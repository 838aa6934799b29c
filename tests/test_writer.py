"""The writer's AgentFarm-compatible behaviour, on real SQLite files and PostgreSQL databases."""

from __future__ import annotations

import dataclasses
import json
import sqlite3
import types
from collections.abc import Iterator
from contextlib import closing
from datetime import UTC, datetime
from pathlib import Path

import pytest

from consolidate import verify
from consolidate.errors import TargetError, UsageError
from consolidate.schema import migrations
from consolidate.writer import DataLoggingConfig, ExperimentDatabase, ExperimentDataLogger
from consolidate.writer import logger as logger_module
from tests.test_writer_support import count, count_transactions, query, state


@pytest.fixture
def database(sqlite_target: Path) -> Iterator[ExperimentDatabase]:
    db = ExperimentDatabase(sqlite_target, "exp")
    yield db
    db.close()


def test_a_run_round_trips_on_each_backend(any_target: str) -> None:
    with ExperimentDatabase(any_target, "exp_1") as db:
        ctx = db.create_simulation_context("sim_a", parameters={"seed": 7, "agents": 2})
        ctx.log_agent("agent_1", 0, "system", (1.5, 2.5), 10.0, 100.0, action_weights={"move": 1})
        ctx.log_agent("agent_2", 0, "control", (3.0, 4.0), 5.0, 80.0, genome_id="g", generation=1)
        ctx.log_resource("resource_1", 50.0, (7.0, 8.0))
        for step in range(3):
            states = [state("agent_1", step), state("agent_2", step)]
            ctx.log_step(step, states, [("resource_1", 50.0 - step, 7.0, 8.0)], {"births": 0})
            ctx.log_agent_action(step_number=step, agent_id="agent_1", action_type="move")
        ctx.log_health_incident(
            step_number=2, agent_id="agent_2", health_before=80, health_after=0, cause="combat"
        )
        db.update_simulation_status("sim_a", "completed", {"total_steps": 3})
        assert db.get_simulation_ids() == ["sim_a"]

    assert count(any_target, "agents") == 2
    assert count(any_target, "agent_states") == 6
    assert count(any_target, "resource_states") == 4  # log_resource's step-0 row + 3 steps
    assert count(any_target, "simulation_steps") == 3
    assert count(any_target, "agent_actions") == 3
    assert count(any_target, "health_incidents") == 1
    ((origin, status, start, end, parameters, summary, experiment),) = query(
        any_target,
        "SELECT origin, status, start_time, end_time, parameters, results_summary, experiment_id"
        " FROM simulations",
    )
    assert (origin, status, experiment) == ("writer", "completed", "exp_1")
    assert datetime.fromisoformat(start) <= datetime.fromisoformat(end)
    assert json.loads(parameters) == {"seed": 7, "agents": 2}
    assert json.loads(summary) == {"total_steps": 3}
    weights = query(any_target, "SELECT action_weights FROM agents WHERE agent_id = 'agent_1'")
    assert json.loads(weights[0][0]) == {"move": 1.0}
    report = verify(any_target)
    assert report.ok, [str(m) for m in report.mismatches]


def test_an_empty_simulation_id_is_refused(database: ExperimentDatabase) -> None:
    with pytest.raises(ValueError, match="simulation_id"):
        database.create_simulation_context("")
    with pytest.raises(ValueError, match="simulation_id"):
        ExperimentDataLogger(database.engine, None)  # type: ignore[arg-type]
    assert database.get_simulation_ids() == []


def test_logging_config_has_agentfarms_defaults_and_is_frozen() -> None:
    config = DataLoggingConfig()
    assert (config.buffer_size, config.commit_interval) == (1000, 30)
    with pytest.raises(dataclasses.FrozenInstanceError):
        config.buffer_size = 5  # type: ignore[misc]
    with pytest.raises(ValueError, match="buffer_size"):
        DataLoggingConfig(buffer_size=0)
    with pytest.raises(ValueError, match="commit_interval"):
        DataLoggingConfig(commit_interval=-1)


def test_buffers_flush_when_one_reaches_buffer_size_exactly(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    ctx = database.create_simulation_context("sim", logging_config=DataLoggingConfig(3, 3600))
    for step in range(2):
        ctx.log_agent_action(step_number=step, agent_id="a", action_type="move")
    assert ctx.needs_flush
    assert count(str(sqlite_target), "agent_actions") == 0
    ctx.log_agent_action(step_number=2, agent_id="a", action_type="move")
    assert not ctx.needs_flush
    assert count(str(sqlite_target), "agent_actions") == 3


def test_flushing_nothing_never_touches_the_database(database: ExperimentDatabase) -> None:
    ctx = database.create_simulation_context("sim", logging_config=DataLoggingConfig(10, 0))
    begun = count_transactions(database.engine)
    assert not ctx.needs_flush
    ctx.flush_all_buffers()
    ctx.flush_if_needed()
    assert begun == []
    ctx.log_health_incident(
        step_number=0, agent_id="a", health_before=1.0, health_after=0.5, cause="starvation"
    )
    assert ctx.needs_flush
    ctx.flush_all_buffers()
    assert len(begun) == 1 and not ctx.needs_flush


def test_flush_if_needed_waits_for_the_commit_interval(
    database: ExperimentDatabase, sqlite_target: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    now = [1000.0]
    clock = types.SimpleNamespace(monotonic=lambda: now[0])
    monkeypatch.setattr(logger_module, "time", clock)
    ctx = database.create_simulation_context("sim", logging_config=DataLoggingConfig(100, 10))
    ctx.log_agent_action(step_number=0, agent_id="a", action_type="eat")
    now[0] += 9.9
    ctx.flush_if_needed()
    assert ctx.needs_flush and count(str(sqlite_target), "agent_actions") == 0
    now[0] += 0.1
    ctx.flush_if_needed()
    assert not ctx.needs_flush and count(str(sqlite_target), "agent_actions") == 1
    # log_step checks the interval too, counted from the last commit
    ctx.log_step(1, [], [], {})
    assert ctx.needs_flush
    now[0] += 10
    ctx.log_step(2, [], [], {})
    assert not ctx.needs_flush and count(str(sqlite_target), "simulation_steps") == 2


def test_commit_interval_zero_commits_every_step(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    ctx = database.create_simulation_context("sim", logging_config=DataLoggingConfig(1000, 0))
    ctx.log_step(0, [state("a", 0)], [], {"total_agents": 1})
    assert count(str(sqlite_target), "agent_states") == 1


def test_negative_steps_are_refused(database: ExperimentDatabase) -> None:
    ctx = database.create_simulation_context("sim")
    with pytest.raises(ValueError, match="non-negative"):
        ctx.log_agent_action(step_number=-1, agent_id="a", action_type="move")
    with pytest.raises(ValueError, match="non-negative"):
        ctx.log_step(-1, [], [], {})
    with pytest.raises(ValueError, match="non-negative"):
        ctx.log_health_incident(
            step_number=-1, agent_id="a", health_before=1, health_after=0, cause="x"
        )
    assert not ctx.needs_flush


def test_context_methods_take_keywords_only_like_agentfarms(database: ExperimentDatabase) -> None:
    ctx = database.create_simulation_context("sim")
    with pytest.raises(TypeError):
        ctx.log_agent_action(0, "a", "move")  # type: ignore[misc]
    ctx.logger.log_agent_action(0, "a", "move")  # the logger takes them positionally
    assert ctx.logger.pending_rows == {"agent_actions": 1}


def test_a_step_with_empty_lists_writes_its_step_row(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    ctx = database.create_simulation_context("sim")
    ctx.log_step(step_number=1, agent_states=[], resource_states=[], metrics={"total_agents": 0})
    ctx.logger.flush_all_buffers()
    assert query(str(sqlite_target), "SELECT step_number, total_agents FROM simulation_steps") == [
        (1, 0)
    ]
    assert count(str(sqlite_target), "agent_states") == 0


def test_log_agents_batch(database: ExperimentDatabase, sqlite_target: Path) -> None:
    ctx = database.create_simulation_context("sim")
    ctx.log_agents_batch([])
    assert not ctx.needs_flush
    agent = {
        "agent_id": "a1",
        "birth_time": 3,
        "agent_type": "independent",
        "position": (1.0, 2.0),
        "initial_resources": 5.0,
        "starting_health": 50.0,
    }
    with pytest.raises(ValueError, match="starting_health"):
        ctx.log_agents_batch(
            [
                {**agent, "agent_id": "a0"},
                {k: v for k, v in agent.items() if k != "starting_health"},
            ]
        )
    assert not ctx.needs_flush  # nothing of a bad batch is buffered
    ctx.log_agents_batch([agent, {**agent, "agent_id": "a2", "simulation_id": "elsewhere"}])
    ctx.flush_all_buffers()
    rows = query(str(sqlite_target), "SELECT simulation_id, agent_id, generation FROM agents")
    assert sorted(rows) == [("sim", "a1", 0), ("sim", "a2", 0)]


def test_an_unknown_metric_is_named(database: ExperimentDatabase) -> None:
    ctx = database.create_simulation_context("sim")
    with pytest.raises(ValueError, match="'total_agent'"):
        ctx.log_step(0, [state("a", 0)], [], {"total_agent": 1, "births": 0})
    assert not ctx.needs_flush


def test_agent_states_and_their_ids(database: ExperimentDatabase, sqlite_target: Path) -> None:
    ctx = database.create_simulation_context("sim")
    with pytest.raises(ValueError, match="10 fields"):
        ctx.log_step(0, [("a", 1.0, 2.0)], [], {})
    with pytest.raises(ValueError, match="4 fields"):
        ctx.log_step(0, [], [("r", 1.0)], {})
    ctx.log_step(4, [("a", 1.0, 2.0, 3.0, 4.0, 5.0, 6, True, 7.0, 8)], [], {})
    ctx.flush_all_buffers()
    assert query(
        str(sqlite_target),
        "SELECT id, step_number, agent_id, position_x, position_y, resource_level, "
        "current_health, starting_health, starvation_counter, is_defending, total_reward, age "
        "FROM agent_states",
    ) == [("sim:a-4", 4, "a", 1.0, 2.0, 3.0, 4.0, 5.0, 6, 1, 7.0, 8)]


def test_action_details_merge_action_taken(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    ctx = database.create_simulation_context("sim")
    details = {"target": "food"}
    ctx.log_agent_action(
        step_number=1,
        agent_id="a",
        action_type="gather",
        action_target_id="r1",
        reward=0.25,
        details=details,
        module_type="dqn",
        module_id=12,
        action_taken=3,
        action_taken_mapped="gather",
    )
    ctx.log_agent_action(step_number=2, agent_id="a", action_type="rest")
    ctx.flush_all_buffers()
    assert details == {"target": "food"}  # the caller's dict is theirs
    rows = query(
        str(sqlite_target),
        "SELECT action_id, details, module_type, module_id FROM agent_actions ORDER BY action_id",
    )
    assert json.loads(rows[0][1]) == {
        "target": "food",
        "action_taken": 3,
        "action_taken_mapped": "gather",
    }
    assert rows[0][2:] == ("dqn", "12")
    assert rows[1] == (2, None, None, None)


def test_type_counts_are_filled_both_ways_as_merge_does(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    ctx = database.create_simulation_context("sim")
    ctx.log_step(0, [], [], {"agent_type_counts": {"system": 2, "independent": 1, "control": 0}})
    ctx.log_step(1, [], [], {"system_agents": 4, "independent_agents": 5, "control_agents": 6})
    ctx.flush_all_buffers()
    rows = query(
        str(sqlite_target),
        "SELECT agent_type_counts, system_agents, independent_agents, control_agents "
        "FROM simulation_steps ORDER BY step_number",
    )
    assert rows[0] == ('{"system": 2, "independent": 1, "control": 0}', 2, 1, 0)
    assert rows[1] == ('{"system":4,"independent":5,"control":6}', 4, 5, 6)


def test_resuming_a_failed_simulation_appends_with_new_keys(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    with database.create_simulation_context("sim", {"round": 1}) as ctx:
        ctx.log_agent_action(step_number=0, agent_id="a", action_type="move")
        ctx.log_step(0, [], [("r", 1.0, 0.0, 0.0)], {})
        ctx.update_status("failed")
    with pytest.raises(UsageError, match=r"simulation sim is failed.*resume=True.*replace=True"):
        database.create_simulation_context("sim")
    ctx = database.create_simulation_context("sim", {"round": 2}, resume=True)
    assert query(str(sqlite_target), "SELECT status, end_time, parameters FROM simulations") == [
        ("running", None, '{"round": 2}')
    ]
    ctx.log_agent_action(step_number=1, agent_id="a", action_type="move")
    ctx.log_resource("r2", 2.0, (0.0, 0.0))
    ctx.close()
    ids = query(str(sqlite_target), "SELECT action_id FROM agent_actions ORDER BY action_id")
    assert ids == [(1,), (2,)]
    assert query(str(sqlite_target), "SELECT id FROM resource_states ORDER BY id") == [(1,), (2,)]


def test_a_running_simulation_is_not_reopened_by_another_writer(sqlite_target: Path) -> None:
    first = ExperimentDatabase(sqlite_target, "exp")
    first.create_simulation_context("sim").log_agent_action(
        step_number=0, agent_id="a", action_type="move"
    )
    second = ExperimentDatabase(sqlite_target, "exp")
    with pytest.raises(UsageError, match="is running"):
        second.create_simulation_context("sim")
    first.close()
    second.create_simulation_context("sim", resume=True).log_agent_action(
        step_number=1, agent_id="a", action_type="move"
    )
    second.close()
    assert query(str(sqlite_target), "SELECT action_id, step_number FROM agent_actions") == [
        (1, 0),
        (2, 1),
    ]


def test_one_open_context_per_simulation(database: ExperimentDatabase) -> None:
    database.create_simulation_context("sim")
    with pytest.raises(UsageError, match="already has an open context"):
        database.create_simulation_context("sim")


def test_a_simulation_of_another_experiment_is_refused(sqlite_target: Path) -> None:
    with ExperimentDatabase(sqlite_target, "first") as first:
        first.create_simulation_context("sim")
    with ExperimentDatabase(sqlite_target, "second") as second:
        with pytest.raises(UsageError, match="belongs to experiment first"):
            second.create_simulation_context("sim")
        assert second.get_simulation_ids() == []


def test_a_merged_simulation_is_never_written_to(tmp_path: Path) -> None:
    from consolidate import merge
    from tests.helpers import LEGACY_FIXTURES

    target = tmp_path / "experiment.db"
    report = merge([str(LEGACY_FIXTURES[0])], str(target), experiment_id="exp")
    (merged,) = [s.simulation_id for s in report.sources]
    assert merged is not None
    with ExperimentDatabase(target, "exp") as db:
        for resume in (False, True):
            with pytest.raises(UsageError, match="merged from a legacy file; pass replace=True"):
                db.create_simulation_context(merged, resume=resume)
        db.create_simulation_context("new_run").log_step(0, [], [], {})
    report = verify(str(target))
    assert report.ok, [str(m) for m in report.mismatches]


def test_statuses_of_unknown_simulations_are_refused(database: ExperimentDatabase) -> None:
    with pytest.raises(UsageError, match="no simulation ghost"):
        database.update_simulation_status("ghost", "completed")


def test_a_closed_context_refuses_rows(database: ExperimentDatabase) -> None:
    ctx = database.create_simulation_context("sim")
    ctx.close()
    with pytest.raises(UsageError, match="closed"):
        ctx.log_step(0, [], [], {})
    assert database.open_simulations == {}


def test_an_empty_file_is_created_and_a_foreign_one_refused(tmp_path: Path) -> None:
    foreign = tmp_path / "foreign.db"
    with closing(sqlite3.connect(foreign)) as conn, conn:
        conn.execute("CREATE TABLE notes (x)")
    with pytest.raises(TargetError, match="not a consolidate experiment database"):
        ExperimentDatabase(foreign, "exp")
    empty = tmp_path / "empty.db"
    empty.touch()
    with ExperimentDatabase(empty, "exp") as db:
        assert db.get_simulation_ids() == []
    assert query(str(empty), "SELECT version_num FROM alembic_version") == [(migrations.HEAD,)]


def test_experiment_rows_hold_status_and_utc_times(database: ExperimentDatabase) -> None:
    database.update_experiment_status("analyzing", {"note": "done"})
    engine_rows = query(
        str(database.location), "SELECT status, results_summary, creation_date FROM experiments"
    )
    ((status, summary, created),) = engine_rows
    assert (status, json.loads(summary)) == ("analyzing", {"note": "done"})
    assert created.startswith(str(datetime.now(UTC).year))
