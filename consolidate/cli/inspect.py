"""``consolidate inspect``: what each source is, before a merge."""

from __future__ import annotations

from typing import TYPE_CHECKING

import click

from consolidate.cli.shared import shown

if TYPE_CHECKING:  # the library is imported when the command runs, not for --help
    from consolidate.layouts.inspection import SourceReport
    from consolidate.merging.report import SourceOutcome


@click.command("inspect")
@click.argument("sources", nargs=-1, required=True)
@click.option("--json", "as_json", is_flag=True, help="Print a JSON array, one object per source.")
@click.option(
    "--target",
    metavar="TARGET",
    help="Also say what a merge into TARGET (file or URL) would do with each source; "
    "a dry run: nothing is written.",
)
def inspect_command(sources: tuple[str, ...], as_json: bool, target: str | None) -> None:
    """Show each source's layout, tables and row counts, its simulation_id, and its problems.

    Nothing is written and sources are opened read-only. With --target, each source also gets
    the verdict a merge into that target would give it (merge, skip, or reject with the reason),
    from the same planning as ``merge --dry-run``, values PostgreSQL cannot store included.
    Exit code 1 when a source could not be merged as it is (or would be rejected by TARGET).

    \b
    Example:
      consolidate inspect runs/
      consolidate inspect runs/sim_001.db --json
      consolidate inspect runs/ --target postgresql+psycopg://db.lab/experiments
    """
    from consolidate.layouts.inspection import inspect

    reports = inspect(sources)
    verdicts: dict[str, list[SourceOutcome]] = {}
    if target is not None:
        from consolidate.merging.pipeline import merge

        for outcome in merge(sources, target, dry_run=True).sources:
            verdicts.setdefault(outcome.path, []).append(outcome)
    if as_json:
        objects = [r.as_json() for r in reports]
        if target is not None:
            for report, obj in zip(reports, objects, strict=True):
                obj["target_verdicts"] = [verdict_json(o) for o in verdicts.get(report.path, [])]
        import json  # only --json prints it: `inspect --help` does not load it

        click.echo(json.dumps(objects, indent=2))
    else:
        blocks = [render(r) + render_verdicts(target, verdicts.get(r.path, [])) for r in reports]
        click.echo("\n".join(blocks))
    refused = any(o.status == "rejected" for found in verdicts.values() for o in found)
    if refused or not all(r.mergeable for r in reports):
        raise click.exceptions.Exit(1)


def verdict_json(outcome: SourceOutcome) -> dict[str, object]:
    """What a merge would do: ``action`` is merge, skip or reject, for one simulation."""
    action = {"planned": "merge", "skipped": "skip"}.get(outcome.status, "reject")
    return {"simulation_id": outcome.simulation_id, "action": action, "reason": outcome.reason}


def render_verdicts(target: str | None, outcomes: list[SourceOutcome]) -> str:
    if target is None:
        return ""
    where = shown(target)
    lines = []
    for outcome in outcomes:
        verdict = verdict_json(outcome)
        reason = f" ({verdict['reason']})" if verdict["action"] != "merge" else ""
        simulation = verdict["simulation_id"] or "-"
        lines.append(f"  into {where}: {verdict['action']} {simulation}{reason}")
    return "".join(f"\n{line}" for line in lines)


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
