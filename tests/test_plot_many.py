"""Plots of many runs stay readable: past a dozen simulations a mean and a band (per group with
--group-by) over thin lines, the legend beside the axes, x ticks that do not overlap."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from matplotlib.figure import Figure
from matplotlib.image import imread
from matplotlib.transforms import Bbox

from consolidate import DataLoggingConfig, ExperimentDatabase
from consolidate.cli import cli
from consolidate.cli.analysis import render_plot

RUNS = 91
STEPS = 120
FOODS = ("high", "low", "mid")


@pytest.fixture(scope="module")
def sweep(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """91 written runs of a sweep over ``food``; total_agents drifts with it."""
    target = tmp_path_factory.mktemp("sweep") / "sweep.db"
    config = DataLoggingConfig(buffer_size=10_000, commit_interval=3600)
    with ExperimentDatabase(str(target), "sweep") as db:
        for run in range(RUNS):
            food = FOODS[run % 3]
            params = {"seed": run, "food": food}
            with db.create_simulation_context(f"sim_{run:03d}", params, config) as ctx:
                for step in range(STEPS):
                    agents = 50 + (FOODS.index(food) - 1) * step // 4 + (run * 7 + step) % 5
                    ctx.log_step(step, [], [], {"total_agents": agents})
    return target


def disjoint(boxes: list[Bbox]) -> bool:
    return not any(a.overlaps(b) for i, a in enumerate(boxes) for b in boxes[i + 1 :])


def assert_readable(figure: Figure, png: Path) -> None:
    assert imread(png).shape == (550, 1000, 4)  # the size asked for, whatever the legend
    figure.draw_without_rendering()  # lays the figure out, as savefig did
    (axes,) = figure.axes
    legend = axes.get_legend()
    assert legend is not None
    plot_area = axes.get_window_extent()
    assert not legend.get_window_extent().overlaps(plot_area)  # nothing is covered
    assert plot_area.width > 0.6 * figure.bbox.width  # and the lines keep most of the page
    ticks = [t.get_window_extent() for t in axes.get_xticklabels() if t.get_text()]
    assert len(ticks) >= 3 and disjoint(ticks)


def test_many_runs_are_a_mean_and_a_band_over_thin_lines(
    runner: CliRunner, sweep: Path, tmp_path: Path
) -> None:
    png = tmp_path / "agents.png"
    result = runner.invoke(cli, ["plot", str(sweep), "-m", "total_agents", "-o", str(png)])
    assert result.exit_code == 0, result.output
    assert result.stdout == (
        f"{png}: total_agents of {RUNS} simulations over {STEPS} steps: "
        "mean and 10-90% band over each run\n"
    )
    lines = {f"sim_{r:03d}": [float(50 + r % 7 + s % 3) for s in range(STEPS)] for r in range(RUNS)}
    figure = render_plot(
        list(range(STEPS)), lines, metric="total_agents", path=str(png), title="many"
    )
    assert_readable(figure, png)
    (axes,) = figure.axes
    drawn = axes.get_lines()
    assert len(drawn) == RUNS + 1  # a thin line each, and the mean
    assert sum(line.get_linewidth() > 1 for line in drawn) == 1
    legend = axes.get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()] == [
        "all runs: 10%-90% of runs",
        f"all runs: mean of {RUNS}",
    ]


def test_group_by_draws_one_band_per_parameter_value(sweep: Path, tmp_path: Path) -> None:
    png = tmp_path / "by-food.png"
    result = CliRunner().invoke(
        cli, ["plot", str(sweep), "-m", "total_agents", "--group-by", "food", "-o", str(png)]
    )
    assert result.exit_code == 0, result.output
    assert "mean and 10-90% band per food (3 groups) over each run" in result.stdout
    groups = {f"sim_{r:03d}": f"food={FOODS[r % 3]}" for r in range(RUNS)}
    lines = {s: [float(r) for r in range(STEPS)] for s in groups}
    figure = render_plot(
        list(range(STEPS)), lines, metric="m", path=str(png), title="t", groups=groups
    )
    assert_readable(figure, png)
    legend = figure.axes[0].get_legend()
    assert legend is not None
    assert [t.get_text() for t in legend.get_texts()][1::2] == [
        "food=high: mean of 31",
        "food=low: mean of 30",
        "food=mid: mean of 30",
    ]


def test_group_by_a_key_no_run_has_names_the_keys(runner: CliRunner, sweep: Path) -> None:
    result = runner.invoke(
        cli, ["plot", str(sweep), "-m", "total_agents", "-g", "nope", "-o", "x.png"]
    )
    assert result.exit_code == 2
    assert result.stderr == (
        "Error: --group-by nope: no simulation has that parameter; keys: food, seed\n"
    )
