"""DatabaseFactory and ExperimentManager, and an AgentFarm script ported by changing imports."""

from __future__ import annotations

import json
import re
from pathlib import Path
from types import SimpleNamespace

import pytest

from consolidate import verify
from consolidate.writer import (
    DatabaseFactory,
    ExperimentManager,
    SimulationContext,
    close_database,
    get_experiment_db_from_context,
)
from tests.test_writer_support import count, query


@pytest.fixture(autouse=True)
def clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """Each test starts in its own folder, without the factory's environment variables."""
    for name in ("USE_EXPERIMENT_DB", "EXPERIMENT_ID", "EXPERIMENT_DB_PATH"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.chdir(tmp_path)


def test_environment_variables_switch_on_experiment_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("USE_EXPERIMENT_DB", "1")
    monkeypatch.setenv("EXPERIMENT_ID", "sweep")
    monkeypatch.setenv("EXPERIMENT_DB_PATH", str(tmp_path / "shared" / "sweep.db"))
    contexts = [
        DatabaseFactory.create(config={"seed": n}, db_path="ignored.db", simulation_id=f"sim_{n}")
        for n in range(2)
    ]
    # one engine per database per process, however many simulations
    assert contexts[0].parent_db.engine is contexts[1].parent_db.engine
    for ctx in contexts:
        ctx.log_step(0, [], [], {"total_agents": 0})
        close_database(ctx)
    assert ctx.parent_db.closed  # the factory's database closes with its context
    target = str(tmp_path / "shared" / "sweep.db")
    rows = query(target, "SELECT simulation_id, experiment_id, parameters FROM simulations")
    assert sorted(rows) == [
        ("sim_0", "sweep", '{"seed": 0}'),
        ("sim_1", "sweep", '{"seed": 1}'),
    ]
    assert count(target, "simulation_steps") == 2
    assert not Path("ignored.db").exists()


def test_experiment_mode_defaults(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    monkeypatch.setenv("USE_EXPERIMENT_DB", "1")
    with pytest.raises(ValueError, match="simulation_id is required"):
        DatabaseFactory.create()
    ctx = DatabaseFactory.create(simulation_id="sim")
    experiment = ctx.parent_db.experiment_id
    assert re.fullmatch(r"exp_\d{8}_\d{6}", experiment)
    assert get_experiment_db_from_context(ctx) is ctx.parent_db
    ctx.close()
    assert (tmp_path / "experiments" / f"{experiment}.db").is_file()


@pytest.mark.parametrize("value", ["true", "0", ""], ids=["true", "zero", "empty"])
def test_only_exactly_1_means_experiment_mode(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, value: str
) -> None:
    monkeypatch.setenv("USE_EXPERIMENT_DB", value)
    monkeypatch.setenv("EXPERIMENT_DB_PATH", str(tmp_path / "shared.db"))
    ctx = DatabaseFactory.create(db_path=str(tmp_path / "runs" / "run_7.db"))
    ctx.close()
    assert not (tmp_path / "shared.db").exists()
    # without experiment mode the run gets a database of its own, named as merge would name it
    target = str(tmp_path / "runs" / "run_7.db")
    assert query(target, "SELECT simulation_id, experiment_id FROM simulations") == [
        ("run_7", "run_7")
    ]
    assert verify(target).ok


def test_runs_started_together_get_databases_of_their_own(tmp_path: Path) -> None:
    first, second = DatabaseFactory.create(), DatabaseFactory.create()
    paths = {Path(ctx.parent_db.location) for ctx in (first, second)}
    first.close()
    second.close()
    assert len(paths) == 2
    assert all(p.parent == tmp_path / "simulations" for p in paths)
    for path in paths:
        assert query(str(path), "SELECT simulation_id FROM simulations") == [(path.stem,)]


def test_explicit_arguments_beat_the_environment(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    monkeypatch.setenv("USE_EXPERIMENT_DB", "1")
    monkeypatch.setenv("EXPERIMENT_ID", "from_env")
    ctx = DatabaseFactory.create(
        simulation_id="sim",
        use_experiment_db=True,
        experiment_id="explicit",
        experiment_db_path=tmp_path / "explicit.db",
    )
    ctx.close()
    assert query(str(tmp_path / "explicit.db"), "SELECT experiment_id FROM experiments") == [
        ("explicit",)
    ]
    ctx = DatabaseFactory.create(db_path=tmp_path / "own.db", use_experiment_db=False)
    ctx.close()
    assert query(str(tmp_path / "own.db"), "SELECT simulation_id FROM simulations") == [("own",)]


def test_parameters_from_an_agentfarm_config(tmp_path: Path) -> None:
    config = SimpleNamespace(
        seed=42,
        population=SimpleNamespace(system_agents=10, independent_agents=5, control_agents=0),
        environment=SimpleNamespace(width=100),
    )
    ctx = DatabaseFactory.create(config, db_path=tmp_path / "run.db", simulation_id="sim")
    ctx.close()
    (parameters,) = query(str(tmp_path / "run.db"), "SELECT parameters FROM simulations")[0]
    assert json.loads(parameters) == {
        "seed": 42,
        "system_agents": 10,
        "independent_agents": 5,
        "control_agents": 0,
        "environment": "namespace(width=100)",
    }


def test_manager_completes_and_fails_simulations(tmp_path: Path) -> None:
    with ExperimentManager("exp", name="Sweep", description="two sizes") as manager:
        assert manager.db_path == Path("experiments", "exp.db")
        small = manager.create_simulation("small", {"size": 1})
        assert isinstance(small, SimulationContext)
        small.log_step(0, [], [], {"total_agents": 1})
        manager.complete_simulation("small", {"final": 1})
        assert small.closed
        big = manager.create_simulation("big", {"size": 2})
        big.log_step(0, [], [], {"total_agents": 2})
        manager.fail_simulation("big", MemoryError("too big"))
        manager.create_simulation("left_open")
        assert manager.get_simulation_ids() == ["big", "left_open", "small"]
    target = str(tmp_path / "experiments" / "exp.db")
    rows = query(target, "SELECT simulation_id, status, results_summary FROM simulations")
    by_id = {sim: (status, json.loads(summary or "null")) for sim, status, summary in rows}
    assert by_id == {
        "small": ("completed", {"final": 1}),
        "big": ("failed", {"error_type": "MemoryError", "error_message": "too big"}),
        "left_open": ("completed", None),
    }
    assert count(target, "simulation_steps") == 2  # the failed run's rows were flushed
    assert query(target, "SELECT name, description, status FROM experiments") == [
        ("Sweep", "two sizes", "completed")
    ]


def test_an_agentfarm_script_runs_with_changed_imports(tmp_path: Path) -> None:
    """AgentFarm's examples/centralized_storage_example.py (PR #463), its imports changed, its
    SimulationConfig and SQLAlchemy session query replaced by what this package offers."""
    import os

    from consolidate.writer import DataLoggingConfig, ExperimentDatabase

    db_path = "experiments/example_experiment.db"
    os.makedirs("experiments", exist_ok=True)
    experiment_db = ExperimentDatabase(
        db_path=db_path, experiment_id="example_exp_001", config=None
    )
    for i in range(3):
        sim_id = f"sim_{i:03d}"
        sim_context = experiment_db.create_simulation_context(
            simulation_id=sim_id, parameters={"run": i, "seed": i * 100}
        )
        for step in range(5):
            agent_states = [
                (f"agent_{j}", float(j), float(j), 100.0, 100.0, 100.0, 0, False, 0.0, step)
                for j in range(10)
            ]
            resource_states = [
                (f"resource_{k}", 50.0, float(k * 10), float(k * 10)) for k in range(5)
            ]
            metrics = {
                "total_agents": len(agent_states),
                "total_resources": sum(r[1] for r in resource_states),
                "average_agent_health": 100.0,
                "average_agent_resources": 100.0,
                "births": 0,
                "deaths": 0,
                "resources_consumed": 0.0,
            }
            sim_context.logger.log_step(step, agent_states, resource_states, metrics)
        sim_context.flush_all_buffers()
        experiment_db.update_simulation_status(
            simulation_id=sim_id,
            status="completed",
            results_summary={"steps": 5, "final_agents": 10},
        )
    experiment_db.close()

    logging_config = DataLoggingConfig(buffer_size=100, commit_interval=10)
    experiment_db = ExperimentDatabase(db_path=db_path, experiment_id="example_exp_002")
    sim_context = experiment_db.create_simulation_context(
        simulation_id="sim_custom",
        parameters={"note": "Using custom logging config"},
        logging_config=logging_config,
    )
    for step in range(3):
        agent_states = [
            (f"agent_{j}", 0.0, 0.0, 50.0, 50.0, 100.0, 0, False, 0.0, step) for j in range(5)
        ]
        sim_context.logger.log_step(step, agent_states, [], {"total_agents": len(agent_states)})
    sim_context.flush_all_buffers()
    experiment_db.update_simulation_status("sim_custom", "completed")
    experiment_db.close()

    experiment_db = ExperimentDatabase(db_path=db_path, experiment_id="example_exp_001")
    assert experiment_db.get_simulation_ids() == ["sim_000", "sim_001", "sim_002"]
    experiment_db.close()

    target = str(tmp_path / db_path)
    assert count(target, "agent_states") == 3 * 5 * 10 + 3 * 5  # agent ids reused in every run
    assert count(target, "resource_states") == 3 * 5 * 5
    assert query(target, "SELECT DISTINCT status FROM simulations") == [("completed",)]
    report = verify(target)
    assert report.ok, [str(m) for m in report.mismatches]
