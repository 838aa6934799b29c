"""Start-up: a command imports only what it needs, so ``consolidate --help`` and ``consolidate
inspect`` start about as fast as Python itself (issue 15). Checked by what a real process has
imported, never by a clock."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from consolidate import merge
from consolidate.layouts.mapping import affinity
from consolidate.schema import indexes, metadata
from consolidate.schema.columns import CENTRAL_COLUMNS
from consolidate.schema.head import INDEXES
from tests.conftest import FIXTURES, REPO

HEAVY = ("sqlalchemy", "alembic", "pandas", "psycopg", "numpy", "matplotlib")


def imported_by(*argv: str) -> set[str]:
    """Top-level packages a fresh ``consolidate ARGV`` process has imported when it exits."""
    code = (  # the probe itself imports only what every process has (no json)
        "import atexit, sys\n"
        "atexit.register(lambda: print(' '.join(sorted({m.split('.')[0] "
        "for m in sys.modules})), file=sys.stderr))\n"
        "from consolidate.cli import main\n"
        f"sys.argv = ['consolidate', *{list(argv)!r}]\n"
        "main()\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    return set(done.stderr.strip().splitlines()[-1].split())


@pytest.mark.parametrize("argv", [["--help"], ["merge", "--help"], ["verify", "--help"]])
def test_help_imports_no_database_or_analysis_library(argv: list[str]) -> None:
    assert imported_by(*argv).isdisjoint(HEAVY)


def test_inspect_of_one_file_imports_no_database_or_analysis_library() -> None:
    source = FIXTURES / "legacy" / "f7-slim-actions__v33.db"
    assert imported_by("inspect", str(source)).isdisjoint(HEAVY)


def test_inspect_of_one_file_starts_no_workers() -> None:
    # Several sources are read by worker processes; one is read in the process itself, and
    # loading concurrent.futures (and logging with it) cost `inspect one.db` about 4 ms.
    source = FIXTURES / "legacy" / "f7-slim-actions__v33.db"
    loaded = imported_by("inspect", str(source))
    assert loaded.isdisjoint({"concurrent", "multiprocessing", "logging"})


def test_inspect_loads_no_hashing_and_its_help_no_json() -> None:
    # inspect never hashes a source (merge and verify do): loading OpenSSL cost it ~4 ms.
    source = FIXTURES / "legacy" / "f7-slim-actions__v33.db"
    assert imported_by("inspect", str(source)).isdisjoint({"hashlib", "_hashlib"})
    # `inspect --help` parses nothing: JSON is for --json output and for a source's config.
    assert "json" not in imported_by("inspect", "--help")


def test_a_merge_into_a_new_sqlite_file_loads_no_alembic_no_orm_and_no_postgresql(
    tmp_path: Path,
) -> None:
    """A new file gets the revisions' DDL (``schema.sqlite_head``), and only the target's own
    SQLAlchemy dialect is imported; the tables are Core tables, so SQLAlchemy's ORM (a tenth of
    a second with the mappers it built) is not loaded either."""
    source = FIXTURES / "legacy" / "f7-slim-actions__v33.db"
    code = (
        "import sys\n"
        "from consolidate import merge\n"
        f"assert merge([{str(source)!r}], {str(tmp_path / 'new.db')!r}).ok\n"
        "print(sorted(m for m in sys.modules if m.split('.')[0] in ('alembic', 'psycopg')\n"
        "      or m.startswith(('sqlalchemy.dialects.postgresql', 'sqlalchemy.orm'))))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=False
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "[]"


def test_the_collector_never_scans_what_start_up_imported() -> None:
    # The console script's way in imports click and the command line with the collector off,
    # then freezes what it made out of the collector's sight: scanning those objects while they
    # were made and at exit was a sixth of `consolidate --help` (~5 ms).
    code = (
        "import gc, sys\n"
        "during = []\n"
        "def count(phase, info):\n"
        "    cli = sys.modules.get('consolidate.cli')\n"
        "    if phase == 'start' and cli is not None and not hasattr(cli, 'main'):\n"
        "        during.append(info['generation'])  # consolidate.cli is being imported\n"
        "gc.callbacks.append(count)\n"
        "from consolidate.__main__ import main\n"
        "sys.argv = ['consolidate', '--help']\n"
        "try:\n"
        "    main()\n"
        "except SystemExit:\n"
        "    pass\n"
        "print(len(during), gc.isenabled(), gc.get_freeze_count())\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, check=True
    )
    collections, enabled, frozen = done.stdout.split()[-3:]
    assert collections == "0"
    assert enabled == "True"  # on again for the command's own objects
    assert int(frozen) > 5000  # click's objects and ours


def test_a_rerun_over_merged_sources_imports_no_database_library(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for stem in ("f7-slim-actions__v33", "f2-raw-pascal__v11"):
        shutil.copy(FIXTURES / "legacy" / f"{stem}.db", runs)
    target = tmp_path / "experiment.db"
    assert merge([str(runs)], str(target)).ok
    # Nothing to do: sqlite3 reads the target, and the sources are hashed and skipped; no
    # progress bar is shown on a stderr that is no terminal, and none is loaded.
    assert imported_by("merge", str(runs), "-o", str(target)).isdisjoint({*HEAVY, "tqdm"})
    # One source to merge: the full path, SQLAlchemy and all (the probe sees it).
    shutil.copy(FIXTURES / "legacy" / "f5-simid__v28.db", runs)
    assert "sqlalchemy" in imported_by("merge", str(runs), "-o", str(target))


def test_the_plain_index_list_is_the_tables() -> None:
    assert INDEXES == tuple(
        (str(i.table.name), str(i.name)) for i in indexes.declared() if i.table is not None
    )


def test_the_plain_column_catalog_is_the_tables() -> None:
    from sqlalchemy.dialects import sqlite

    dialect = sqlite.dialect()
    from_tables = {
        name: {c.name: affinity(str(c.type.compile(dialect=dialect))) for c in table.columns}
        for name, table in metadata.tables.items()
    }
    assert CENTRAL_COLUMNS == from_tables
    for name, table in metadata.tables.items():  # and in the tables' column order
        assert list(CENTRAL_COLUMNS[name]) == [c.name for c in table.columns]


def test_the_help_table_is_each_commands_own_first_line() -> None:
    # `consolidate --help` shows the table's lines without importing the commands.
    from importlib import import_module

    from consolidate.cli import COMMANDS

    for name, (module, attribute, line) in COMMANDS.items():
        command = getattr(import_module(module), attribute)
        assert command.name == name
        assert line == command.get_short_help_str(limit=10**6), name
