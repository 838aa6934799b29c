"""The README's "Moving to PostgreSQL" transcripts, against real runs.

PostgreSQL transcripts use the placeholder URL ``postgresql+psycopg://me@dbhost/lab``; the test
runs them on a fresh database and puts the placeholder back into what they print.
"""

from __future__ import annotations

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

README = (REPO / "README.md").read_text()
PLACEHOLDER = "postgresql+psycopg://me@dbhost/lab"


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
    cwd = folder(tmp_path)
    url = postgres_url.render_as_string(hide_password=False)

    def shown(text: str) -> str:
        text = text.replace(describe(postgres_url), PLACEHOLDER)
        return text.replace(f"(experiment {postgres_url.database})", "(experiment lab)")

    run(cwd, "merge", "fixtures/legacy", "-o", "experiment.db", "-q")
    moved = run(cwd, "merge", "experiment.db", "-o", url).stdout.splitlines()
    assert moved[0].split() == ["table", "read", "written", "rejected", "seconds"]
    in_readme(re.sub(r"\s+\d+\.\d{3}$", "", moved[-2]))  # the total, timing aside
    in_readme(shown(moved[-1]))
    checked = run(cwd, "verify", url, "experiment.db").stdout.splitlines()
    in_readme(shown(checked[-1]))
    again = run(cwd, "merge", "experiment.db", "-o", url).stdout.splitlines()
    in_readme(shown(again[-1]))


def test_combining_two_experiment_databases(tmp_path: Path) -> None:
    cwd = folder(tmp_path)
    block = README.split("Two experiment databases", 1)[1].split("```sh\n", 1)[1]
    commands = block.split("```", 1)[0].strip().splitlines()
    assert len(commands) == 4
    outputs = []
    for command in commands:
        args = [a.strip("'") for a in command.split()[1:]]
        outputs.append(run(cwd, *args).stdout.splitlines())
    in_readme(outputs[2][-1])
    in_readme(outputs[3][-1])


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
