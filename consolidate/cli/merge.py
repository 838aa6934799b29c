"""``consolidate merge``: the main job."""

from __future__ import annotations

import json
import sys
from typing import Any

import click
from tqdm import tqdm

from consolidate.cli.shared import progress, shown, table
from consolidate.errors import MergeFailed
from consolidate.merging.ledger import ALREADY_MERGED, OnConflict
from consolidate.merging.pipeline import merge
from consolidate.merging.report import MergeReport, SourceOutcome


@click.command("merge")
@click.argument("sources", nargs=-1, required=True)
@click.option(
    "-o",
    "--output",
    "target",
    required=True,
    help="Experiment database: a SQLite file path or a postgresql+psycopg:// URL.",
)
@click.option(
    "-e", "--experiment-id", help="Experiment to add the runs to [default: target's stem]."
)
@click.option("--dry-run", is_flag=True, help="Show the plan per source; write nothing.")
@click.option("--replace", is_flag=True, help="Re-merge sources whose content changed since.")
@click.option(
    "--on-conflict",
    type=click.Choice([c.value for c in OnConflict]),
    default=OnConflict.ERROR.value,
    show_default=True,
    help="When another source already holds a source's simulation_id.",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="Sources read and checked in parallel.",
)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="No progress bars and no summary.")
def merge_command(
    sources: tuple[str, ...],
    target: str,
    experiment_id: str | None,
    dry_run: bool,
    replace: bool,
    on_conflict: str,
    jobs: int,
    as_json: bool,
    quiet: bool,
) -> None:
    """Merge SOURCES (files, directories, glob patterns) into one experiment database.

    Each source is one transaction: it lands whole or not at all. Running the same command
    again merges only what is missing. Exit code 1 when any source was rejected.

    \b
    Example:
      consolidate merge runs/ -o experiment.db
      consolidate merge 'runs/*/simulation.db' -o experiment.db -e exp1
      consolidate merge runs/ -o postgresql+psycopg://me@dbhost/experiments --jobs 4
    """
    files = progress(quiet=quiet, desc="sources", unit="db")
    rows = progress(quiet=quiet, desc="rows", unit="row", unit_scale=True, position=1)

    def plan(total: int) -> None:
        files.reset(total=total)

    def source_done(outcome: SourceOutcome) -> None:
        files.update()
        if outcome.status == "rejected":
            files.write(f"rejected: {shown(outcome.path)}: {outcome.reason}", file=sys.stderr)

    with files, rows:
        report = merge(
            sources,
            target,
            experiment_id=experiment_id,
            dry_run=dry_run,
            replace=replace,
            on_conflict=on_conflict,
            jobs=jobs,
            on_plan=plan,
            on_source=source_done,
            on_table=lambda _table, n, _seconds: _advance(rows, n),
        )
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2))
    elif not quiet:
        click.echo(render(report))
    if not report.ok:
        raise MergeFailed(f"{report.count('rejected')} of {len(report.sources)} sources rejected")


def _advance(bar: tqdm[Any], n: int) -> None:
    bar.update(n)


def render(report: MergeReport) -> str:
    """The human report: the plan per source for a dry run, else pgloader's per-table summary."""
    lines = []
    if report.dry_run:
        lines.append(
            table(
                ["source", "layout", "simulation_id", "rows", "action"],
                [
                    [
                        shown(s.path),
                        f"{s.family} {s.schema_version}",
                        s.simulation_id or "",
                        sum(s.rows.values()),
                        s.reason or s.status,
                    ]
                    for s in report.sources
                ],
            )
        )
    else:
        rows = [[t.table, t.read, t.written, t.rejected, t.seconds] for t in report.tables]
        rows.append(
            [
                "total",
                sum(t.read for t in report.tables),
                sum(t.written for t in report.tables),
                sum(t.rejected for t in report.tables),
                sum(t.seconds for t in report.tables),
            ]
        )
        lines.append(table(["table", "read", "written", "rejected", "seconds"], rows))
        for s in report.sources:  # re-runs skip everything: name only the surprising skips
            if s.status == "skipped" and s.reason != ALREADY_MERGED:
                lines.append(f"skipped: {shown(s.path)}: {s.reason}")
    lines.append(
        f"{len(report.sources)} sources into {shown(report.target)} "
        f"(experiment {report.experiment_id}): "
        f"{report.count('merged')} merged, {report.count('skipped')} skipped, "
        f"{report.count('rejected')} rejected"
        + (f", {report.count('planned')} to merge" if report.dry_run else "")
        + f" in {report.seconds:.2f} s"
    )
    return "\n".join(lines)
