"""The wheel carries the migrations, so an installed consolidate works without the repository."""

from __future__ import annotations

import os
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from consolidate.schema import migrations
from tests.conftest import REPO


@pytest.mark.slow
def test_wheel_ships_migrations_and_upgrades_without_the_repo(tmp_path: Path) -> None:
    built = subprocess.run(
        [
            sys.executable,
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-build-isolation",
            "-q",
            "-w",
            str(tmp_path / "dist"),
            str(REPO),
        ],
        capture_output=True,
        text=True,
    )
    assert built.returncode == 0, built.stderr
    (wheel,) = (tmp_path / "dist").glob("consolidate-*.whl")
    names = zipfile.ZipFile(wheel).namelist()
    assert "consolidate/_alembic/env.py" in names
    assert any(n.startswith("consolidate/_alembic/versions/0001_") for n in names)
    assert not any("__pycache__" in n for n in names)
    site = tmp_path / "site"
    zipfile.ZipFile(wheel).extractall(site)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    env = {**os.environ, "PYTHONPATH": str(site)}
    code = (
        "import consolidate.schema.migrations as m, sys; print(m.script_location()); "
        "from consolidate.cli import main; sys.argv = ['consolidate', 'db', 'upgrade', "
        "'t.db']; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code], cwd=elsewhere, env=env, capture_output=True, text=True
    )
    assert done.returncode == 0, done.stderr
    assert str(site / "consolidate" / "_alembic") in done.stdout
    assert f"at revision {migrations.HEAD}" in done.stdout
