"""The README is the front door: its commands and its library example must stay true."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

from tests.conftest import FIXTURES, REPO

README = (REPO / "README.md").read_text()


def code_blocks(language: str) -> list[str]:
    return re.findall(rf"```{language}\n(.*?)```", README, flags=re.S)


def test_first_screen_has_exactly_the_two_commands() -> None:
    first_screen = README.split("## ", 1)[0]
    commands = [b.strip() for b in re.findall(r"```sh\n(.*?)```", first_screen, flags=re.S)]
    assert len(commands) == 2
    assert "consolidate merge fixtures/legacy -o experiment.db" in commands[0]
    assert "pytest" in commands[1]
    ci = (REPO / ".ci" / "run").read_text()
    assert "<!-- test-command -->" in ci and "<!-- test-command -->\n```sh\n" in README


def test_every_python_example_runs(tmp_path: Path) -> None:
    """In order, after the README's first command, in one folder holding the fixtures."""
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    merged = subprocess.run(
        [sys.executable, "-m", "consolidate", "merge", "fixtures/legacy", "-o", "experiment.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert merged.returncode == 0, merged.stderr
    outputs = []
    for example in code_blocks("python"):
        done = subprocess.run(
            [sys.executable, "-c", example],
            cwd=tmp_path,
            capture_output=True,
            text=True,
            env={**os.environ, "PYTHONPATH": str(REPO)},
        )
        assert done.returncode == 0, f"{example}\n{done.stderr}"
        outputs.append(done.stdout)
    assert len(outputs) == 4
    assert "15 merged, 0 rejected" in outputs[0]
    assert outputs[3].split() == ["agent_type", "count", "0", "SystemAgent", "1"]


def test_the_agentfarm_snippets_name_what_exists() -> None:
    """The two ways to plug into AgentFarm (which CI does not have) compile and name real API."""
    from consolidate import DatabaseFactory

    snippets = code_blocks("py")
    assert len(snippets) == 2
    for snippet in snippets:
        compile(snippet, "README.md", "exec")
    assert "db_factory=DatabaseFactory" in snippets[0]
    assert "setup_db = DatabaseFactory.setup_db" in snippets[1]
    assert callable(DatabaseFactory.setup_db) and callable(DatabaseFactory().setup_db)


def test_merge_transcript_matches_a_real_run(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    done = subprocess.run(
        [sys.executable, "-m", "consolidate", "merge", "fixtures/legacy", "-o", "experiment.db"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
    )
    assert done.returncode == 0, done.stderr
    table = [ln for ln in done.stdout.splitlines() if not ln.startswith("15 sources")]
    strip_seconds = re.compile(r"\s+\d+\.\d{3}$")
    for line in table:  # every row of the real summary is in the README, timings aside
        assert strip_seconds.sub("", line) in README, line


def test_verify_transcript_matches_a_real_run(tmp_path: Path) -> None:
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    for command in (
        ["merge", "fixtures/legacy", "-o", "experiment.db", "-q"],
        ["verify", "experiment.db"],
    ):
        done = subprocess.run(
            [sys.executable, "-m", "consolidate", *command],
            cwd=tmp_path,
            capture_output=True,
            text=True,
        )
        assert done.returncode == 0, done.stderr
    for line in done.stdout.splitlines():
        assert re.sub(r" in \d+\.\d+ s", "", line).split(" compared")[0] in README, line
