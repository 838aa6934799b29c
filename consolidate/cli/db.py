"""``consolidate db upgrade|current``: the schema, without writing alembic commands by hand."""

from __future__ import annotations

import click

from consolidate.cli.shared import ConsolidateGroup


@click.group(cls=ConsolidateGroup)
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
    from consolidate.schema import migrations
    from consolidate.schema.targets import central_engine, describe, target_url

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
    from consolidate.schema import migrations
    from consolidate.schema.targets import central_engine, target_url

    url = target_url(target)
    engine = central_engine(url, must_exist=True)
    try:
        found = migrations.current(engine)
        wanted = migrations.head()
        if found is None:
            migrations.refuse_foreign(engine, reading=True)
    finally:
        engine.dispose()
    state = "(head)" if found == wanted else f"(head is {wanted}; run: consolidate db upgrade)"
    click.echo(f"{found or 'no schema'} {state}")
