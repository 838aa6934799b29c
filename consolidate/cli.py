"""The ``consolidate`` command line: a thin click layer over the library.

Errors are translated in one place (:class:`ConsolidateGroup`); progress bars (tqdm) live only
here, on stderr, and only when stderr is a terminal.
"""

from __future__ import annotations

from typing import Any

import click
from sqlalchemy.exc import DBAPIError

from consolidate import migrations
from consolidate.db import central_engine, describe, target_url
from consolidate.errors import ConsolidateError


class _UsageFailure(click.ClickException):
    """A one-line usage error (exit 2) without click's usage banner."""

    exit_code = 2


class ConsolidateGroup(click.Group):
    """Turns every :class:`ConsolidateError` into one ``Error:`` line and its exit code."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConsolidateError as exc:
            failure = _UsageFailure if exc.exit_code == 2 else click.ClickException
            raise failure(str(exc)) from exc
        except DBAPIError as exc:
            # Anything the library did not anticipate still gets one line, never a traceback.
            raise click.ClickException(f"database error: {str(exc.orig).splitlines()[0]}") from exc


@click.group(cls=ConsolidateGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(package_name="consolidate")
def cli() -> None:
    """Merge legacy AgentFarm run databases into one experiment database, and check it."""


@cli.group(cls=ConsolidateGroup)
def db() -> None:
    """Manage the experiment database's schema (Alembic, without writing alembic commands)."""


@db.command("upgrade")
@click.argument("target")
@click.option("--revision", default="head", show_default=True, help="Revision to upgrade to.")
def db_upgrade(target: str, revision: str) -> None:
    """Create or upgrade the schema of TARGET (a SQLite file or a database URL).

    \b
    Example:
      consolidate db upgrade experiment.db
    """
    url = target_url(target)
    engine = central_engine(url)
    try:
        migrations.upgrade(engine, revision)
        click.echo(f"{describe(url)}: at revision {migrations.current(engine)}")
    finally:
        engine.dispose()


@db.command("current")
@click.argument("target")
def db_current(target: str) -> None:
    """Print the schema revision of TARGET, and whether it is the head.

    \b
    Example:
      consolidate db current experiment.db
    """
    url = target_url(target)
    engine = central_engine(url, must_exist=True)
    try:
        found = migrations.current(engine)
        wanted = migrations.head()
    finally:
        engine.dispose()
    state = "(head)" if found == wanted else f"(head is {wanted}; run: consolidate db upgrade)"
    click.echo(f"{found or 'no schema'} {state}")


def main() -> None:
    """Console-script entry point."""
    cli(prog_name="consolidate")
