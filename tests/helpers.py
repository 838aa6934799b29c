"""Helpers shared by tests: reading sources independently of the code under test."""

from __future__ import annotations

import hashlib
import os
import shutil
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import FIXTURES

#: Version a committed fixture must be recognised as, from its file name.
LEGACY_FIXTURES = sorted((FIXTURES / "legacy").glob("*.db"))
BROKEN = FIXTURES / "broken"


def expected_layout(path: Path) -> tuple[str, str]:
    """``(family, schema_version)`` from ``<family>__<version>[-note].db``."""
    family, version = path.stem.split("__")
    if version.startswith("side-"):
        version = version  # side-<commit8>
    else:
        version = version.split("-")[0]
    if version == "side-df3857f6":  # its DDL is identical to v18: it can only be named v18
        version = "v18"
    return family, version


def read_only(path: Path) -> sqlite3.Connection:
    return sqlite3.connect(path.resolve().as_uri() + "?immutable=1", uri=True)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def snapshot(folder: Path) -> dict[str, str]:
    """Every file under ``folder`` with its sha256: proof that sources were left alone."""
    return {str(p.relative_to(folder)): sha256(p) for p in sorted(folder.rglob("*")) if p.is_file()}


def table_rows(path: Path) -> dict[str, int]:
    with read_only(path) as conn:
        names = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
            )
        ]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


def fixture(stem: str) -> Path:
    """A committed legacy fixture by its file stem, e.g. ``f7-slim-actions__v33``."""
    return FIXTURES / "legacy" / f"{stem}.db"


def ddl_of(path: Path) -> str:
    """The DDL of a database, from its sqlite_master: lets tests generate any committed layout
    with other options (tricky text, pending WAL) without ../shared."""
    with read_only(path) as conn:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " ORDER BY rowid"
        ).fetchall()
    return ";\n".join(r[0] for r in rows) + ";\n"


NOBODY = 65534


def unprivileged() -> list[str]:
    """The prefix that runs a command as a user that permission bits apply to."""
    if os.geteuid() != 0:
        return []
    if shutil.which("setpriv") is None:
        pytest.skip("running as root without setpriv: root reads any folder, so none is unreadable")
    return ["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups"]


@pytest.fixture
def shared_dir() -> Iterator[Path]:
    """A folder the unprivileged user can reach (pytest's tmp_path is private to root)."""
    folder = Path(tempfile.mkdtemp(prefix="consolidate-odd-"))
    folder.chmod(0o755)
    try:
        yield folder
    finally:
        for path in folder.rglob("*"):
            if path.is_dir() and not path.is_symlink():
                path.chmod(0o755)
        shutil.rmtree(folder)


PAUSED_CLI = Path(__file__).with_name("paused_cli.py")


def paused_merge(args: list[str], folder: Path, *, at: int, **popen: Any) -> subprocess.Popen[str]:
    """``consolidate merge ARGS`` in a child that pauses inside the ``at``-th simulation's
    transaction (see tests/paused_cli.py); :func:`wait_until_paused` waits for it."""
    folder.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "PAUSE_AT": str(at), "PAUSE_DIR": str(folder)}
    return subprocess.Popen(
        [sys.executable, str(PAUSED_CLI), "merge", *args], env=env, text=True, **popen
    )


def wait_until_paused(
    process: subprocess.Popen[str], folder: Path, *, timeout: float = 120
) -> None:
    """Bounded polling; fails, saying why, if the child ends first or never gets there."""
    for _ in range(int(timeout * 100)):
        if (folder / "paused").exists():
            return
        if process.poll() is not None:
            out, err = process.communicate()
            pytest.fail(f"the merge ended (exit {process.returncode}) before pausing: {err}")
        time.sleep(0.01)
    process.kill()
    pytest.fail(f"the merge did not reach its pause point within {timeout} s")


def resume(folder: Path) -> None:
    (folder / "resume").touch()
