"""The README's "Moving to PostgreSQL" transcripts, against real runs.

PostgreSQL transcripts use the placeholder URL ``postgresql+psycopg://me@dbhost/lab``; the test
runs them on a fresh database and puts the placeholder back into what they print.
"""

from __future__ import annotations

import os
import re
import shutil
import sqlite3
import subprocess
import sys
from contextlib import closing
from pathlib import Path

from sqlalchemy import URL

from consolidate.schema.targets import describe
from tests.conftest import FIXTURES, REPO
from tests.test_readme import (
    PLACEHOLDER,
    matches,
    normalised,
    output_lines,
    steps,
    transcripts,
)

README = (REPO / "README.md").read_text()


def without_seconds(text: str) -> str:
    return re.sub(r" in \d+\.\d+ s", "", text)


def run(cwd: Path, *args: str, ok: bool = True) -> subprocess.CompletedProcess[str]:
    done = subprocess.run(
        [sys.executable, "-m", "consolidate", *args], cwd=cwd, capture_output=True, text=True
    )
    assert (done.returncode == 0) == ok, done.stderr
    return done


def in_readme(line: str) -> None:
    assert without_seconds(line) in without_seconds(README), line


def folder(tmp_path: Path) -> Path:
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    return tmp_path


def test_moving_an_experiment_database_to_postgresql(tmp_path: Path, postgres_url: URL) -> None:
    """The server transcripts, whole, through the matcher every README transcript passes."""
    cwd = folder(tmp_path)
    url = postgres_url.render_as_string(hide_password=False)

    def shown(text: str) -> str:
        text = text.replace(describe(postgres_url), PLACEHOLDER)
        return text.replace(f"(experiment {postgres_url.database})", "(experiment lab)")

    run(cwd, "merge", "fixtures/legacy", "-o", "experiment.db", "-q")
    env = {**os.environ, "PATH": f"{Path(sys.executable).parent}:{os.environ['PATH']}"}
    checked = 0
    for transcript in transcripts(server=True):
        for command, expected in steps(transcript):
            done = subprocess.run(
                ["bash", "-c", command.replace(PLACEHOLDER, url)],
                cwd=cwd,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
            assert done.returncode == 0, done.stdout
            actual = normalised(output_lines(shown(done.stdout)), cwd)
            assert matches(normalised(expected, cwd), actual), "\n".join([f"$ {command}", *actual])
            checked += 1
    assert checked == 3


def test_what_postgresql_refuses_is_refused_everywhere_in_one_line(
    tmp_path: Path, postgres_url: URL
) -> None:
    cwd = folder(tmp_path)
    (cwd / "runs").mkdir()
    odd = cwd / "runs" / "odd.db"
    shutil.copy(cwd / "fixtures" / "legacy" / "f7-slim-actions__v33.db", odd)
    with closing(sqlite3.connect(odd)) as conn, conn:
        conn.execute("UPDATE agents SET genome_id = 'a' || char(0) || 'b' WHERE rowid = 2")
    lines = []
    for target in ("lab.db", postgres_url.render_as_string(hide_password=False)):
        done = run(cwd, "merge", "runs/odd.db", "-o", target, ok=False)
        lines.append([ln for ln in done.stderr.splitlines() if ln.startswith("rejected:")])
    assert lines[0] == lines[1] and len(lines[0]) == 1
    in_readme(lines[0][0])
