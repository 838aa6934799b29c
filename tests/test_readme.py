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


PLACEHOLDER = "postgresql+psycopg://me@dbhost/lab"  # tests/test_readme_moving.py runs those


def transcripts(*, server: bool = False) -> list[str]:
    """Every ```text block that is a terminal transcript (it starts with ``$ ``): those naming
    no server, or (``server``) those naming the placeholder PostgreSQL URL."""
    return [b for b in code_blocks("text") if b.startswith("$ ") and (PLACEHOLDER in b) == server]


def steps(transcript: str) -> list[tuple[str, list[str]]]:
    """``(command, expected output lines)`` for each ``$ `` line of a transcript."""
    found: list[tuple[str, list[str]]] = []
    for line in transcript.rstrip("\n").split("\n"):
        if line.startswith("$ "):
            found.append((line[2:], []))
        else:
            found[-1][1].append(line)
    return found


def output_lines(output: str) -> list[str]:
    """What a terminal shows, line by line; a command that prints nothing shows no line."""
    output = output.rstrip("\n")
    return output.split("\n") if output else []


def normalised(lines: list[str], root: Path) -> list[str]:
    """Times and the run's folder out; nothing else. A table with a ``seconds`` column loses
    that column's values (it is right-aligned, so the other columns do not move)."""
    timed = bool(lines) and lines[0].rstrip().endswith("seconds")
    out = []
    for line in lines:
        line = line.replace(f"{root}/", "").replace(str(root), ".")
        line = re.sub(r" in \d+\.\d+ s\b", " in T s", line)
        if timed:
            line = re.sub(r"\d+\.\d{3}$", "S", line)
        out.append(line)
    return out


def matches(expected: list[str], actual: list[str]) -> bool:
    """Line by line; a README line ``...`` stands for any number of lines."""
    if not expected:
        return not actual
    if expected[0] == "...":
        return any(matches(expected[1:], actual[i:]) for i in range(len(actual) + 1))
    return bool(actual) and expected[0] == actual[0] and matches(expected[1:], actual[1:])


def test_every_transcript_matches_a_real_run(tmp_path: Path) -> None:
    """Each command of each transcript, in the README's order, in one folder holding the
    fixtures: stdout and stderr as a terminal shows them, exit status through ``echo $?``."""
    shutil.copytree(FIXTURES, tmp_path / "fixtures")
    bin_dir = str(Path(sys.executable).parent)  # this checkout's own console script
    env = {**os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}", "PYTHONUNBUFFERED": "1"}
    status = 0
    checked = 0
    for transcript in transcripts():
        for command, expected in steps(transcript):
            done = subprocess.run(
                ["bash", "-c", f"(exit {status}); {command}"],
                cwd=tmp_path,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
                env=env,
            )
            status = done.returncode
            actual = normalised(output_lines(done.stdout), tmp_path)
            want = normalised(expected, tmp_path)
            assert matches(want, actual), "\n".join([f"$ {command}", *actual])
            checked += 1
    assert checked >= 8
