"""``python -m consolidate`` that pauses inside a chosen source's transaction (tests only).

A test that kills or interrupts a merge at a chosen point runs this script in place of
``python -m consolidate``. With ``PAUSE_AT=N`` and ``PAUSE_DIR=folder`` in its environment, the
N-th table copy of the run (the N-th simulation: each copies all its tables in one call, inside
its transaction, before the commit) creates ``folder/paused`` and then waits until the test
creates ``folder/resume``. The package itself never reads these variables.
"""

from __future__ import annotations

import os
import runpy
import sys
import time
from pathlib import Path
from typing import Any

WAIT_SECONDS = 300  # a test that never resumes still ends


def _pausing(copy_tables: Any, at: int, folder: Path) -> Any:
    calls = 0

    def copy(*args: Any, **kwargs: Any) -> Any:
        nonlocal calls
        written = copy_tables(*args, **kwargs)
        calls += 1
        if calls == at:
            (folder / "paused").touch()
            # Polling, not one long sleep: a signal's Python handler runs between the sleeps.
            for _ in range(WAIT_SECONDS * 100):
                if (folder / "resume").exists():
                    break
                time.sleep(0.01)
        return written

    return copy


def main() -> None:
    if os.environ.get("PAUSE_AT"):
        from consolidate.sinks import postgres, sqlite

        at, folder = int(os.environ["PAUSE_AT"]), Path(os.environ["PAUSE_DIR"])
        for sink in (sqlite, postgres):
            sink.copy_tables = _pausing(sink.copy_tables, at, folder)  # type: ignore[assignment]
    sys.argv[0] = "consolidate"
    runpy.run_module("consolidate", run_name="__main__", alter_sys=True)


if __name__ == "__main__":
    main()
