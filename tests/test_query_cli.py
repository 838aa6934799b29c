"""``consolidate summary``, ``query`` and ``plot`` on a real merge of the committed fixtures."""

from __future__ import annotations

import csv
import io
import json
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from click.testing import CliRunner
from matplotlib.colors import to_rgb
from matplotlib.image import imread

from consolidate.cli.analysis import plot_command, query_command, render_plot, summary_command
from consolidate.cli.shared import ConsolidateGroup
from tests.conftest import REPO
from tests.helpers import LEGACY_FIXTURES
from tests.test_query import F1, merge_fixtures, write_runs

PNG_MAGIC = b"\x89PNG\r\n\x1a\n"


@pytest.fixture(scope="module")
def merged(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return merge_fixtures(tmp_path_factory.mktemp("merged") / "experiment.db")


@pytest.fixture
def cli() -> ConsolidateGroup:
    """The commands under the group that translates errors, as ``consolidate`` will hold them."""
    return ConsolidateGroup(commands=[summary_command, query_command, plot_command])


def count(path: Path, sql: str) -> int:
    with sqlite3.connect(path) as conn:
        return int(conn.execute(sql).fetchone()[0])


def run_python(code: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    return subprocess.run(
        [sys.executable, "-c", code], cwd=cwd, capture_output=True, text=True, env=env
    )


def test_summary_prints_one_row_per_simulation(runner: CliRunner, merged: Path) -> None:
    result = runner.invoke(summary_command, [str(merged)])
    assert result.exit_code == 0, result.output
    header, *rows, footer = result.stdout.splitlines()
    assert header.split() == [
        "simulation_id", "origin", "layout", "steps", "agents", "births", "deaths", "status"
    ]  # fmt: skip
    assert len(rows) == len(LEGACY_FIXTURES) and footer.endswith(
        f"{len(LEGACY_FIXTURES)} simulations ({len(LEGACY_FIXTURES)} merged, 0 written)"
    )
    by_id = {row.split()[0]: row.split() for row in rows}
    assert by_id[F1] == [F1, "merge", "f1-raw-stepid", "v02", "3", "4", "-", "-", "-"]
    assert by_id["sim_2b8358f643"][1:] == ["merge", "f7-slim-actions", "v33", "3", "4", "1", "1",
                                           "running"]  # fmt: skip


def test_summary_json_matches_the_database(runner: CliRunner, merged: Path) -> None:
    result = runner.invoke(summary_command, [str(merged), "--json"])
    assert result.exit_code == 0, result.output
    records = {r["simulation_id"]: r for r in json.loads(result.stdout)}
    assert len(records) == count(merged, "SELECT count(*) FROM simulations")
    assert records[F1]["births"] is None and records[F1]["family"] == "f1-raw-stepid"
    for sim, record in records.items():
        assert record["agents"] == count(
            merged, f"SELECT count(*) FROM agents WHERE simulation_id = '{sim}'"
        )
        assert record["steps"] == 3 and record["origin"] == "merge"


def test_written_runs_on_both_backends(
    runner: CliRunner, cli: ConsolidateGroup, any_target: str
) -> None:
    write_runs(any_target)
    result = runner.invoke(summary_command, [any_target])
    assert result.exit_code == 0, result.output
    rows = [line.split() for line in result.stdout.splitlines()[1:-1]]
    assert rows == [
        ["run-1", "writer", "-", "4", "3", "1", "1", "completed"],
        ["run-2", "writer", "-", "3", "2", "0", "0", "running"],
        ["run-3", "writer", "-", "0", "0", "-", "-", "failed"],
    ]  # the writer's runs have no legacy layout, and run-3 no steps yet
    query = runner.invoke(cli, ["query", any_target, "SELECT count(*) AS n FROM agents", "--json"])
    assert query.exit_code == 0 and json.loads(query.stdout) == [{"n": 5}]
    refused = runner.invoke(cli, ["query", any_target, "DELETE FROM agents"])
    assert refused.exit_code == 2 and "read-only" in refused.stderr
    again = runner.invoke(cli, ["query", any_target, "SELECT count(*) AS n FROM agents", "--csv"])
    assert again.stdout == "n\n5\n"


def test_query_prints_a_table_csv_and_json(runner: CliRunner, merged: Path) -> None:
    sql = (
        "SELECT simulation_id, step_number, total_agents, total_resources FROM simulation_steps"
        " WHERE step_number = 2 ORDER BY simulation_id"
    )
    table = runner.invoke(query_command, [str(merged), sql])
    as_csv = runner.invoke(query_command, [str(merged), sql, "--csv"])
    as_json = runner.invoke(query_command, [str(merged), sql, "--json"])
    assert table.exit_code == as_csv.exit_code == as_json.exit_code == 0, table.output
    lines = table.stdout.splitlines()
    assert lines[0].split() == ["simulation_id", "step_number", "total_agents", "total_resources"]
    assert len(lines) == 1 + len(LEGACY_FIXTURES) and lines[1].split() == [F1, "2"]
    with sqlite3.connect(merged) as conn:
        expected = conn.execute(sql).fetchall()
    rows = list(csv.reader(io.StringIO(as_csv.stdout)))[1:]
    assert [(s, int(n), int(a) if a else None, float(r) if r else None) for s, n, a, r in rows] == (
        expected
    )  # integers stay integers, floats unrounded
    records = json.loads(as_json.stdout)
    assert [tuple(r.values()) for r in records] == expected


def test_query_refuses_to_write_in_one_line(
    runner: CliRunner, cli: ConsolidateGroup, merged: Path
) -> None:
    agents = count(merged, "SELECT count(*) FROM agents")
    result = runner.invoke(cli, ["query", str(merged), "DELETE FROM agents"])
    assert result.exit_code == 2
    assert result.stdout == "" and len(result.stderr.splitlines()) == 1
    assert "read-only" in result.stderr and "Traceback" not in result.stderr
    assert count(merged, "SELECT count(*) FROM agents") == agents
    both = runner.invoke(cli, ["query", str(merged), "SELECT 1", "--csv", "--json"])
    assert both.exit_code == 2 and "choose one" in both.stderr


def test_a_missing_target_is_one_clear_line(
    runner: CliRunner, cli: ConsolidateGroup, tmp_path: Path
) -> None:
    result = runner.invoke(cli, ["summary", str(tmp_path / "typo.db")])
    assert result.exit_code == 2  # a name that names nothing: a usage error
    assert result.stderr.strip() == f"Error: {tmp_path / 'typo.db'}: no such experiment database"
    assert not (tmp_path / "typo.db").exists()


def test_plot_draws_every_simulation_into_a_png(runner: CliRunner, merged: Path) -> None:
    out = merged.parent / "resources.png"
    result = runner.invoke(
        plot_command, [str(merged), "--metric", "total_resources", "-o", str(out)]
    )
    assert result.exit_code == 0, result.output
    drawn = len(LEGACY_FIXTURES) - 1  # f1 recorded no resources per step
    assert f"total_resources of {drawn} simulations over 3 steps" in result.stdout
    assert f"not drawn: {F1}" in result.stderr
    assert out.read_bytes()[:8] == PNG_MAGIC
    pixels = imread(out)
    assert pixels.shape == (550, 1000, 4)
    rgb = (pixels[..., :3] * 255).round().astype(int).reshape(-1, 3)
    assert len(np.unique(rgb, axis=0)) > 100  # lines, text and legend, not a blank canvas
    # past a dozen runs: one band and mean in the first colour, over a thin line for each run
    assert "mean and 10-90% band over each run" in result.stdout
    assert (rgb == np.round(np.array(to_rgb("C0")) * 255)).all(axis=1).sum() > 50


def test_plot_draws_the_lines_asked_for(tmp_path: Path) -> None:
    figure = render_plot(
        [0, 1, 2],
        {"a": [1.0, 2.0, 3.0], "b": [float("nan")] * 3, "c": [3.0, float("nan"), 1.0]},
        metric="births",
        path=str(tmp_path / "x.svg"),
        title="births per step",
    )
    (axes,) = figure.axes
    assert [line.get_label() for line in axes.get_lines()] == ["a", "c"]
    assert (axes.get_xlabel(), axes.get_ylabel(), axes.get_title()) == (
        "step_number",
        "births",
        "births per step",
    )
    legend = axes.get_legend()
    assert legend is not None and [t.get_text() for t in legend.get_texts()] == ["a", "c"]
    assert (tmp_path / "x.svg").read_text().lstrip().startswith("<?xml")


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["-m", "nope"], "unknown metric 'nope'; choose one of: total_agents,"),
        (["-m", "births", "-s", "sim_2b8358f643,nope"], "no simulation nope"),
        (["-m", "total_agents", "-s", F1], "no simulation has a value of total_agents"),
        (["-m", "births", "--simulations", "sim_2b8358f643", "-o", "plot"], "name the image"),
    ],
    ids=["metric", "simulation", "no-values", "no-suffix"],
)
def test_plot_usage_errors(
    runner: CliRunner, cli: ConsolidateGroup, merged: Path, args: list[str], message: str
) -> None:
    out = ["-o", str(merged.parent / "x.png")] if "-o" not in args else []
    result = runner.invoke(cli, ["plot", str(merged), *args, *out])
    assert result.exit_code == 2, result.output
    assert message in result.stderr and len(result.stderr.splitlines()) == 1


def test_commands_have_help_with_an_example(runner: CliRunner) -> None:
    for command in (summary_command, query_command, plot_command):
        result = runner.invoke(command, ["--help"])
        assert result.exit_code == 0 and "Example:" in result.stdout, command.name


def test_summary_as_a_process_without_pandas_at_import(merged: Path) -> None:
    code = (
        "import sys\n"
        "import consolidate.cli.analysis as analysis\n"
        "assert 'pandas' not in sys.modules and 'matplotlib' not in sys.modules\n"
        f"analysis.summary_command.main([{str(merged)!r}], prog_name='consolidate summary')\n"
    )
    done = run_python(code, merged.parent)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines()[0].startswith("simulation_id")
    assert len(done.stdout.splitlines()) == len(LEGACY_FIXTURES) + 2


def test_plot_without_matplotlib_names_the_extra(merged: Path) -> None:
    code = (
        "import sys\n"
        "sys.modules['matplotlib'] = None  # as if it were not installed\n"
        "from consolidate.cli.analysis import plot_command\n"
        "from consolidate.cli.shared import ConsolidateGroup\n"
        "cli = ConsolidateGroup(commands=[plot_command])\n"
        f"cli.main(['plot', {str(merged)!r}, '-m', 'births', '-o', 'x.png'], prog_name='c')\n"
    )
    done = run_python(code, merged.parent)
    assert done.returncode == 1
    assert done.stderr.strip() == (
        "Error: plotting needs matplotlib, which is missing: pip install 'consolidate[plot]'"
    )
    assert not (merged.parent / "x.png").exists()
