"""A large source's checks run in two threads (merging.checks): its integrity check beside its
value scan and sha256. The verdicts must be those of one thread: damage first, then values."""

from __future__ import annotations

import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

from consolidate import merge
from consolidate.merging import checks
from fixtures.make_fixtures import generate
from tests.conftest import REPO
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


def raised_interior_key(large: Path, folder: Path) -> Path:
    """A copy of ``large`` whose agent_actions b-tree has its last interior key raised far past
    every rowid: integrity_check reports it, and ``min(rowid) WHERE rowid > n`` then answers
    a rowid below ``n``."""
    path = folder / "raised-key.db"
    shutil.copy(large, path)
    with closing(sqlite3.connect(path)) as conn:
        conn.execute("PRAGMA journal_mode=DELETE")
        root, size = conn.execute(
            "SELECT rootpage, (SELECT page_size FROM pragma_page_size)"
            " FROM sqlite_master WHERE name = 'agent_actions'"
        ).fetchone()
    data = bytearray(path.read_bytes())
    page = (root - 1) * size
    assert data[page] == 0x05  # an interior table page (the root is never page 1 here)
    cells = int.from_bytes(data[page + 3 : page + 5], "big")
    pointer = page + 12 + 2 * (cells - 1)  # the last cell's offset, in the cell pointer array
    cell = page + int.from_bytes(data[pointer : pointer + 2], "big")
    assert data[cell + 4] & 0x80 and not data[cell + 5] & 0x80  # a two-byte varint key
    raised = 16000
    data[cell + 4 : cell + 6] = bytes([0x80 | (raised >> 7), raised & 0x7F])
    path.write_bytes(bytes(data))
    return path


def test_a_large_source_with_rowids_out_of_order_is_rejected_not_looped_on(
    large: Path, tmp_path: Path
) -> None:
    """The value scan runs beside integrity_check: on a damaged tree it must stop, not spin
    (it did: in a process of its own, so that a regression fails here instead of hanging)."""
    source = raised_interior_key(large, tmp_path)
    code = (
        "from consolidate import merge\n"
        f"(o,) = merge([{str(source)!r}], {str(tmp_path / 't.db')!r}).sources\n"
        "print(o.status, o.reason)\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("rejected integrity check failed"), done.stdout
    assert "out of order" in done.stdout, done.stdout
