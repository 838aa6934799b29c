"""``consolidate merge``: the main job."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import TYPE_CHECKING

import click

from consolidate.cli.shared import Bar, progress, shown, table
from consolidate.errors import Interrupted, MergeFailed
from consolidate.merging.conflict import OnConflict

if TYPE_CHECKING:  # the library is imported when the command runs, not for --help
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
    from consolidate.merging.entry import merge  # SQLAlchemy only if a source needs it

    files = progress(quiet=quiet, desc="sources", unit="db")
    rows = progress(quiet=quiet, desc="rows", unit="row", unit_scale=True, position=1)

    def plan(total: int) -> None:
        files.reset(total=total)

    def source_done(outcome: SourceOutcome) -> None:
        files.update()
        if outcome.status == "rejected":
            files.write(f"rejected: {shown(outcome.path)}: {outcome.reason}", file=sys.stderr)

    # Ctrl-C is handled until the report is out, so a late one never loses the report.
    with _stop_on_ctrl_c() as stop:
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
                should_stop=stop.is_set,
            )
        if as_json:
            click.echo(json.dumps(report.as_json(), indent=2))
        elif not quiet:
            click.echo(render(report))
    if report.stopped:
        raise Interrupted(
            f"interrupted: {report.unstarted} not started; "
            "run the same command again to finish the job"
        )
    if not report.ok:
        raise MergeFailed(f"{report.count('rejected')} of {len(report.sources)} sources rejected")


@contextmanager
def _stop_on_ctrl_c() -> Iterator[threading.Event]:
    """The first Ctrl-C sets the event: no further source starts, the one under way finishes
    its transaction. A second Ctrl-C ends the process at once; the target stays consistent
    because every source is one transaction (as after ``kill -9``).

    Only the main thread may install a handler; elsewhere (a library caller's thread) the event
    is returned and never set.
    """
    stop = threading.Event()
    if threading.current_thread() is not threading.main_thread():
        yield stop
        return

    def on_sigint(_signum: int, _frame: FrameType | None) -> None:
        # os.write, not print: a handler may run while the main thread is writing to stderr.
        if stop.is_set():
            os.write(
                2,
                b"\naborted: the source under way is rolled back (or was committed whole); "
                b"run the same command again to finish the job\n",
            )
            os._exit(130)
        stop.set()
        os.write(2, b"\nstopping after the current source (Ctrl-C again to abort at once)\n")

    previous = signal.signal(signal.SIGINT, on_sigint)
    try:
        yield stop
    finally:
        signal.signal(signal.SIGINT, previous)


def _advance(bar: Bar, n: int) -> None:
    bar.update(n)


def render(report: MergeReport) -> str:
    """The human report: the plan per source for a dry run, else pgloader's per-table summary."""
    from consolidate.merging.report import ALREADY_THERE
    from consolidate.merging.snapshot import ALREADY_MERGED

    lines = []
    if report.dry_run:
        lines.append(
            table(
                ["source", "layout", "simulation_id", "rows", "action"],
                [
                    [
                        shown(s.path),
                        f"{s.family} {s.schema_version}" if s.family else "-",
                        s.simulation_id or "",
                        sum(s.rows.values()),
                        s.reason or s.status,
                    ]
                    for s in report.sources
                ],
            )
        )
    elif report.count("merged") or report.count("rejected"):  # a re-run that skips all: no table
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
    if not report.dry_run:
        for s in report.sources:  # re-runs skip everything: name only the surprising skips
            if s.status == "skipped" and s.reason not in (ALREADY_MERGED, ALREADY_THERE):
                lines.append(f"skipped: {shown(s.path)}: {s.reason}")
    files = len({s.path for s in report.sources})
    # An experiment database brings several simulations, each with its own outcome.
    sources = files + report.not_started
    counted = (
        f"{sources} sources"
        if files == len(report.sources)
        else f"{len(report.sources)} simulations from {sources} source{'s' * (sources != 1)}"
    )
    lines.append(
        f"{counted} into {shown(report.target)} "
        f"(experiment {report.experiment_id}): "
        f"{report.count('merged')} merged, {report.count('skipped')} skipped, "
        f"{report.count('rejected')} rejected"
        + (f", {report.count('planned')} to merge" if report.dry_run else "")
        + (f", {report.unstarted} not started" if report.stopped else "")
        + f" in {report.seconds:.2f} s"
    )
    return "\n".join(lines)
