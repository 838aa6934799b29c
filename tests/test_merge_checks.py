"""A large source's checks run in two threads (merging.checks): its integrity check beside its
value scan and sha256. The verdicts must be those of one thread: damage first, then values."""

from __future__ import annotations

import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest

from consolidate import merge
from consolidate.merging import checks
from fixtures.make_fixtures import generate
from tests.helpers import fixture, table_rows
from tests.test_values import DAMAGE

TEMPLATE = fixture("f7-slim-actions__v33")


@pytest.fixture(scope="module")
def large(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A v33 run big enough to have its checks split in two."""
    with closing(sqlite3.connect(TEMPLATE.as_uri() + "?immutable=1", uri=True)) as conn:
        ddl = ";\n".join(
            sql
            for (sql,) in conn.execute(
                "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL "
                "AND name NOT LIKE 'sqlite_%' ORDER BY rowid"
            )
        )
    path = tmp_path_factory.mktemp("large") / "large.db"
    generate(ddl + ";\n", path, seed=7, agents=40, steps=60)
    assert path.stat().st_size >= checks._SPLIT_BYTES
    return path


def damaged(large: Path, folder: Path, *names: str) -> Path:
    path = folder / f"{'+'.join(names)}.db"
    shutil.copy(large, path)
    with closing(sqlite3.connect(path)) as conn, conn:
        for name in names:
            conn.executescript(DAMAGE[name][0])
    return path


def test_a_large_clean_source_merges(large: Path, tmp_path: Path) -> None:
    (outcome,) = merge([str(large)], str(tmp_path / "t.db")).sources
    assert outcome.status == "merged", outcome.reason
    source = table_rows(large)
    assert outcome.rows["agents"] == source["agents"] == 40
    assert sum(outcome.rows.values()) == sum(source.values()) - source["simulations"]


@pytest.mark.parametrize(
    ("names", "reason"),
    [
        (("index",), DAMAGE["index"][1]),
        (("nul",), DAMAGE["nul"][1]),
        (("blob-in-a-later-window",), DAMAGE["blob-in-a-later-window"][1]),
        # Both: the file's damage is the reason, as when one thread checked both in turn.
        (("nul", "index"), DAMAGE["index"][1]),
    ],
)
def test_a_large_damaged_source_gets_the_reason_of_one_thread(
    large: Path, tmp_path: Path, names: tuple[str, ...], reason: str
) -> None:
    source = damaged(large, tmp_path, *names)
    target = tmp_path / "t.db"
    (outcome,) = merge([str(source)], str(target)).sources
    assert outcome.status == "rejected"
    assert reason in (outcome.reason or ""), outcome.reason
    with closing(sqlite3.connect(target)) as conn:
        assert conn.execute("SELECT count(*) FROM simulations").fetchone() == (0,)
