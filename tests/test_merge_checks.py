"""A large source's checks run in two threads (merging.checks): its integrity check beside its
value scan and sha256. The verdicts must be those of one thread: damage first, then values."""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

import pytest

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
    assert path.stat().st_size >= checks.SPLIT_BYTES
    return path


def damaged(large: Path, folder: Path, *names: str) -> Path:
    path = folder / f"{'+'.join(names)}.db"
    shutil.copy(large, path)
    with closing(sqlite3.connect(path)) as conn, conn:
        for name in names:
            conn.executescript(DAMAGE[name][0])
    return path


def merged(source: Path, target: Path, *, processes: bool) -> tuple[str, str | None]:
    """(status, reason) of merging ``source`` alone in a fresh interpreter (with a timeout: a
    check that never ends fails here), its checks in forked worker processes, or in threads
    when another thread is alive there (forking is then unsafe: see layouts.workers)."""
    bystander = (
        "import threading\nthreading.Thread(target=threading.Event().wait, daemon=True).start()\n"
        if not processes
        else ""
    )
    code = (
        "import json\n"
        f"{bystander}"
        "from consolidate import merge\n"
        f"(o,) = merge([{str(source)!r}], {str(target)!r}).sources\n"
        "print(json.dumps([o.status, o.reason]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, cwd=REPO, timeout=120
    )
    assert done.returncode == 0, done.stderr
    status, reason = json.loads(done.stdout)
    return status, reason


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_a_large_clean_source_merges(large: Path, tmp_path: Path, processes: bool) -> None:
    target = tmp_path / "t.db"
    status, reason = merged(large, target, processes=processes)
    assert status == "merged", reason
    source, central = table_rows(large), table_rows(target)
    assert central["agents"] == source["agents"] == 40
    assert central["agent_actions"] == source["agent_actions"]


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
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
    large: Path, tmp_path: Path, names: tuple[str, ...], reason: str, processes: bool
) -> None:
    source = damaged(large, tmp_path, *names)
    target = tmp_path / "t.db"
    status, got = merged(source, target, processes=processes)
    assert status == "rejected"
    assert reason in (got or ""), got
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


@pytest.mark.parametrize("processes", [True, False], ids=["processes", "threads"])
def test_a_large_source_with_rowids_out_of_order_is_rejected_not_looped_on(
    large: Path, tmp_path: Path, processes: bool
) -> None:
    """The value scan runs beside integrity_check: on a damaged tree it must stop, not spin
    (it did)."""
    source = raised_interior_key(large, tmp_path)
    status, reason = merged(source, tmp_path / "t.db", processes=processes)
    assert status == "rejected"
    assert (reason or "").startswith("integrity check failed"), reason
    assert "out of order" in (reason or ""), reason
