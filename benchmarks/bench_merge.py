"""Merge at the scale users have, timed as whole processes against the in-engine limit.

    .venv/bin/python benchmarks/bench_merge.py [--scale] [--repeat 5] [--quick] [--json]
    .venv/bin/python benchmarks/bench_merge.py --only startup --repeat 21

Corpora come from the fixture generator (v33 runs) and are cached under ``--cache`` (default
``benchmarks/out/corpora``, outside git), so they are built once:

- ``small``: 1,000 runs of 10 agents x 10 steps (about 230 MB);
- ``20-run``: 20 runs of 100 agents x 100 steps (about 600k rows);
- ``200-run``: 200 runs of 100 x 100 (6M rows, 1.1 GB), only with ``--scale``.

Every contender is a fresh process, started the way a user starts it, and each repetition runs
them back to back (the order rotating), so a burst of load on this shared 2-core machine hits a
pair, not one side; ratios are the medians of the per-repetition ratios:

- ``merge``: ``consolidate merge DIR -o NEW.db``, exactly as the README shows it, a new target
  each time (start-up and schema creation included);
- ``in-engine``: ``benchmarks/in_engine.py``, plain sqlite3: ATTACH each file, INSERT ... SELECT
  into tables keyed (simulation_id, legacy key), each run's rows tagged with its own
  simulation_id as merge tags them, the two secondary indexes built after the load;
- ``re-run``: the same merge again on its own target (nothing to do), against ``hash``: one
  process that reads every file once (sha256);
- ``pandas``: ``benchmarks/pandas_loop.py``, the hand-written ``read_sql`` + ``to_sql`` loop
  into the in-engine script's tables (not on the 200-run corpus: minutes per run); reported as
  merge's speed-up over it;
- ``inspect``: ``consolidate inspect DIR``, against the in-engine merge;
- ``verify``: ``consolidate verify NEW.db`` (must pass), against the merge.

Then start-up (``consolidate --help`` and ``consolidate inspect one.db``, one run of the
``small`` corpus's size, against ``python -c "import sqlite3"``; ``--only startup`` times only
this) and the peak RSS (VmHWM) of a merge process per corpus. Each goal of issue 15 is printed as
met or not met. ``--quick`` shrinks the corpora (100 small runs, 5 and
20 large ones) to try the benchmark itself; its numbers are not the goals'.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import time
from collections.abc import Sequence
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

TEMPLATE = REPO / "fixtures" / "legacy" / "f7-slim-actions__v33.db"
CONSOLIDATE = str(Path(sys.executable).parent / "consolidate")
PYTHON = sys.executable
IN_ENGINE = str(REPO / "benchmarks" / "in_engine.py")
PANDAS = str(REPO / "benchmarks" / "pandas_loop.py")
#: Prints this process's peak RSS at exit: the merge runs exactly as the console script runs it.
PEAK = (
    "import atexit, sys\n"
    "def peak():\n"
    "    line = next(l for l in open('/proc/self/status') if l.startswith('VmHWM'))\n"
    "    print('VmHWM', line.split()[1], file=sys.stderr)\n"
    "atexit.register(peak)\n"
    "from consolidate.cli import main\n"
    "sys.argv = ['consolidate', *sys.argv[1:]]\n"
    "main()\n"
)
HASH = (
    "import hashlib, pathlib, sys\n"
    "for p in sorted(pathlib.Path(sys.argv[1]).rglob('*.db')):\n"
    "    d = hashlib.sha256()\n"
    "    with p.open('rb') as f:\n"
    "        while b := f.read(1 << 20):\n"
    "            d.update(b)\n"
)


@dataclass(frozen=True)
class Corpus:
    name: str
    runs: int
    agents: int
    steps: int
    merge_goal: float  # merge / in-engine, at most
    pandas: bool = True  # time the pandas loop too


CORPORA = (
    Corpus("small", 1000, 10, 10, 1.5),
    Corpus("20-run", 20, 100, 100, 1.3),
    Corpus("200-run", 200, 100, 100, 1.15, pandas=False),
)
#: The one small run file start-up inspects: the first run of ``small``, in a folder of its own
#: so that ``--only startup`` does not build the thousand.
ONE = Corpus("one", 1, 10, 10, 0.0)


def ddl() -> str:
    """The v33 DDL, read from the committed fixture (no ../shared needed)."""
    with sqlite3.connect(TEMPLATE.as_uri() + "?immutable=1", uri=True) as conn:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " ORDER BY rowid"
        ).fetchall()
    return ";\n".join(r[0] for r in rows) + ";\n"


def _one_run(args: tuple[str, Path, int, int, int]) -> int:
    from fixtures.make_fixtures import generate

    text, path, seed, agents, steps = args
    run = generate(text, path, seed=seed, agents=agents, steps=steps)
    return sum(v for k, v in run.rows.items() if k != "simulations")


def build_corpus(folder: Path, runs: int, agents: int, steps: int) -> tuple[list[Path], int]:
    """``runs`` generated v33 runs in ``folder``; their paths and data rows (both cores)."""
    folder.mkdir(parents=True, exist_ok=True)
    text = ddl()
    jobs = [(text, folder / f"sim_{n:04d}.db", n, agents, steps) for n in range(runs)]
    with ProcessPoolExecutor(max_workers=2) as pool:
        rows = sum(pool.map(_one_run, jobs, chunksize=8))
    return [j[1] for j in jobs], rows


def cached_corpus(cache: Path, corpus: Corpus) -> tuple[Path, int]:
    """The corpus folder (built on first use, reused after) and its number of data rows."""
    folder = cache / f"{corpus.name}-{corpus.runs}x{corpus.agents}x{corpus.steps}"
    done = folder / "rows.txt"  # written last: a half-built corpus is rebuilt
    if not done.is_file():
        shutil.rmtree(folder, ignore_errors=True)
        print(f"building corpus {folder.name} ...", file=sys.stderr, flush=True)
        _, rows = build_corpus(folder / "runs", corpus.runs, corpus.agents, corpus.steps)
        done.write_text(str(rows))
    return folder / "runs", int(done.read_text())


#: The children run with bytecode, as an installed package does (pip compiles it on install):
#: an environment with PYTHONDONTWRITEBYTECODE would make every start-up compile consolidate's
#: sources again. The .pyc files go under benchmarks/out, never beside the sources.
ENV = {k: v for k, v in os.environ.items() if k != "PYTHONDONTWRITEBYTECODE"}
ENV["PYTHONPYCACHEPREFIX"] = str(REPO / "benchmarks" / "out" / "pycache")


def timed(argv: Sequence[str]) -> float:
    """Seconds a fresh process takes, from start to exit; it must succeed."""
    started = time.perf_counter()
    done = subprocess.run(
        argv, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, cwd=REPO, env=ENV
    )
    seconds = time.perf_counter() - started
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr.decode()[-2000:]}")
    return seconds


def fresh(path: Path) -> Path:
    for suffix in ("", "-wal", "-shm", "-journal"):
        Path(f"{path}{suffix}").unlink(missing_ok=True)
    return path


def bench_corpus(
    corpus: Corpus, runs: Path, rows: int, work: Path, repeat: int
) -> dict[str, float]:
    times: dict[str, list[float]] = {k: [] for k in ("merge", "in_engine", "rerun", "hash")}
    times |= {"inspect": [], "verify": []}
    ratios: dict[str, list[float]] = {"merge": [], "rerun": [], "inspect": [], "verify": []}
    if corpus.pandas:
        times["pandas"], ratios["pandas_over_merge"] = [], []
    looped = fresh(work / "pandas.db")
    for rep in range(repeat):
        target, limit = fresh(work / "merge.db"), fresh(work / "in_engine.db")
        steps = {
            "merge": [CONSOLIDATE, "merge", str(runs), "-o", str(target)],
            "in_engine": [PYTHON, IN_ENGINE, str(runs), str(limit)],
            "inspect": [CONSOLIDATE, "inspect", str(runs)],
        }
        if corpus.pandas:
            steps["pandas"] = [PYTHON, PANDAS, str(runs), str(fresh(looped))]
        turn = rep % len(steps)
        order = list(steps)[turn:] + list(steps)[:turn]  # rotate who goes first
        got = {name: timed(steps[name]) for name in order}
        # The re-run needs the merged target; it is paired with hashing the files once.
        got["rerun"] = timed([CONSOLIDATE, "merge", str(runs), "-o", str(target)])
        got["hash"] = timed([PYTHON, "-c", HASH, str(runs)])
        got["verify"] = timed([CONSOLIDATE, "verify", str(target)])
        for name, seconds in got.items():
            times[name].append(seconds)
        ratios["merge"].append(got["merge"] / got["in_engine"])
        ratios["rerun"].append(got["rerun"] / got["hash"])
        ratios["inspect"].append(got["inspect"] / got["in_engine"])
        ratios["verify"].append(got["verify"] / got["merge"])
        if corpus.pandas:
            ratios["pandas_over_merge"].append(got["pandas"] / got["merge"])
    med = {f"{k}_s": round(statistics.median(v), 3) for k, v in times.items()}
    result: dict[str, float] = {"sources": corpus.runs, "rows": rows, **med}
    result |= {f"{k}_ratio": round(statistics.median(v), 2) for k, v in ratios.items()}
    result["merge_rows_per_s"] = round(rows / statistics.median(times["merge"]))
    result["verify_rows_per_s"] = round(rows / statistics.median(times["verify"]))
    fresh(target), fresh(limit), fresh(looped)
    result["peak_rss_mib"] = peak_rss(runs, work)
    return result


def peak_rss(runs: Path, work: Path) -> float:
    """Peak RSS (MiB, VmHWM) of a merge process into a new target."""
    target = fresh(work / "peak.db")
    done = subprocess.run(
        [PYTHON, "-c", PEAK, "merge", str(runs), "-o", str(target)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
        cwd=REPO,
        check=True,
        env=ENV,
    )
    fresh(target)  # a 200-run target is 1.5 GB: none is left behind
    line = next(x for x in done.stderr.splitlines() if x.startswith("VmHWM"))
    return round(int(line.split()[1]) / 1024, 1)


def bench_startup(one: Path, repeat: int) -> dict[str, float]:
    """``--help`` and ``inspect one.db`` against ``python -c "import sqlite3"``, paired."""
    contenders = {
        "python": [PYTHON, "-c", "import sqlite3"],
        "help": [CONSOLIDATE, "--help"],
        "inspect_one": [CONSOLIDATE, "inspect", str(one)],
    }
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for argv in contenders.values():
        timed(argv)  # once untimed: the bytecode is written on the first run
    for _ in range(repeat):
        for name, argv in contenders.items():
            times[name].append(timed(argv))
    result = {f"{name}_s": round(statistics.median(t), 3) for name, t in times.items()}
    for name in ("help", "inspect_one"):
        pairs = [a / b for a, b in zip(times[name], times["python"], strict=True)]
        result[f"{name}_ratio"] = round(statistics.median(pairs), 2)
    return result


def goals(results: dict[str, dict[str, float]], corpora: Sequence[Corpus]) -> list[str]:
    """One line per goal of issue 15: what was measured and whether it is met."""
    lines = []

    def goal(text: str, value: float, limit: float, met: bool) -> None:
        lines.append(f"{'met    ' if met else 'NOT met'}  {text}: {value} (goal {limit})")

    for c in corpora:
        r = results[c.name]
        if c.pandas:  # DESIGN §8 names the loop as a baseline, with no goal
            lines.append(f"info     {c.name}: pandas loop / merge: {r['pandas_over_merge_ratio']}")
        goal(
            f"{c.name}: merge / in-engine",
            r["merge_ratio"],
            c.merge_goal,
            r["merge_ratio"] <= c.merge_goal,
        )
        goal(
            f"{c.name}: re-run / hashing the files once",
            r["rerun_ratio"],
            1.0,
            r["rerun_ratio"] <= 1,
        )
    if "small" in results:
        r = results["small"]
        goal("small: inspect / in-engine merge", r["inspect_ratio"], 1.0, r["inspect_ratio"] <= 1)
    s = results["startup"]
    goal(
        "consolidate --help / python -c 'import sqlite3'",
        s["help_ratio"],
        3.0,
        s["help_ratio"] <= 3,
    )
    goal(
        "consolidate inspect one.db / python",
        s["inspect_one_ratio"],
        3.0,
        s["inspect_one_ratio"] <= 3,
    )
    peaks = {c.name: results[c.name]["peak_rss_mib"] for c in corpora if c.name != "small"}
    for name, mib in peaks.items():
        goal(f"{name}: peak RSS of the merge process (MiB)", mib, 150, mib < 150)
    if len(peaks) == 2:
        growth = round(peaks["200-run"] / peaks["20-run"], 2)
        goal("peak RSS 200-run / 20-run (flat)", growth, 1.1, growth <= 1.1)
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scale", action="store_true", help="also the 200-run corpus (1.1 GB)")
    parser.add_argument("--quick", action="store_true", help="small corpora, to try the bench")
    parser.add_argument("--repeat", type=int, default=5, help="paired repetitions per corpus")
    parser.add_argument(
        "--only", help="comma-separated corpus names (small,20-run,200-run), or startup alone"
    )
    parser.add_argument("--cache", type=Path, default=REPO / "benchmarks" / "out" / "corpora")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()

    corpora = [c for c in CORPORA if args.scale or c.name != "200-run"]
    if args.only:  # start-up is timed in every run: `--only startup` names no corpus
        names = set(args.only.split(","))
        unknown = names - {c.name for c in CORPORA} - {"startup"}
        if unknown:
            raise SystemExit(f"--only: no corpus {', '.join(sorted(unknown))}")
        corpora = [c for c in corpora if c.name in names]
    if args.quick:
        sizes = {"small": 100, "20-run": 5, "200-run": 20}
        corpora = [replace(c, runs=sizes[c.name]) for c in corpora]
    work = args.cache.parent / "work"
    work.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict[str, float]] = {}
    for corpus in corpora:
        runs, rows = cached_corpus(args.cache, corpus)
        print(f"timing {corpus.name} ...", file=sys.stderr, flush=True)
        results[corpus.name] = bench_corpus(corpus, runs, rows, work, args.repeat)
    one = next(iter(sorted(cached_corpus(args.cache, ONE)[0].glob("*.db"))))
    print("timing start-up ...", file=sys.stderr, flush=True)
    results["startup"] = bench_startup(one, max(11, args.repeat))
    lines = goals(results, corpora)
    if args.json:
        print(json.dumps({"results": results, "goals": lines}, indent=2))
    else:
        for name, result in results.items():
            print_result({"corpus": name, **result}, as_json=False)
            print()
        print("\n".join(lines))


def print_result(result: dict[str, object], *, as_json: bool) -> None:
    """One benchmark's numbers: aligned ``name  value`` lines, or JSON."""
    if as_json:
        print(json.dumps(result, indent=2))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key.ljust(width)}  {value}")


if __name__ == "__main__":
    main()
