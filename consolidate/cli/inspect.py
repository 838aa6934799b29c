"""``consolidate inspect``: what each source is, before a merge."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from consolidate.cli.shared import shown

if TYPE_CHECKING:  # the library is imported when the command runs, not for --help
    from consolidate.layouts.inspection import SourceReport


@click.command("inspect")
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per source.")
def inspect_command(sources: tuple[str, ...], as_json: bool) -> None:
    """Show each source's layout, tables and row counts, its simulation_id, and its problems.

    Nothing is written and sources are opened read-only. Exit code 1 when a source could not be
    merged as it is.

    \b
    Example:
      consolidate inspect runs/
      consolidate inspect runs/sim_001.db --json
    """
    from consolidate.layouts.inspection import inspect

    reports = inspect(sources)
    if as_json:
        click.echo(json.dumps([r.as_json() for r in reports], indent=2))
    else:
        click.echo("\n".join(render(r) for r in reports))
    if not all(r.mergeable for r in reports):
        raise click.exceptions.Exit(1)


def render(report: SourceReport) -> str:
    layout = f"{report.family} {report.schema_version}"
    if report.nearest_family:
        layout += f" (nearest {report.nearest_family})"
    head = (
        f"{shown(report.path)}\n  layout: {layout}   simulation_id: {report.simulation_id or '-'}"
    )
    lines = [head]
    if report.tables:
        width = max(len(t) for t in report.tables)
        lines += [f"    {name.ljust(width)}  {rows:>9,}" for name, rows in report.tables.items()]
    lines += [f"  problem: {p}" for p in report.problems]
    return "\n".join(lines)
