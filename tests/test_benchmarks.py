"""The benchmarks that call the library directly still run against it (tiny sizes; no timing
is asserted: speed is the benchmarks' business)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def test_bench_checks_runs_on_a_tiny_corpus() -> None:
    done = subprocess.run(
        [sys.executable, "benchmarks/bench_checks.py", "--runs", "2", "--agents", "5"]
        + ["--steps", "5", "--repeat", "1", "--json"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    assert '"merge_ratio"' in done.stdout
