"""``consolidate verify``: exit 0 only when everything holds."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING

import click

from consolidate.cli.shared import Bar, progress, shown, table
from consolidate.errors import VerificationFailed

if TYPE_CHECKING:  # the library is imported when the command runs, not for --help
    from consolidate.proof.findings import VerifyReport


@click.command("verify")
@click.argument("target")
@click.argument("sources", nargs=-1)
@click.option("--json", "as_json", is_flag=True, help="Print the report as JSON on stdout.")
@click.option("--quiet", "-q", is_flag=True, help="Print only mismatches.")
def verify_command(target: str, sources: tuple[str, ...], as_json: bool, quiet: bool) -> None:
    """Prove TARGET holds every row of its sources; exit 0 only when everything matches.

    Without SOURCES the source paths recorded at merge time are re-read where they still exist;
    the row counts recorded at merge time are always checked.

    \b
    Example:
      consolidate verify experiment.db
      consolidate verify experiment.db runs/
    """
    from consolidate.proof.verification import verify

    with progress(quiet=quiet, desc="simulations", unit="sim") as bar:
        report = verify(target, sources, on_simulation=lambda _sim: _tick(bar))
    if as_json:
        click.echo(json.dumps(report.as_json(), indent=2, default=str))
    elif not quiet:
        click.echo(render(report))
    for mismatch in report.mismatches:
        click.echo(f"mismatch: {mismatch}", err=True)
    if not report.ok:
        raise VerificationFailed(f"{len(report.mismatches)} checks failed in {report.target}")


def _tick(bar: Bar) -> None:
    bar.update()


#: Short column headers so the grid of simulations by tables fits a terminal.
SHORT = {
    "agent_actions": "actions",
    "agent_states": "states",
    "combat_events": "combat",
    "experiment_events": "exp_ev",
    "experiment_metrics": "exp_met",
    "health_incidents": "health",
    "interactions": "inter",
    "learning_experiences": "learn",
    "legacy_experiments": "leg_exp",
    "reproduction_events": "repro",
    "resource_states": "res_st",
    "resources": "res",
    "sharing_events": "share",
    "simulation_config": "config",
    "simulation_metrics": "metrics",
    "simulation_steps": "steps",
    "simulations": "sim_row",
    "social_interactions": "social",
}


def render(report: VerifyReport) -> str:
    """A grid of simulations by tables: ok, FAIL, or '-' where the simulation has no rows."""
    tables = sorted({t for _, t in report.cells})
    rows = [
        [sim, *(_cell(report.cells.get((sim, t))) for t in tables)] for sim in report.simulations
    ]
    headers = ["simulation", *(SHORT.get(t, t) for t in tables)]
    lines = [table(headers, rows)] if tables else []
    lines += [f"note: {n}" for n in report.notes]
    verdict = "OK" if report.ok else f"FAILED ({counted(len(report.mismatches), 'mismatch')})"
    lines.append(
        f"{shown(report.target)}: {counted(len(report.simulations), 'simulation')}, "
        f"{counted(len(report.sources_compared), 'source')} compared, "
        f"{counted(report.rows_compared, 'row')} compared in {report.seconds:.2f} s: {verdict}"
    )
    return "\n".join(lines)


def counted(n: int, noun: str) -> str:
    """``1 source``, ``2 sources``, ``1,434 rows``, ``2 mismatches``."""
    plural = noun + ("es" if noun.endswith(("s", "sh", "ch", "x")) else "s")
    return f"{n:,} {noun if n == 1 else plural}"


def _cell(ok: bool | None) -> str:
    return "-" if ok is None else "ok" if ok else "FAIL"
