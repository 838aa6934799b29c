"""What the stronger source check costs, alone and inside a merge.

    python benchmarks/bench_checks.py [--runs 10] [--agents 100] [--steps 100] [--repeat 3]

Merge checks every source beside its copy, in a second thread, before the commit. Since issue
14.4 that check is ``PRAGMA integrity_check`` (rows against their indexes; ``quick_check`` only
runs, for its reason, when it fails) plus one scan of the values no target can carry
(``consolidate.layouts.values``) instead of ``PRAGMA quick_check`` alone. On the same corpus (the
fixture generator's v33 runs, as in ``bench_merge.py``) this prints the seconds per source of
each part on its own, the copy's, and the median wall time of a whole merge with the old check
and with the new one (``merge_ratio``: new / old; about 1 means the check stays off the critical
path).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import closing
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from benchmarks.bench_merge import build_corpus, print_result  # noqa: E402
from benchmarks.bench_writer import fresh_target  # noqa: E402
from consolidate import merge  # noqa: E402
from consolidate.layouts import reading  # noqa: E402
from consolidate.layouts.reading import OpenSource, open_source  # noqa: E402
from consolidate.layouts.values import check_values  # noqa: E402


def per_source(sources: list[Path], part: Callable[[OpenSource], object]) -> float:
    """Median seconds of ``part`` over the sources."""
    times = []
    for source in sources:
        with open_source(source, check=False) as opened:
            started = time.perf_counter()
            part(opened)
            times.append(time.perf_counter() - started)
    return statistics.median(times)


def values(opened: OpenSource) -> None:
    with closing(opened.connect()) as conn:
        assert check_values(conn, opened.mapping, opened.shape) is None


def old_check(self: OpenSource) -> None:
    """The check before issue 14.4: the file's structure only."""
    self.file.check_integrity()


def timed_merge(folder: Path, work: Path, name: str) -> float:
    target = fresh_target(work, name)
    started = time.perf_counter()
    assert merge([str(folder)], str(target)).ok
    return time.perf_counter() - started


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=10)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-checks-") as tmp:
        work = Path(tmp)
        sources, rows = build_corpus(work / "runs", args.runs, args.agents, args.steps)
        result: dict[str, object] = {"sources": len(sources), "rows": rows}
        result["quick_check_s"] = round(per_source(sources, lambda o: o.file.check_integrity()), 4)
        result["integrity_check_s"] = round(
            per_source(sources, lambda o: o.file.check_integrity(full=True)), 4
        )
        result["values_s"] = round(per_source(sources, values), 4)
        result["sha256_s"] = round(per_source(sources, lambda o: o.file.sha256), 4)
        new_check = reading.OpenSource.check_integrity
        old: list[float] = []
        new: list[float] = []
        for _ in range(args.repeat):  # interleaved, so noise hits both
            reading.OpenSource.check_integrity = old_check  # type: ignore[method-assign]
            old.append(timed_merge(work / "runs", work, "old"))
            reading.OpenSource.check_integrity = new_check  # type: ignore[method-assign]
            new.append(timed_merge(work / "runs", work, "new"))
        result["merge_old_check_s"] = round(statistics.median(old), 3)
        result["merge_new_check_s"] = round(statistics.median(new), 3)
        result["copy_per_source_s"] = round(statistics.median(new) / len(sources), 4)
        result["merge_ratio"] = round(statistics.median(new) / statistics.median(old), 3)
        print_result(result, as_json=args.json)


if __name__ == "__main__":
    main()
