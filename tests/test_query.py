"""``ExperimentQueryTool``: scoped, one statement per answer, on merged runs and both backends."""

from __future__ import annotations

import csv
import sqlite3
from datetime import UTC, datetime
from pathlib import Path

import pandas as pd
import pytest
from sqlalchemy import URL, insert

from consolidate.analysis.query import METRICS, ExperimentQueryTool
from consolidate.errors import QueryError, TargetError
from consolidate.merging.pipeline import merge
from consolidate.schema import metadata, migrations
from consolidate.schema.targets import central_engine
from tests.helpers import LEGACY_FIXTURES

F1 = "f1-raw-stepid__v02"  # the oldest layout: its steps record no agent counts at all
INT_IDS = "f3-orm-intids__v20"  # agent ids '1', '2', ... shared with other integer-era runs


def merge_fixtures(target: Path, experiment_id: str = "legacy", runs: int | None = None) -> Path:
    """The committed legacy runs (every one, or the first ``runs``) merged into ``target``."""
    sources = [str(p) for p in LEGACY_FIXTURES[:runs]]
    assert merge(sources, str(target), experiment_id=experiment_id).ok
    return target


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merge_fixtures(tmp_path_factory.mktemp("merged") / "experiment.db")


def write_runs(target: str) -> None:
    """Two experiments and three runs as the writer would leave them (origin 'writer'); run-1
    and run-2 are replicates that reuse the agent ids agent_0 and agent_1, and run-3 has no
    steps yet."""
    engine = central_engine(target)
    table = metadata.tables
    now = datetime(2026, 1, 2, 3, 4, 5, tzinfo=UTC)
    steps = {
        "run-1": ([2, 3, 3, 2], [0, 1, 0, 0], [0, 0, 0, 1]),
        "run-2": ([2, 2, 2], [0] * 3, [0] * 3),
    }
    types = {"run-1": ["system", "independent", "independent"], "run-2": ["control", "control"]}
    alive = {"run-1": (3, ["agent_0", "agent_1"]), "run-2": (2, ["agent_0", "agent_1"])}
    try:
        migrations.upgrade(engine)
        with engine.begin() as conn:
            conn.execute(
                insert(table["experiments"]),
                [{"experiment_id": e, "name": e.upper(), "creation_date": now} for e in ("a", "b")],
            )
            conn.execute(
                insert(table["simulations"]),
                [
                    {"simulation_id": s, "experiment_id": e, "origin": "writer", "status": status}
                    for s, e, status in [
                        ("run-1", "a", "completed"),
                        ("run-2", "a", "running"),
                        ("run-3", "b", "failed"),
                    ]
                ],
            )
            conn.execute(
                insert(table["simulation_steps"]),
                [
                    {
                        "simulation_id": sim,
                        "step_number": n,
                        "total_agents": agents[n],
                        "births": births[n],
                        "deaths": deaths[n],
                        "total_resources": 10 - n / 3,
                    }
                    for sim, (agents, births, deaths) in steps.items()
                    for n in range(len(agents))
                ],
            )
            conn.execute(
                insert(table["agents"]),
                [
                    {"simulation_id": sim, "agent_id": f"agent_{i}", "agent_type": kind}
                    for sim, kinds in types.items()
                    for i, kind in enumerate(kinds)
                ],
            )
            conn.execute(
                insert(table["agent_states"]),
                [
                    {
                        "simulation_id": sim,
                        "id": f"{agent}@{last}",
                        "agent_id": agent,
                        "step_number": last,
                        "current_health": 1 / 3,
                    }
                    for sim, (last, agents) in alive.items()
                    for agent in agents
                ],
            )
    finally:
        engine.dispose()


@pytest.fixture
def runs(any_target: str) -> str:
    """The same three written runs on SQLite and on PostgreSQL."""
    write_runs(any_target)
    return any_target


def direct(path: Path, sql: str, *params: object) -> list[tuple[object, ...]]:
    """Rows read with plain sqlite3: the expected answers, independent of the code under test."""
    with sqlite3.connect(path) as conn:
        return conn.execute(sql, params).fetchall()


def test_a_missing_file_is_an_error_and_stays_missing(tmp_path: Path) -> None:
    with pytest.raises(TargetError, match="no such experiment database"):
        ExperimentQueryTool(tmp_path / "typo.db")
    assert list(tmp_path.iterdir()) == []


def test_a_legacy_run_file_is_not_an_experiment_database(tmp_path: Path) -> None:
    copy = tmp_path / "run.db"
    copy.write_bytes(LEGACY_FIXTURES[0].read_bytes())
    before = copy.read_bytes()
    with pytest.raises(TargetError, match="not a consolidate experiment database"):
        ExperimentQueryTool(copy)
    assert copy.read_bytes() == before


def test_every_experiment_is_listed_and_a_tool_can_keep_to_one(tmp_path: Path) -> None:
    target = merge_fixtures(tmp_path / "two.db", experiment_id="first", runs=3)
    later = [str(p) for p in LEGACY_FIXTURES[3:5]]
    assert merge(later, str(target), experiment_id="second").ok
    with ExperimentQueryTool(target) as tool:
        info = tool.get_experiments()
    assert dict(zip(info["experiment_id"], info["simulations"], strict=True)) == {
        "first": 3,
        "second": 2,
    }
    with ExperimentQueryTool(target, experiment_id="second") as tool:
        assert tool.get_experiments()["experiment_id"].tolist() == ["second"]
        second = tool.list_simulations()["simulation_id"].tolist()
        with pytest.raises(QueryError, match=f"no simulation {F1} in experiment second"):
            tool.get_agent_counts_over_time([F1])
    assert second == sorted(Path(p).stem for p in later)


def test_list_simulations_carries_provenance(merged: Path) -> None:
    with ExperimentQueryTool(merged) as tool:
        sims = tool.list_simulations()
    expected = direct(merged, "SELECT simulation_id, source_sha256 FROM simulations ORDER BY 1")
    assert list(zip(sims["simulation_id"], sims["source_sha256"], strict=True)) == expected
    assert set(sims["origin"]) == {"merge"}


def test_summary_totals_are_over_the_whole_run(merged: Path) -> None:
    with ExperimentQueryTool(merged) as tool:
        summary = tool.get_simulation_summary().set_index("simulation_id")
    expected = direct(
        merged,
        "SELECT s.simulation_id, count(st.step_number), sum(st.births), sum(st.deaths),"
        " (SELECT count(*) FROM agents a WHERE a.simulation_id = s.simulation_id)"
        " FROM simulations s LEFT JOIN simulation_steps st USING (simulation_id)"
        " GROUP BY s.simulation_id",
    )
    assert len(summary) == len(expected) == len(LEGACY_FIXTURES)
    for sim, steps, births, deaths, agents in expected:
        row = summary.loc[sim]
        assert (row["total_steps"], row["agents"]) == (steps, agents), sim
        if births is None:  # the layout recorded no births: NA, not 0
            assert row["total_births"] is pd.NA and row["total_deaths"] is pd.NA, sim
        else:
            assert (row["total_births"], row["total_deaths"]) == (births, deaths), sim
    assert str(summary["total_births"].dtype) == "Int64"  # NULL for f1, still integers
    assert summary.loc[F1, "avg_agents"] is pd.NA


def test_agent_counts_are_per_simulation_and_step(merged: Path) -> None:
    with ExperimentQueryTool(merged) as tool:
        counts = tool.get_agent_counts_over_time("sim_2b8358f643")  # one id, given as a string
        everything = tool.get_agent_counts_over_time()
    assert counts.columns.tolist() == ["simulation_id", "step_number", "total_agents"]
    assert [tuple(r) for r in counts.itertuples(index=False)] == direct(
        merged,
        "SELECT simulation_id, step_number, total_agents FROM simulation_steps"
        " WHERE simulation_id = ? ORDER BY step_number",
        "sim_2b8358f643",
    )
    assert len(everything) == direct(merged, "SELECT count(*) FROM simulation_steps")[0][0]


def test_compare_pivots_one_column_per_simulation_in_the_order_asked(merged: Path) -> None:
    asked = ["sim_f481b5a88c", F1, INT_IDS]
    with ExperimentQueryTool(merged) as tool:
        wide = tool.compare_simulations("total_resources", asked)
    assert wide.columns.tolist() == asked and wide.index.tolist() == [0, 1, 2]
    assert wide[F1].isna().all()  # kept, empty: f1 recorded no resources per step
    for sim in (asked[0], asked[2]):
        column = direct(
            merged,
            "SELECT total_resources FROM simulation_steps WHERE simulation_id = ? ORDER BY 1 DESC",
            sim,
        )
        assert wide[sim].tolist() == [v for (v,) in column]  # unrounded


@pytest.mark.parametrize("metric", ["nope", "step_number", "simulation_id", "agent_type_counts"])
def test_compare_names_the_metrics_it_accepts(merged: Path, metric: str) -> None:
    with ExperimentQueryTool(merged) as tool, pytest.raises(ValueError) as caught:
        tool.compare_simulations(metric)
    assert isinstance(caught.value, QueryError)
    assert f"unknown metric {metric!r}" in str(caught.value) and "total_agents" in str(caught.value)
    assert "step_number" not in METRICS and "births" in METRICS


def test_final_state_joins_agents_within_their_simulation(merged: Path) -> None:
    with ExperimentQueryTool(merged) as tool:
        state = tool.get_final_state(INT_IDS)
    last_births = direct(
        merged,
        "SELECT births FROM simulation_steps WHERE simulation_id = ? ORDER BY step_number DESC",
        INT_IDS,
    )[0][0]
    assert state["final_step"] == 2 and state["total_births"] == 1 != last_births
    expected = direct(
        merged,
        "SELECT coalesce(a.agent_type, s.agent_type), count(DISTINCT s.agent_id)"
        " FROM agent_states s LEFT JOIN agents a"
        " ON a.simulation_id = s.simulation_id AND a.agent_id = s.agent_id"
        " WHERE s.simulation_id = ? AND s.step_number = 2 GROUP BY 1",
        INT_IDS,
    )
    assert state["agent_distribution"] == dict(expected)
    assert sum(state["agent_distribution"].values()) == state["total_agents"]


def test_export_writes_one_table_filtered_and_exact(merged: Path, tmp_path: Path) -> None:
    sims = ["sim_2b8358f643", INT_IDS]
    out = tmp_path / "states.csv"
    with ExperimentQueryTool(merged) as tool:
        written = tool.export("agent_states", out, sims)
        assert tool.export("agents", tmp_path / "none.csv", ["no-such-run"]) == 0
        with pytest.raises(QueryError, match="unknown table 'alembic_version'"):
            tool.export("alembic_version", tmp_path / "x.csv")
    with out.open(newline="") as handle:
        rows = list(csv.DictReader(handle))
    expected = direct(
        merged,
        "SELECT simulation_id, id, step_number, resource_level FROM agent_states"
        " WHERE simulation_id IN (?, ?) ORDER BY simulation_id, id",
        *sims,
    )
    assert written == len(rows) == len(expected) > 0
    for row, (sim, state_id, step, level) in zip(rows, expected, strict=True):
        assert (row["simulation_id"], row["id"], row["step_number"]) == (sim, state_id, str(step))
        assert float(row["resource_level"]) == level  # unrounded, and step stays '2', not '2.0'
    assert (tmp_path / "none.csv").read_text().startswith("simulation_id,agent_id,")
    assert not list(tmp_path.glob(".*.part"))


def test_read_sql_reads_and_refuses_to_write(merged: Path, tmp_path: Path) -> None:
    before = direct(merged, "SELECT count(*) FROM agents")
    with ExperimentQueryTool(merged) as tool:
        frame = tool.read_sql("SELECT simulation_id, births, 'a%' AS p FROM simulation_steps")
        assert str(frame["births"].dtype) == "Int64" and set(frame["p"]) == {"a%"}
        with pytest.raises(QueryError, match="read-only; the statement tried to write"):
            tool.read_sql("DELETE FROM agents")
        with pytest.raises(QueryError, match="one statement at a time"):
            tool.read_sql("SELECT 1; DELETE FROM agents")
        with pytest.raises(QueryError, match="the query failed: no such table: nope"):
            tool.read_sql("SELECT * FROM nope")
        with pytest.raises(QueryError, match="the statement is refused"):
            tool.read_sql(f"ATTACH DATABASE '{tmp_path / 'new.db'}' AS other")
    assert direct(merged, "SELECT count(*) FROM agents") == before
    assert not (tmp_path / "new.db").exists()


def test_a_closed_tool_says_so(merged: Path) -> None:
    tool = ExperimentQueryTool(merged)
    tool.close()
    with pytest.raises(TargetError, match="was closed"):
        tool.list_simulations()


def test_written_runs_on_both_backends(runs: str) -> None:
    with ExperimentQueryTool(runs) as tool:
        summary = tool.get_simulation_summary().set_index("simulation_id")
        wide = tool.compare_simulations("births")
        first, second = tool.get_final_state("run-1"), tool.get_final_state("run-2")
        frame = tool.read_sql("SELECT count(*) AS n FROM agents WHERE agent_id LIKE 'agent%'")
        with pytest.raises(QueryError, match="read-only"):
            tool.read_sql("UPDATE agents SET agent_type = 'x'")
    assert summary.loc[
        "run-1", ["total_steps", "agents", "total_births", "total_deaths"]
    ].tolist() == [
        4,
        3,
        1,
        1,
    ]
    assert summary.loc["run-3", "total_steps"] == 0 and summary.loc["run-3", "agents"] == 0
    assert wide.columns.tolist() == ["run-1", "run-2", "run-3"] and wide["run-3"].isna().all()
    # replicates share agent ids: a join on agent_id alone would mix their types
    assert first["agent_distribution"] == {"system": 1, "independent": 1}
    assert second["agent_distribution"] == {"control": 2}
    assert (first["final_step"], first["total_agents"], first["total_deaths"]) == (3, 2, 1)
    assert frame["n"].tolist() == [5]
    with ExperimentQueryTool(runs) as tool:  # float8 both ways: values come back unrounded
        resources = tool.compare_simulations("total_resources", "run-2")["run-2"].tolist()
    assert resources == [10 - n / 3 for n in range(3)]


def test_written_runs_scoped_to_an_experiment(runs: str, tmp_path: Path) -> None:
    with ExperimentQueryTool(runs, experiment_id="b") as tool:
        assert tool.list_simulations()["simulation_id"].tolist() == ["run-3"]
        assert tool.get_experiments()["name"].tolist() == ["B"]
        assert tool.export("simulation_steps", tmp_path / "steps.csv") == 0
        with pytest.raises(QueryError, match="no simulation run-1 in experiment b"):
            tool.get_final_state("run-1")
    with ExperimentQueryTool(runs) as tool:
        assert tool.export("simulation_steps", tmp_path / "steps.csv", ["run-2"]) == 3


def test_postgresql_keeps_one_statement_inside_the_read_only_transaction(
    postgres_url: URL,
) -> None:
    url = postgres_url.render_as_string(hide_password=False)
    write_runs(url)
    with ExperimentQueryTool(url) as tool:
        with pytest.raises(QueryError, match="one statement at a time"):
            tool.read_sql("COMMIT; CREATE TABLE escaped (x int)")
        assert tool.read_sql("SELECT to_regclass('escaped') AS t")["t"].isna().all()
        assert tool.read_sql("SELECT 'x%' AS p")["p"].tolist() == ["x%"]


def test_merged_runs_answer_the_same_on_postgresql(merged: Path, postgres_url: URL) -> None:
    url = postgres_url.render_as_string(hide_password=False)
    assert merge([str(p) for p in LEGACY_FIXTURES], url, experiment_id="legacy").ok
    with ExperimentQueryTool(merged) as lite, ExperimentQueryTool(url) as pg:
        pd.testing.assert_frame_equal(pg.get_simulation_summary(), lite.get_simulation_summary())
        pd.testing.assert_frame_equal(
            pg.compare_simulations("average_agent_health"),
            lite.compare_simulations("average_agent_health"),
        )
        assert pg.get_final_state(INT_IDS) == lite.get_final_state(INT_IDS)
