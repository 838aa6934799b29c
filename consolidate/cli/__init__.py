"""The ``consolidate`` command line: a thin click layer over the library.

Errors are translated in one place (:class:`ConsolidateGroup`); progress bars (tqdm) live only
in this package, on stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

from importlib import import_module

import click

from consolidate.cli.shared import ConsolidateGroup

__all__ = ["cli", "main"]

#: Command name -> (its module, its attribute, the line ``consolidate --help`` shows for it).
#: A command's module is imported when the command (or its own ``--help``) runs, not for the
#: group's help: importing all seven cost ``consolidate --help`` about a fifth of its time.
#: tests/test_startup.py holds each line to the command's own docstring.
COMMANDS = {
    "db": (
        "consolidate.cli.db",
        "db",
        "Manage the experiment database's schema (Alembic, without writing alembic commands).",
    ),
    "inspect": (
        "consolidate.cli.inspect",
        "inspect_command",
        "Show each source's layout, tables and row counts, its simulation_id, and its problems.",
    ),
    "merge": (
        "consolidate.cli.merge",
        "merge_command",
        "Merge SOURCES (files, directories, glob patterns) into one experiment database.",
    ),
    "plot": (
        "consolidate.cli.analysis",
        "plot_command",
        "Draw METRIC over step_number into an image file: one line per simulation, or, past a "
        "dozen simulations or with --group-by, the mean and the 10-90% band of the runs (per "
        "group) over a thin line for each.",
    ),
    "query": (
        "consolidate.cli.analysis",
        "query_command",
        "Run one read-only SQL statement on TARGET and print its rows (an aligned table).",
    ),
    "summary": (
        "consolidate.cli.analysis",
        "summary_command",
        "One row per simulation: origin, layout, steps, agents, births, deaths and status.",
    ),
    "verify": (
        "consolidate.cli.verify",
        "verify_command",
        "Prove TARGET holds every row of its sources; exit 0 only when everything matches.",
    ),
}


class _Commands(ConsolidateGroup):
    """The top-level group: commands are imported by name, on use."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(COMMANDS)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        if cmd_name not in COMMANDS:
            return None
        module, attribute, _line = COMMANDS[cmd_name]
        command: click.Command = getattr(import_module(module), attribute)
        return command

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        # click's own layout (Group.format_commands), each line shortened by click's own rule,
        # from the table instead of the modules.
        limit = formatter.width - 6 - max(len(name) for name in COMMANDS)
        rows = [
            (name, click.Command(name, help=COMMANDS[name][2]).get_short_help_str(limit))
            for name in sorted(COMMANDS)
        ]
        with formatter.section("Commands"):
            formatter.write_dl(rows)


@click.group(cls=_Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="consolidate")
def cli() -> None:
    """Merge legacy AgentFarm run databases into one experiment database, and check it."""


def main() -> None:
    """Console-script entry point."""
    import signal

    try:
        cli(prog_name="consolidate")
    finally:
        # The job is done and reported: a Ctrl-C now must not turn its exit code into a kill
        # by SIGINT while Python shuts down (it restores the default disposition of signals it
        # handles, and any thread may receive one); an ignored signal stays ignored.
        signal.signal(signal.SIGINT, signal.SIG_IGN)
