"""Each weakness of AgentFarm's writer (research/agentfarm-api.md §3), shown fixed."""

from __future__ import annotations

import json
import logging
import sqlite3
from collections.abc import Iterator
from contextlib import closing
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy.exc import DBAPIError, IntegrityError

from consolidate import verify
from consolidate.errors import UsageError
from consolidate.writer import DataLoggingConfig, ExperimentDatabase, ExperimentManager
from tests.test_writer_support import count, count_transactions, query, state

AGENTS = [f"agent_{n}" for n in range(5)]


@pytest.fixture
def database(sqlite_target: Path) -> Iterator[ExperimentDatabase]:
    db = ExperimentDatabase(sqlite_target, "exp")
    yield db
    db.close()


def write_replicate(db: ExperimentDatabase, simulation_id: str, steps: int = 3) -> None:
    """A seeded replicate: the same agent ids in every run, as AgentFarm's seeded ids are."""
    with db.create_simulation_context(simulation_id, {"seed": 42}) as ctx:
        for agent in AGENTS:
            ctx.log_agent(agent, 0, "system", (0.0, 0.0), 5.0, 100.0)
        for step in range(steps):
            ctx.log_step(step, [state(a, step) for a in AGENTS], [], {"total_agents": 5})
            for agent in AGENTS:
                ctx.log_agent_action(step_number=step, agent_id=agent, action_type="move")


def test_replicates_with_the_same_agent_ids_do_not_collide(any_target: str) -> None:
    """§3.1: agents.agent_id was the whole primary key."""
    with ExperimentDatabase(any_target, "exp") as db:
        write_replicate(db, "replicate_1")
        write_replicate(db, "replicate_2")
    for sim in ("replicate_1", "replicate_2"):
        assert count(any_target, "agents", sim) == 5
        assert count(any_target, "agent_states", sim) == 15
        assert count(any_target, "agent_actions", sim) == 15
    report = verify(any_target)
    assert report.ok, [str(m) for m in report.mismatches]


def test_a_failed_flush_keeps_every_row_for_the_next_one(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    """§3.8: flush_all_buffers cleared each buffer before the commit; §3.9: no blind retries."""
    ctx = database.create_simulation_context("sim", logging_config=DataLoggingConfig(100, 3600))
    ctx.log_agent_action(step_number=0, agent_id="a", action_type="move")
    ctx.log_agent_action(step_number=1, agent_id="a", action_type="eat")
    ctx.log_health_incident(
        step_number=1, agent_id="a", health_before=1.0, health_after=0.5, cause="starvation"
    )
    # Someone else's row takes the key the health incident will need: the flush must fail on
    # its last buffer, after the actions were inserted.
    with closing(sqlite3.connect(sqlite_target)) as other, other:
        other.execute("INSERT INTO health_incidents (simulation_id, incident_id) VALUES ('sim', 1)")
    begun = count_transactions(database.engine)
    with pytest.raises(IntegrityError):
        ctx.flush_all_buffers()
    assert len(begun) == 1  # an integrity error is not retried
    assert ctx.logger.pending_rows == {"agent_actions": 2, "health_incidents": 1}
    assert count(str(sqlite_target), "agent_actions") == 0  # rolled back as a whole

    with closing(sqlite3.connect(sqlite_target)) as other, other:
        other.execute("DELETE FROM health_incidents")
    ctx.flush_all_buffers()
    assert not ctx.needs_flush
    assert query(
        str(sqlite_target), "SELECT action_id, action_type FROM agent_actions ORDER BY action_id"
    ) == [(1, "move"), (2, "eat")]
    assert query(str(sqlite_target), "SELECT incident_id, cause FROM health_incidents") == [
        (1, "starvation")
    ]


def test_a_bad_row_can_be_dropped_and_the_good_ones_still_arrive_once(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    """§3.8 again, with a value the driver cannot store, fixed with discard_pending_agents."""
    ctx = database.create_simulation_context("sim", logging_config=DataLoggingConfig(100, 3600))
    for step in range(3):
        ctx.log_agent_action(step_number=step, agent_id="good", action_type="move")
    ctx.log_health_incident(
        step_number=2, agent_id="bad", health_before=object(), health_after=0.0, cause="x"
    )
    with pytest.raises(DBAPIError):
        ctx.flush_all_buffers()
    assert ctx.logger.pending_rows == {"agent_actions": 3, "health_incidents": 1}
    assert ctx.discard_pending_agents(["bad"]) == 1
    ctx.flush_all_buffers()
    ctx.flush_all_buffers()  # nothing left: nothing written twice
    assert query(str(sqlite_target), "SELECT agent_id, count(*) FROM agent_actions GROUP BY 1") == [
        ("good", 3)
    ]
    assert count(str(sqlite_target), "health_incidents") == 0


def test_close_flushes_every_open_context(sqlite_target: Path) -> None:
    """§3.10: closing the database dropped what its contexts still buffered."""
    db = ExperimentDatabase(sqlite_target, "exp")
    first = db.create_simulation_context("one")
    second = db.create_simulation_context("two")
    first.log_step(0, [state("a", 0)], [], {})
    second.log_agent_action(step_number=0, agent_id="a", action_type="move")
    db.close()
    assert count(str(sqlite_target), "agent_states", "one") == 1
    assert count(str(sqlite_target), "agent_actions", "two") == 1
    assert first.closed and second.closed and db.closed


def test_a_context_that_raises_marks_its_simulation_failed(database: ExperimentDatabase) -> None:
    """§3.17: no end_time for failed runs; no context managers at all."""
    with pytest.raises(RuntimeError, match="agents exploded"):
        with database.create_simulation_context("sim") as ctx:
            ctx.log_step(0, [state("a", 0)], [], {})
            raise RuntimeError("agents exploded")
    ((status, end, summary),) = query(
        database.location, "SELECT status, end_time, results_summary FROM simulations"
    )
    assert status == "failed" and end is not None
    assert json.loads(summary) == {"error_type": "RuntimeError", "error_message": "agents exploded"}
    assert count(database.location, "agent_states") == 1  # logged before the error: kept


def test_a_clean_exit_completes_unless_a_status_was_set(database: ExperimentDatabase) -> None:
    with database.create_simulation_context("plain") as ctx:
        ctx.log_step(0, [], [], {})
    with database.create_simulation_context("explicit") as ctx:
        database.update_simulation_status("explicit", "interrupted", {"reason": "ctrl-c"})
    rows = query(database.location, "SELECT simulation_id, status, end_time FROM simulations")
    statuses = {sim: status for sim, status, _ in rows}
    assert statuses == {"plain": "completed", "explicit": "interrupted"}
    assert all(end is not None for _, _, end in rows)


def test_a_database_that_raises_fails_its_simulations_and_experiment(sqlite_target: Path) -> None:
    with pytest.raises(KeyError):
        with ExperimentDatabase(sqlite_target, "exp") as db:
            db.create_simulation_context("done").close()
            db.update_simulation_status("done", "completed")
            db.create_simulation_context("open").log_step(0, [], [], {})
            raise KeyError("boom")
    target = str(sqlite_target)
    assert dict(query(target, "SELECT simulation_id, status FROM simulations")) == {
        "done": "completed",
        "open": "failed",
    }
    assert query(target, "SELECT status FROM experiments") == [("failed",)]
    assert count(target, "simulation_steps", "open") == 1


def test_a_database_that_exits_cleanly_leaves_the_experiment_to_others(
    sqlite_target: Path,
) -> None:
    with ExperimentDatabase(sqlite_target, "exp") as db:
        db.create_simulation_context("sim")
    target = str(sqlite_target)
    assert query(target, "SELECT status FROM simulations") == [("completed",)]
    assert query(target, "SELECT status FROM experiments") == [("running",)]


def test_no_placeholder_experiment_simulation_exists(database: ExperimentDatabase) -> None:
    """§3.11: the database's own logger wrote rows for a simulation that never existed."""
    assert database.simulation_id is None
    with pytest.raises(UsageError, match="create_simulation_context"):
        database.logger.log_step(0, [], [], {})
    write_replicate(database, "sim")
    database.update_experiment_status("completed")
    assert query(database.location, "SELECT simulation_id FROM simulations") == [("sim",)]


def test_removed_log_methods_still_write_with_a_warning(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    """§3.12: log_learning_experience raised AttributeError."""
    ctx = database.create_simulation_context("sim")
    with pytest.warns(DeprecationWarning, match="log_learning_experience") as caught:
        ctx.log_learning_experience(3, "a", "dqn", 1, 2, "move", 0.5)
    assert caught[0].filename == __file__  # the warning points at the caller
    with pytest.warns(DeprecationWarning, match="log_reproduction_event"):
        ctx.logger.log_reproduction_event(4, "a", "b", True, 10.0, 5.0, 5.0, None, 0, 1, (1, 2))
    with pytest.warns(DeprecationWarning, match="log_interaction_edge"):
        ctx.log_interaction_edge(5, "agent", "a", "resource", "r", "gather", details={"n": 1})
    ctx.close()
    target = str(sqlite_target)
    assert query(
        target, "SELECT experience_id, step_number, module_id, reward FROM learning_experiences"
    ) == [(1, 3, "1", 0.5)]
    assert query(
        target,
        "SELECT parent_id, offspring_id, success, parent_position_y FROM reproduction_events",
    ) == [("a", "b", 1, 2.0)]
    assert query(target, "SELECT source_id, target_id, details FROM interactions") == [
        ("a", "r", '{"n": 1}')
    ]
    assert verify(target).ok


def test_metrics_are_never_mutated(database: ExperimentDatabase, sqlite_target: Path) -> None:
    """§3.13: log_step added resources_consumed to the caller's dict."""
    ctx = database.create_simulation_context("sim")
    metrics = {"total_agents": 3}
    ctx.log_step(0, [], [], metrics)
    ctx.log_step(0, [], [], metrics)  # again: a replacement, same rule
    assert metrics == {"total_agents": 3}
    ctx.flush_all_buffers()
    assert query(
        str(sqlite_target), "SELECT total_agents, resources_consumed FROM simulation_steps"
    ) == [(3, 0.0)]


def test_logging_a_state_twice_keeps_the_last_across_flushes(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    """§3.14: the same (simulation, agent, step) twice raised IntegrityError."""
    ctx = database.create_simulation_context("sim")
    ctx.log_step(0, [state("a", 0, reward=1.0), state("a", 0, reward=2.0)], [], {"births": 1})
    ctx.flush_all_buffers()
    ctx.log_step(0, [state("a", 0, reward=3.0)], [], {"births": 2})
    ctx.log_agent("a", 0, "system", (0, 0), 1.0, 1.0)
    ctx.log_agent("a", 0, "control", (0, 0), 1.0, 1.0)
    ctx.close()
    target = str(sqlite_target)
    assert query(target, "SELECT total_reward FROM agent_states") == [(3.0,)]
    assert query(target, "SELECT births FROM simulation_steps") == [(2,)]
    assert query(target, "SELECT agent_type FROM agents") == [("control",)]


def test_events_of_agents_never_logged_are_kept(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    """§3.16: an action of an unlogged agent failed the whole batch on its foreign key."""
    ctx = database.create_simulation_context("sim")
    ctx.log_agent("known", 0, "system", (0, 0), 1.0, 1.0)
    ctx.log_agent_action(step_number=0, agent_id="known", action_type="move")
    ctx.log_agent_action(step_number=0, agent_id="never_logged", action_type="move")
    ctx.close()
    assert count(str(sqlite_target), "agent_actions") == 2


def test_times_are_utc_iso_text(database: ExperimentDatabase) -> None:
    """§3.18: end times were naive local time, start times sometimes UTC."""
    with database.create_simulation_context("sim"):
        pass
    ((start, end),) = query(database.location, "SELECT start_time, end_time FROM simulations")
    for moment in (start, end):
        parsed = datetime.fromisoformat(moment)
        assert parsed.utcoffset() == timedelta(0), moment
        assert "T" in moment


def test_manager_keeps_name_and_description_and_fails_open_runs(tmp_path: Path) -> None:
    """§3.19: name/description lived in results_summary, overwritten by a failure; open runs
    stayed running."""
    target = tmp_path / "exp.db"
    with pytest.raises(ZeroDivisionError):
        with ExperimentManager("exp", target, name="Sweep", description="sizes") as manager:
            manager.create_simulation("finished").log_step(0, [], [], {})
            manager.complete_simulation("finished", {"steps": 1})
            manager.create_simulation("running_one").log_step(0, [], [], {})
            1 / 0  # noqa: B018
    rows = query(str(target), "SELECT name, description, status, results_summary FROM experiments")
    ((name, description, status, summary),) = rows
    assert (name, description, status) == ("Sweep", "sizes", "failed")
    assert json.loads(summary)["error_type"] == "ZeroDivisionError"
    sims = query(str(target), "SELECT simulation_id, status, end_time FROM simulations")
    assert {(s, st) for s, st, _ in sims} == {("finished", "completed"), ("running_one", "failed")}
    assert all(end is not None for *_, end in sims)


def test_cleanup_failures_do_not_hide_the_original_error(
    database: ExperimentDatabase, sqlite_target: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The error the caller sees is theirs, even when the last flush fails too."""
    ctx = database.create_simulation_context("sim")
    ctx.log_health_incident(
        step_number=0, agent_id="a", health_before=object(), health_after=0, cause="x"
    )
    with caplog.at_level(logging.ERROR), pytest.raises(LookupError, match="original"):
        with ctx:
            raise LookupError("original")
    assert "rows not written" in caplog.text
    assert query(str(sqlite_target), "SELECT status FROM simulations") == [("failed",)]


def test_a_clean_exit_whose_flush_fails_marks_the_run_failed(
    database: ExperimentDatabase, sqlite_target: Path
) -> None:
    ctx = database.create_simulation_context("sim")
    ctx.log_health_incident(
        step_number=0, agent_id="a", health_before=object(), health_after=0, cause="x"
    )
    with pytest.raises(DBAPIError) as raised:
        with ctx:
            pass
    ((status, summary),) = query(
        str(sqlite_target), "SELECT status, results_summary FROM simulations"
    )
    assert status == "failed"
    assert json.loads(summary)["error_type"] == type(raised.value).__name__
    assert ctx.closed


def test_close_inside_the_with_block_still_completes_the_run(tmp_path: Path) -> None:
    target = tmp_path / "closed.db"
    with ExperimentDatabase(target, "exp") as db:
        with db.create_simulation_context("s1") as ctx:
            ctx.log_step(0, [], [], {"total_agents": 0})
            ctx.close()  # AgentFarm scripts close their context themselves
        with sqlite3.connect(target) as conn:
            status, end = conn.execute(
                "SELECT status, end_time FROM simulations WHERE simulation_id = 's1'"
            ).fetchone()
    assert status == "completed" and end is not None


def test_agent_type_counts_as_json_text_fill_the_per_type_columns(tmp_path: Path) -> None:
    target = tmp_path / "counts.db"
    with ExperimentDatabase(target, "exp") as db, db.create_simulation_context("s1") as ctx:
        ctx.log_step(1, [], [], {"agent_type_counts": '{"system": 2, "independent": 1}'})
    with sqlite3.connect(target) as conn:
        row = conn.execute(
            "SELECT agent_type_counts, system_agents, independent_agents, "
            "control_agents FROM simulation_steps"
        ).fetchone()
    assert row == ('{"system": 2, "independent": 1}', 2, 1, None)


def test_memory_target_is_refused_instead_of_creating_a_file(tmp_path: Path) -> None:
    monkeypatch_dir = tmp_path
    with pytest.MonkeyPatch.context() as patch:
        patch.chdir(monkeypatch_dir)
        with pytest.raises(UsageError, match="memory"):
            ExperimentDatabase(":memory:", "exp")
    assert list(tmp_path.iterdir()) == []
