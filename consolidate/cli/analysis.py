"""``consolidate summary``, ``query`` and ``plot``: the read side, over ExperimentQueryTool.

pandas (through :mod:`consolidate.analysis.query`) and matplotlib are imported inside the
commands, so ``consolidate --help`` never pays for them.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from consolidate.cli.plotting import BAND_ABOVE
from consolidate.cli.shared import shown, table
from consolidate.errors import ConsolidateError, UsageError

if (
    TYPE_CHECKING
):  # annotations only: at run time pandas comes in through consolidate.analysis.query
    from matplotlib.figure import Figure
    from pandas import DataFrame

PLOT_EXTRA = "pip install 'consolidate[plot]'"
#: ``summary --json`` keys (named like ``inspect --json``'s) and the summary columns they show.
SUMMARY = {
    "simulation_id": "simulation_id",
    "experiment_id": "experiment_id",
    "origin": "origin",
    "family": "source_family",
    "schema_version": "source_schema_version",
    "steps": "total_steps",
    "agents": "agents",
    "births": "total_births",
    "deaths": "total_deaths",
    "status": "status",
}


@click.command("summary")
@click.argument("target")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object each.")
def summary_command(target: str, as_json: bool) -> None:
    """One row per simulation: origin, layout, steps, agents, births, deaths and status.

    Births and deaths are summed over every step; '-' where the run's layout did not record them.

    \b
    Example:
      consolidate summary experiment.db
      consolidate summary postgresql+psycopg://me@db.example.org/experiments --json
    """
    from consolidate.analysis.query import ExperimentQueryTool

    with ExperimentQueryTool(target) as tool:
        columns, rows = plain(tool.get_simulation_summary())
        name = tool.name
    summaries = [dict(zip(columns, row, strict=True)) for row in rows]
    records = [{key: s[column] for key, column in SUMMARY.items()} for s in summaries]
    if as_json:
        click.echo(json.dumps(records, indent=2))
        return
    headers = ["simulation_id", "origin", "layout", "steps", "agents", "births", "deaths", "status"]
    body = [
        [r["simulation_id"], r["origin"], _layout(r)]
        + [r[k] for k in ("steps", "agents", "births", "deaths", "status")]
        for r in records
    ]
    click.echo(aligned(headers, body, missing="-"))
    merged = sum(r["origin"] == "merge" for r in records)
    click.echo(
        f"{shown(name)}: {len(records)} simulations ({merged} merged, "
        f"{len(records) - merged} written)"
    )


@click.command("query")
@click.argument("target")
@click.argument("sql")
@click.option("--csv", "as_csv", is_flag=True, help="Print CSV (header first).")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array of row objects.")
def query_command(target: str, sql: str, as_csv: bool, as_json: bool) -> None:
    """Run one read-only SQL statement on TARGET and print its rows (an aligned table).

    The statement runs in a read-only transaction, so a write to the database fails and changes
    nothing; it guards against mistakes, not hostile users (give those a read-only role).

    \b
    Example:
      consolidate query experiment.db "SELECT simulation_id, count(*) FROM agents GROUP BY 1"
      consolidate query experiment.db "SELECT * FROM simulation_steps" --csv > steps.csv
    """
    if as_csv and as_json:
        raise UsageError("--csv and --json print different formats: choose one")
    from consolidate.analysis.query import ExperimentQueryTool

    with ExperimentQueryTool(target) as tool:
        frame = tool.read_sql(sql)
    if as_csv:
        click.echo(frame.to_csv(index=False, lineterminator="\n"), nl=False)
        return
    columns, rows = plain(frame)
    if as_json:
        if len(set(columns)) != len(columns):
            raise UsageError("--json needs distinct column names: give repeated ones an alias")
        records = [dict(zip(columns, row, strict=True)) for row in rows]
        click.echo(json.dumps(records, indent=2, default=str))
    else:
        click.echo(aligned(columns, rows))


@click.command("plot")
@click.argument("target")
@click.option("-m", "--metric", required=True, help="A numeric column of simulation_steps.")
@click.option(
    "-s",
    "--simulations",
    multiple=True,
    help="Simulations to draw: repeat the option or separate ids with commas [default: all].",
)
@click.option("-o", "--output", required=True, help="The image: FILE.png (or .svg, .pdf).")
@click.option(
    "-g",
    "--group-by",
    metavar="KEY",
    help="A key of simulations.parameters: one mean and band per value of it.",
)
def plot_command(
    target: str, metric: str, simulations: tuple[str, ...], output: str, group_by: str | None
) -> None:
    """Draw METRIC over step_number into an image file: one line per simulation, or, past a
    dozen simulations or with --group-by, the mean and the 10-90% band of the runs (per group)
    over a thin line for each.

    \b
    Example:
      consolidate plot experiment.db --metric total_agents -o agents.png
      consolidate plot experiment.db -m total_resources -s sim_001,sim_002 -o resources.png
      consolidate plot experiment.db -m total_agents --group-by learning_rate -o sweep.png
    """
    try:  # checked first: no point querying for a picture that cannot be drawn
        import matplotlib
    except ImportError as exc:
        raise ConsolidateError(
            f"plotting needs matplotlib, which is missing: {PLOT_EXTRA}"
        ) from exc
    matplotlib.use("Agg")  # headless: cluster nodes and CI have no display
    from consolidate.analysis.query import ExperimentQueryTool

    ids = [i.strip() for option in simulations for i in option.split(",") if i.strip()]
    with ExperimentQueryTool(target) as tool:
        wide = tool.compare_simulations(metric, ids or None)
        name = tool.name
        listed = tool.list_simulations() if group_by else None
    groups = None
    if listed is not None and group_by is not None:
        from consolidate.cli.plotting import groups_by_parameter

        parameters = dict(zip(listed["simulation_id"], listed["parameters"], strict=True))
        groups = groups_by_parameter(parameters, group_by)
    lines = {str(sim): [float(v) for v in wide[sim]] for sim in wide.columns}
    steps = [int(s) for s in wide.index]
    render_plot(
        steps,
        lines,
        metric=metric,
        path=output,
        title=f"{metric} per step in {shown(name)}",
        groups=groups,
    )
    drawn = [s for s, values in lines.items() if not all(math.isnan(v) for v in values)]
    how = ""
    if groups is not None or len(drawn) > BAND_ABOVE:
        per = f" per {group_by} ({len({groups[s] for s in drawn})} groups)" if groups else ""
        how = f": mean and 10-90% band{per} over each run"
    click.echo(f"{output}: {metric} of {len(drawn)} simulations over {len(steps)} steps{how}")
    for sim in sorted(lines.keys() - set(drawn)):
        click.echo(f"not drawn: {sim} has no {metric} values", err=True)


def render_plot(
    steps: Sequence[int],
    lines: dict[str, list[float]],
    *,
    metric: str,
    path: str,
    title: str,
    groups: dict[str, str] | None = None,
) -> Figure:
    """Draw one line per simulation with a value (all-NaN ones are left out) and save it; past
    :data:`~consolidate.cli.plotting.BAND_ABOVE` simulations, or when ``groups`` (simulation ->
    group label) is given, the mean and quantile band per group over thin lines instead. The
    legend is beside the axes.

    Uses matplotlib's ``Figure`` directly, never pyplot: no global state and no display needed.
    Returns the figure so callers (and tests) can look at what was drawn.

    Raises:
        QueryError: no simulation has a value to draw.
        UsageError: the file's folder is missing or its suffix names no image format.
    """
    from matplotlib.figure import Figure
    from matplotlib.ticker import MaxNLocator

    from consolidate.errors import QueryError

    drawn = {s: v for s, v in lines.items() if not all(math.isnan(x) for x in v)}
    if not drawn:
        raise QueryError(f"no simulation has a value of {metric} to plot")
    out = Path(path)
    image_format = out.suffix.lstrip(".").lower()
    if not image_format:
        raise UsageError(f"{path}: name the image with its format, e.g. {out.name}.png")
    if not out.parent.is_dir():
        raise UsageError(f"{path}: the folder {out.parent} does not exist")
    from consolidate.cli.plotting import draw_bands

    figure = Figure(figsize=(10, 5.5), layout="constrained")
    axes = figure.subplots()
    if groups is not None or len(drawn) > BAND_ABOVE:
        draw_bands(axes, steps, drawn, groups or {})
        legend_title = "simulations"
    else:
        marker = "o" if len(steps) <= 50 else None  # a short run would be near invisible
        for i, (simulation, values) in enumerate(drawn.items()):
            style = ("-", "--", ":", "-.")[i // 10 % 4]  # the default cycle has 10 colours
            axes.plot(steps, values, style, marker=marker, markersize=3, label=simulation)
        legend_title = "simulation_id"
    axes.set(xlabel="step_number", ylabel=metric, title=title)
    # Steps are whole numbers; "auto" asks for as many ticks as the axis has room for.
    axes.xaxis.set_major_locator(MaxNLocator(nbins="auto", integer=True))
    axes.grid(alpha=0.3)
    # Beside the axes, so it never hides a line (at most a dozen runs or a few groups).
    axes.legend(title=legend_title, fontsize="small", loc="upper left", bbox_to_anchor=(1.01, 1))
    try:
        figure.savefig(out, format=image_format, dpi=100)
    except ValueError as exc:  # matplotlib's message lists the formats it supports
        raise UsageError(f"{path}: {exc}") from exc
    return figure


def plain(frame: DataFrame) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows as plain Python values, ``None`` for NA/NaN/NaT."""
    cells = frame.astype(object).where(frame.notna(), None)
    return [str(c) for c in frame.columns], list(cells.itertuples(index=False, name=None))


def aligned(headers: Sequence[str], rows: Sequence[Sequence[object]], missing: str = "") -> str:
    """:func:`consolidate.cli.shared.table`, but a number column with missing values (``None``,
    shown as ``missing``) stays right-aligned; ``table`` right-aligns only all-number columns."""
    text = [[missing if v is None else v for v in row] for row in rows]
    for i, header in enumerate(headers):
        values = [row[i] for row in rows if row[i] is not None]
        if values and all(isinstance(v, int | float) and not isinstance(v, bool) for v in values):
            cells = [missing if row[i] is None else _number(row[i]) for row in rows]
            width = max(len(header), *map(len, cells))
            for row, cell in zip(text, cells, strict=True):
                row[i] = cell.rjust(width)
    return table(headers, text)


def _number(value: object) -> str:
    return f"{value:,}" if isinstance(value, int) else f"{value:,.3f}"


def _layout(record: dict[str, Any]) -> str:
    parts = [record["family"], record["schema_version"]]
    return " ".join(p for p in parts if p) or "-"  # the writer's runs have no legacy layout
