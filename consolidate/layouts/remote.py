"""An experiment database named by URL as a source: ``merge postgresql+psycopg://host/lab -o x``.

Both sinks and verify read sources through sqlite3 (ATTACH, or the mapping's SELECT), so a
database on a server is first copied, table by table and in batches, into a private SQLite file
at the same schema revision; that file is then an experiment database like any other, and is
removed afterwards. The server's database is only read.
"""

from __future__ import annotations

import tempfile
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from pathlib import Path

from sqlalchemy import Connection, Engine, MetaData, Table, inspect, select
from sqlalchemy.exc import SQLAlchemyError

from consolidate.errors import SourceError
from consolidate.schema import migrations
from consolidate.schema.targets import central_engine, describe, target_url
from consolidate.sources.discover import SourceFile, discover

BATCH_ROWS = 5_000


def is_url(argument: str) -> bool:
    return "://" in argument


@contextmanager
def sources(arguments: Iterable[str], *, exclude: Path | None = None) -> Iterator[list[SourceFile]]:
    """:func:`discover` for paths, plus a private SQLite copy of each database named by URL.

    Raises:
        SourceError: a URL names no experiment database, or it cannot be read.
        UsageError: see :func:`discover`.
    """
    arguments = [str(a) for a in arguments]  # paths are accepted too
    urls = [a for a in arguments if is_url(a)]
    paths = [a for a in arguments if not is_url(a)]
    files = discover(paths, exclude=exclude) if paths or not urls else []
    with tempfile.TemporaryDirectory(prefix="consolidate-url-") as folder:
        for n, url in enumerate(urls):
            copy = Path(folder) / f"source-{n}.db"
            label = copy_to_sqlite(url, copy)
            files.append(SourceFile(copy, label, label=label))
        yield files


def copy_to_sqlite(url: str, path: Path) -> str:
    """Copy the experiment database at ``url`` into a new SQLite file; returns its name."""
    source = central_engine(target_url(url), must_exist=True)
    name = describe(source.url)
    target = central_engine(path)
    try:
        revision = migrations.current(source)
        if revision is None:
            raise SourceError(name, "not an experiment database (no schema revision)")
        migrations.upgrade(target, revision)
        with _snapshot(source) as read, target.begin() as write:
            present = set(inspect(read).get_table_names())
            tables = MetaData()
            tables.reflect(bind=write)
            for table in tables.sorted_tables:  # parents before the rows that reference them
                if table.name != "alembic_version" and table.name in present:
                    _copy_table(read, write, table)
    except SQLAlchemyError as exc:
        reason = (str(getattr(exc, "orig", exc)).splitlines() or ["cannot be read"])[0]
        raise SourceError(name, f"cannot be read ({reason})") from exc
    finally:
        source.dispose()
        target.dispose()
    return name


@contextmanager
def _snapshot(source: Engine) -> Iterator[Connection]:
    """One read-only transaction that sees every table as of one moment.

    Under PostgreSQL's default READ COMMITTED each SELECT sees what was committed when it began,
    so a writer committing between two tables' reads would leave rows whose simulation the
    copy lacks. REPEATABLE READ fixes one snapshot for the whole transaction.
    """
    with source.connect() as conn:
        if conn.dialect.name == "postgresql":
            conn = conn.execution_options(
                isolation_level="REPEATABLE READ", postgresql_readonly=True
            )
        with conn.begin():
            yield conn


def _copy_table(read: Connection, write: Connection, into: Table) -> None:
    origin = Table(into.name, MetaData(), autoload_with=read)
    columns = [origin.c[c.name] for c in into.columns if c.name in origin.c]
    rows = read.execution_options(yield_per=BATCH_ROWS).execute(select(*columns))
    for batch in rows.partitions():
        write.execute(into.insert(), [dict(r._mapping) for r in batch])
