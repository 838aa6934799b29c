"""AgentFarm's simulation code on the experiment database: its calls, played without AgentFarm."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text

from consolidate import DatabaseFactory, ExperimentDatabase, ExperimentQueryTool, verify
from consolidate.errors import UsageError
from consolidate.schema.targets import central_engine, describe, target_url
from tests import agentfarm_driver
from tests.agentfarm_driver import AgentModel, DrivenRun


def rows(target: str, sql: str, **params: Any) -> list[tuple[Any, ...]]:
    engine = central_engine(target)
    try:
        with engine.connect() as conn:
            return [tuple(r) for r in conn.execute(text(sql), params)]
    finally:
        engine.dispose()


@pytest.fixture
def experiment_mode(monkeypatch: pytest.MonkeyPatch, any_target: str) -> str:
    monkeypatch.setenv("USE_EXPERIMENT_DB", "1")
    monkeypatch.setenv("EXPERIMENT_DB_PATH", any_target)
    monkeypatch.setenv("EXPERIMENT_ID", "exp")
    return any_target


def check_stored_as_agentfarm_would(target: str, done: DrivenRun) -> None:
    sim = done.simulation_id
    agents = rows(
        target,
        "SELECT agent_id, birth_time, death_time, agent_type, position_x, position_y, "
        "initial_resources, starting_health, genome_id, generation, action_weights "
        "FROM agents WHERE simulation_id = :s ORDER BY agent_id",
        s=sim,
    )
    expected = []
    for agent_id in sorted(done.agents):
        a = done.agents[agent_id]
        expected.append(
            (
                agent_id,
                0,
                done.deaths.get(agent_id),
                a["agent_type"],
                a["position"][0],
                a["position"][1],
                5.0,
                100.0,
                a["genome_id"],
                0,
                json.dumps(a["action_weights"]),
            )
        )
    assert agents == expected  # the rolled-back offspring is gone, the death time is there
    deaths = rows(
        target,
        "SELECT step_number, agent_id, health_before, health_after, cause, details "
        "FROM health_incidents WHERE simulation_id = :s",
        s=sim,
    )
    assert deaths == [
        (step, agent, 0.0, 0.0, "starvation", '{"final_state": "dead"}')
        for agent, step in done.deaths.items()
    ]
    actions = rows(
        target,
        "SELECT step_number, agent_id, action_type, reward, details, module_type, module_id "
        "FROM agent_actions WHERE simulation_id = :s ORDER BY action_id",
        s=sim,
    )
    details = '{"action_taken": 2, "action_taken_mapped": "gather"}'
    assert actions == [(*a, details, "dqn", "1") for a in done.actions]
    counts = {
        table: rows(target, f"SELECT COUNT(*) FROM {table} WHERE simulation_id = :s", s=sim)[0][0]
        for table in ("agent_states", "resource_states", "simulation_steps", "simulation_config")
    }
    assert counts == {
        "agent_states": done.states,
        "resource_states": done.resources,
        "simulation_steps": done.steps,
        "simulation_config": 1,
    }
    state_ids = rows(target, "SELECT id FROM agent_states WHERE simulation_id = :s", s=sim)
    assert all(i.startswith(f"{sim}:agent_") for (i,) in state_ids)  # AgentFarm's id form
    config_sql = "SELECT timestamp, config_data FROM simulation_config WHERE simulation_id = :s"
    (config,) = rows(target, config_sql, s=sim)
    assert isinstance(config[0], int) and json.loads(config[1]) == done.config
    (record,) = rows(
        target,
        "SELECT status, end_time, parameters, results_summary, experiment_id FROM simulations "
        "WHERE simulation_id = :s",
        s=sim,
    )
    assert record[0] == "completed" and record[1] is not None
    assert json.loads(record[2]) == done.config
    assert json.loads(record[3]) == done.results_summary
    assert record[4] == "exp"


def test_two_seeded_replicates_land_side_by_side_as_agentfarm_stores_them(
    experiment_mode: str,
) -> None:
    first = agentfarm_driver.run(DatabaseFactory, "runs/simulation_a.db", "rep_a", seed=7)
    second = agentfarm_driver.run(DatabaseFactory(), "runs/simulation_b.db", "rep_b", seed=7)
    assert first.genome_ids_seen == [] and second.genome_ids_seen == []
    assert set(first.agents) == set(second.agents)  # the same seeded agent ids
    for done in (first, second):
        check_stored_as_agentfarm_would(experiment_mode, done)
    assert not Path("runs").exists()  # experiment mode ignores the per-run path
    report = verify(experiment_mode)
    assert report.ok, [str(m) for m in report.mismatches]


def test_setup_db_without_experiment_mode_writes_the_run_at_its_path(tmp_path: Path) -> None:
    path = tmp_path / "run" / "simulation_sim_1.db"
    path.parent.mkdir()
    done = agentfarm_driver.run(DatabaseFactory, str(path), "sim_1", seed=3)
    (record,) = rows(str(path), "SELECT experiment_id, simulation_id, status FROM simulations")
    assert record == ("simulation_sim_1", "sim_1", "completed")
    assert len(done.deaths) == 1
    assert verify(str(path)).ok


def test_the_context_has_agentfarms_members_and_buffering_from_its_config(
    experiment_mode: str,
) -> None:
    config = agentfarm_driver.config_dict(1, buffer_size=2)
    db = DatabaseFactory.setup_db("ignored.db", "sim", config)
    assert db.simulation_id == "sim" and db.logger.config.buffer_size == 2
    assert db.db_path == db.parent_db.location == describe(target_url(experiment_mode))
    assert db.get_configuration() == {}
    db.add_simulation_record("sim", None, "running", {})  # the row exists: nothing to do
    with pytest.raises(UsageError, match="cannot change simulation other"):
        db.add_simulation_record("other", None, "running", {})
    db.save_configuration({"round": 1})
    db.save_configuration({"round": 2})
    assert db.get_configuration() == {"round": 2}
    nested = DatabaseFactory.setup_db(
        None, "sim_nested", {"database": {"log_buffer_size": 3, "commit_interval_seconds": 5}}
    )
    assert (nested.logger.config.buffer_size, nested.logger.config.commit_interval) == (3, 5)
    for context in (db, nested):
        context.close()


def test_setup_db_gives_no_database_where_agentfarm_gives_none(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("USE_EXPERIMENT_DB", raising=False)
    assert DatabaseFactory.setup_db(None, "sim") is None
    assert DatabaseFactory.setup_db("", "sim") is None
    with pytest.raises(UsageError, match="use_in_memory_db"):
        DatabaseFactory.setup_db(":memory:", "sim")


def test_agentfarms_in_memory_path_leaves_nothing_behind(experiment_mode: str) -> None:
    """run_simulation builds the Environment (which logs its resources), closes what setup_db
    returned, and writes the run to a file of its own, merged later under the same id."""
    db = DatabaseFactory.setup_db("", "sim_mem", agentfarm_driver.config_dict(1))
    db.logger.log_resource("resource_1", 5.0, (0.0, 0.0))
    db.close()
    assert rows(experiment_mode, "SELECT COUNT(*) FROM simulations") == [(0,)]
    assert rows(experiment_mode, "SELECT COUNT(*) FROM resource_states") == [(0,)]


def test_a_finished_run_is_replaced_only_when_asked(
    experiment_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    agentfarm_driver.run(DatabaseFactory, None, "rep", seed=1)
    with pytest.raises(UsageError, match=r"rep already holds a completed run.*EXPERIMENT_REPLACE"):
        DatabaseFactory.setup_db(None, "rep", {})
    with pytest.raises(UsageError, match="holds a completed run"):
        DatabaseFactory.setup_db(None, "rep", {}, resume=True)
    monkeypatch.setenv("EXPERIMENT_REPLACE", "1")
    done = agentfarm_driver.run(DatabaseFactory, None, "rep", seed=2)
    check_stored_as_agentfarm_would(experiment_mode, done)
    assert rows(experiment_mode, "SELECT COUNT(*) FROM agents") == [(len(done.agents),)]


def test_a_run_that_died_is_resumed_or_replaced_when_asked(
    experiment_mode: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    died = DatabaseFactory.setup_db(None, "sim", {})
    died.logger.log_agent_action(step_number=0, agent_id="a", action_type="move")
    died.logger.flush_all_buffers()  # then the process is killed: no close, still running
    with pytest.raises(UsageError, match=r"sim is running.*EXPERIMENT_RESUME=1.*replace=True"):
        DatabaseFactory.setup_db(None, "sim", {})
    monkeypatch.setenv("EXPERIMENT_RESUME", "1")
    resumed = DatabaseFactory.setup_db(None, "sim", {})
    resumed.logger.log_agent_action(step_number=1, agent_id="a", action_type="move")
    resumed.close()
    assert rows(experiment_mode, "SELECT action_id, step_number FROM agent_actions") == [
        (1, 0),
        (2, 1),
    ]
    monkeypatch.delenv("EXPERIMENT_RESUME")
    replaced = DatabaseFactory.setup_db(None, "sim", {}, replace=True)
    replaced.logger.log_agent_action(step_number=9, agent_id="b", action_type="move")
    replaced.close()
    assert rows(experiment_mode, "SELECT action_id, agent_id FROM agent_actions") == [(1, "b")]
    died.parent_db.close()


def test_sessions_keep_agentfarms_agent_keyed_changes_inside_one_simulation(
    any_target: str,
) -> None:
    """AgentFarm's models key agents by agent_id alone: its ORM would change every replicate."""
    with ExperimentDatabase(any_target, "exp") as database:
        contexts = [database.create_simulation_context(s) for s in ("one", "two")]
        for ctx in contexts:
            ctx.log_agent("agent_x", 0, "SystemAgent", (0.0, 0.0), 1.0, 100.0)
            ctx.log_agent("agent_y", 0, "SystemAgent", (0.0, 0.0), 1.0, 100.0)
        one, two = contexts
        two.flush_all_buffers()

        def kill_and_delete(session: Any) -> None:
            x = session.query(AgentModel).filter_by(simulation_id="one", agent_id="agent_x").one()
            x.death_time = 4
            y = session.query(AgentModel).filter_by(simulation_id="one", agent_id="agent_y").one()
            session.delete(y)

        one._execute_in_transaction(kill_and_delete)
        assert rows(
            any_target, "SELECT simulation_id, agent_id, death_time FROM agents ORDER BY 1, 2"
        ) == [("one", "agent_x", 4), ("two", "agent_x", None), ("two", "agent_y", None)]

        def touch_other(session: Any) -> None:
            found = session.query(AgentModel).filter_by(simulation_id="two").first()
            assert found is None  # another simulation's rows are not even read

        one._execute_in_transaction(touch_other)
        assert database.Session().query(AgentModel).count() == 3
        database.Session.remove()
        assert two.Session is not one.Session


def log_two_simulations(database: ExperimentDatabase) -> Any:
    contexts = [database.create_simulation_context(s) for s in ("rep", "other")]
    for ctx in contexts:
        ctx.save_configuration({"seed": 1})
        ctx.log_agent("agent_x", 0, "SystemAgent", (0.0, 0.0), 1.0, 100.0)
        for step in range(4):
            ctx.log_agent_action(step_number=step, agent_id="agent_x", action_type="move")
            ctx.log_step(step, [("agent_x", 0, 0, 1, 90, 100, 0, False, 0.0, step)], [], {})
    return contexts[0]


def test_a_session_insert_gets_the_simulation_and_a_key_of_its_own(sqlite_target: Path) -> None:
    """AgentFarm's models leave simulation_id and the integer key to the database."""
    from sqlalchemy import Column, Float, Integer, String
    from sqlalchemy.orm import DeclarativeBase

    class Base(DeclarativeBase):
        pass

    class HealthIncident(Base):
        __tablename__ = "health_incidents"
        incident_id = Column(Integer, primary_key=True)
        simulation_id = Column(String(64))
        step_number = Column(Integer)
        agent_id = Column(String(64))
        health_before = Column(Float)
        health_after = Column(Float)
        cause = Column(String(50))

    with ExperimentDatabase(sqlite_target, "exp") as database:
        ctx = database.create_simulation_context("sim")
        ctx.log_health_incident(
            step_number=0, agent_id="a", health_before=9, health_after=8, cause="hit"
        )
        ctx._execute_in_transaction(
            lambda session: session.add(HealthIncident(step_number=1, agent_id="a", cause="orm"))
        )
        ctx.log_health_incident(
            step_number=2, agent_id="a", health_before=8, health_after=7, cause="hit"
        )
    assert rows(
        str(sqlite_target),
        "SELECT simulation_id, incident_id, step_number, cause FROM health_incidents ORDER BY 2",
    ) == [("sim", 1, 0, "hit"), ("sim", 2, 1, "orm"), ("sim", 3, 2, "hit")]


@pytest.mark.parametrize("kind", ["csv", "json"])
def test_export_data_writes_one_simulations_rows(
    any_target: str, tmp_path: Path, kind: str
) -> None:
    out = tmp_path / "out"
    out.mkdir()
    with ExperimentDatabase(any_target, "exp") as database:
        ctx = log_two_simulations(database)
        ctx.export_data(str(out / f"out.{kind}"), format=kind, start_step=1, end_step=2)
    if kind == "json":
        data = json.loads((out / "out.json").read_text())
        assert [r["step_number"] for r in data["metrics"]] == [1, 2]
        assert {r["simulation_id"] for r in data["actions"]} == {"rep"}
        assert len(data["agents"]) == 2
        assert data["metadata"]["config"] == {"seed": 1}
    else:
        names = {p.name for p in out.iterdir()}
        kinds = ("actions", "agents", "metrics", "resources")
        assert names == {f"out_{k}.csv" for k in kinds} | {"out_metadata.json"}
        lines = (out / "out_metrics.csv").read_text().splitlines()
        assert lines[0].startswith("simulation_id,step_number") and len(lines) == 3


def test_excel_and_parquet_name_their_extra_when_it_is_missing(
    sqlite_target: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setitem(__import__("sys").modules, "openpyxl", None)
    monkeypatch.setitem(__import__("sys").modules, "pyarrow", None)
    with ExperimentDatabase(sqlite_target, "exp") as database:
        ctx = database.create_simulation_context("sim")
        with pytest.raises(UsageError, match=r"needs openpyxl: pip install 'consolidate\[excel\]'"):
            ctx.export_data(tmp_path / "out.xlsx", format="excel")
        with pytest.raises(UsageError, match=r"consolidate\[parquet\]"):
            ctx.export_data(tmp_path / "out.parquet", format="parquet")
        with pytest.raises(ValueError, match="Unsupported export format"):
            ctx.export_data(tmp_path / "out.txt", format="txt")
    assert list(tmp_path.iterdir()) == [sqlite_target]


@pytest.mark.parametrize("kind,module", [("excel", "openpyxl"), ("parquet", "pyarrow")])
def test_excel_and_parquet_where_their_library_is_installed(
    sqlite_target: Path, tmp_path: Path, kind: str, module: str
) -> None:
    pytest.importorskip(module, reason=f"the {kind} extra is not installed")
    with ExperimentDatabase(sqlite_target, "exp") as database:
        ctx = database.create_simulation_context("sim")
        ctx.log_step(0, [], [], {"total_agents": 3})
        ctx.export_data(tmp_path / f"out.{kind}", format=kind, data_types=["metrics"])
    assert any(p.name.startswith("out") for p in tmp_path.iterdir())


def test_the_query_tool_answers_as_pr_463_does(experiment_mode: str, tmp_path: Path) -> None:
    done = agentfarm_driver.run(DatabaseFactory, None, "rep", seed=5)
    with ExperimentQueryTool(db_path=experiment_mode) as tool:
        info = tool.get_experiment_info()
        pr_463_keys = "experiment_id name description status creation_date last_updated"
        assert " ".join(info) == pr_463_keys + " results_summary"
        assert info["experiment_id"] == "exp"
        types = tool.get_agent_types_distribution("rep")
        assert dict(zip(types["agent_type"], types["count"], strict=True)) == {
            "ControlAgent": 1,
            "IndependentAgent": 2,
            "SystemAgent": 2,
        }
        written = tool.export_simulation_data("rep", tmp_path / "rep")
    assert written["agents.csv"] == len(done.agents)
    assert written["actions.csv"] == len(done.actions)
    assert sorted(p.name for p in (tmp_path / "rep").iterdir()) == sorted(written)
