"""The ``consolidate`` command line: a thin click layer over the library.

Errors are translated in one place (:class:`ConsolidateGroup`); progress bars (tqdm) live only
in this package, on stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

import click

from consolidate.cli.analysis import plot_command, query_command, summary_command
from consolidate.cli.db import db
from consolidate.cli.inspect import inspect_command
from consolidate.cli.merge import merge_command
from consolidate.cli.shared import ConsolidateGroup
from consolidate.cli.verify import verify_command

__all__ = ["cli", "main"]


@click.group(cls=ConsolidateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="consolidate")
def cli() -> None:
    """Merge legacy AgentFarm run databases into one experiment database, and check it."""


cli.add_command(merge_command)
cli.add_command(inspect_command)
cli.add_command(verify_command)
cli.add_command(summary_command)
cli.add_command(query_command)
cli.add_command(plot_command)
cli.add_command(db)


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
