"""Merge speed and memory, side by side with the baselines, in one run.

    python benchmarks/bench_merge.py [--runs 20] [--agents 100] [--steps 100] [--repeat 3]

Generates a corpus with the fixture generator (by default 20 v33 runs of 100 agents over 100
steps, about 600k rows), then times, on the same corpus and into the same central schema:

- ``consolidate``: the library's ``merge`` (what ``consolidate merge`` runs);
- ``in-engine``: plain sqlite3 ATTACH + INSERT ... SELECT of the same rows, one transaction per
  source, with none of consolidate's checks (the limit for an in-engine copy);
- ``pandas``: ``read_sql`` + ``to_sql`` per table, the loop users write by hand;

and ``verify`` on the merged database. Timings are medians of ``--repeat`` interleaved runs (pandas,
the slow one, runs a third as often); what matters is
the ratios, since machines here are shared and noisy. ``--memory`` also merges one run and one
run ten times larger in fresh processes and reports their peak RSS.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from consolidate import merge, verify  # noqa: E402
from consolidate.schema.migrations import upgrade  # noqa: E402
from consolidate.schema.targets import central_engine  # noqa: E402
from fixtures.make_fixtures import generate  # noqa: E402

TEMPLATE = REPO / "fixtures" / "legacy" / "f7-slim-actions__v33.db"


def ddl() -> str:
    """The v33 DDL, read from the committed fixture (no ../shared needed)."""
    with sqlite3.connect(TEMPLATE.as_uri() + "?immutable=1", uri=True) as conn:
        rows = conn.execute(
            "SELECT sql FROM sqlite_master WHERE sql IS NOT NULL AND name NOT LIKE 'sqlite_%'"
            " ORDER BY rowid"
        ).fetchall()
    return ";\n".join(r[0] for r in rows) + ";\n"


def build_corpus(folder: Path, runs: int, agents: int, steps: int) -> tuple[list[Path], int]:
    text = ddl()
    paths, rows = [], 0
    for n in range(runs):
        run = generate(text, folder / f"sim_{n:03d}.db", seed=n, agents=agents, steps=steps)
        paths.append(run.path)
        rows += sum(v for k, v in run.rows.items() if k != "simulations")
    return paths, rows


def fresh_target(folder: Path, name: str) -> Path:
    target = folder / f"{name}.db"
    for suffix in ("", "-wal", "-shm"):
        Path(f"{target}{suffix}").unlink(missing_ok=True)
    engine = central_engine(target)
    upgrade(engine)
    engine.dispose()
    return target


def run_consolidate(sources: list[Path], target: Path) -> None:
    report = merge([str(sources[0].parent)], str(target))
    assert report.ok and report.count("merged") == len(sources), report.as_json()["totals"]


def _copy_plan(source: Path) -> list[tuple[str, str]]:
    with sqlite3.connect(source.as_uri() + "?immutable=1", uri=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT IN ('simulations', 'experiments')"
            )
        ]
        plan = []
        for table in tables:
            cols = [
                r[1]
                for r in conn.execute(f'PRAGMA table_info("{table}")')
                if r[1] != "simulation_id"
            ]
            plan.append((table, ", ".join(f'"{c}"' for c in cols)))
    return plan


def run_in_engine(sources: list[Path], target: Path) -> None:
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    conn.execute("INSERT INTO experiments (experiment_id, creation_date) VALUES ('bench', '2026')")
    plan = _copy_plan(sources[0])
    for n, source in enumerate(sources):
        sim = f"sim_{n}"
        conn.execute("ATTACH DATABASE ? AS src", (source.as_uri() + "?immutable=1",))
        conn.execute("BEGIN IMMEDIATE")
        conn.execute(
            "INSERT INTO simulations (simulation_id, experiment_id, origin) "
            "VALUES (?, 'bench', 'merge')",
            (sim,),
        )
        for table, cols in plan:
            conn.execute(
                f'INSERT INTO main."{table}" (simulation_id, {cols}) '
                f'SELECT ?, {cols} FROM src."{table}"',
                (sim,),
            )
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE src")
    conn.close()


def run_pandas(sources: list[Path], target: Path) -> None:
    """The loop pandas' documentation leads to: read_sql and to_sql through SQLAlchemy engines."""
    import pandas as pd
    from sqlalchemy import create_engine, text

    central = create_engine(f"sqlite:///{target}")
    with central.begin() as conn:
        conn.execute(
            text("INSERT INTO experiments (experiment_id, creation_date) VALUES ('bench', '2026')")
        )
    plan = _copy_plan(sources[0])
    for n, source in enumerate(sources):
        sim = f"sim_{n}"
        legacy = create_engine(f"sqlite:///{source}")
        with central.begin() as conn:
            conn.execute(
                text(
                    "INSERT INTO simulations (simulation_id, experiment_id, origin) "
                    "VALUES (:sim, 'bench', 'merge')"
                ),
                {"sim": sim},
            )
            for table, _cols in plan:
                frame = pd.read_sql(f'SELECT * FROM "{table}"', legacy)
                frame["simulation_id"] = sim
                frame.to_sql(table, conn, if_exists="append", index=False)
        legacy.dispose()
    central.dispose()


def interleaved(
    repeat: int, contenders: dict[str, Callable[[Path], None]], work: Path, pandas_repeat: int
) -> dict[str, float]:
    """Median seconds per contender; runs alternate so a burst of noise hits all of them."""
    times: dict[str, list[float]] = {name: [] for name in contenders}
    for rep in range(repeat):
        for name, job in contenders.items():
            if name == "pandas" and rep >= pandas_repeat:
                continue
            target = fresh_target(work, name)  # every contender starts from the same empty
            started = time.perf_counter()  # target at the schema head
            job(target)
            times[name].append(time.perf_counter() - started)
    return {name: statistics.median(t) for name, t in times.items()}


def peak_rss_of_merge(sources_dir: Path, target: Path) -> float:
    """Peak RSS (MiB) of a fresh process that runs ``consolidate merge``.

    Read from VmHWM, not getrusage: ru_maxrss survives exec, so a child forked from this
    (large) process would report the parent's peak.
    """
    code = (
        "from consolidate import merge; "
        f"r = merge([{str(sources_dir)!r}], {str(target)!r}); assert r.ok; "
        "print(next(l for l in open('/proc/self/status') if l.startswith('VmHWM')).split()[1])"
    )
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    return int(out.stdout.strip()) / 1024


def print_result(result: dict[str, object], *, as_json: bool) -> None:
    """One benchmark's numbers: aligned ``name  value`` lines, or JSON."""
    if as_json:
        print(json.dumps(result, indent=2))
        return
    width = max(len(k) for k in result)
    for key, value in result.items():
        print(f"{key.ljust(width)}  {value}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--memory", action="store_true", help="also measure peak RSS growth")
    parser.add_argument("--json", action="store_true")
    parser.add_argument("--workdir", help="where to build the corpus (default: the temp dir)")
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-merge-", dir=args.workdir))
    try:
        corpus = work / "runs"
        sources, rows = build_corpus(corpus, args.runs, args.agents, args.steps)
        # Every contender starts from the same empty target at the schema head.
        medians = interleaved(
            args.repeat,
            {
                "consolidate": lambda t: run_consolidate(sources, t),
                "in-engine": lambda t: run_in_engine(sources, t),
                "pandas": lambda t: run_pandas(sources, t),
            },
            work,
            pandas_repeat=max(1, args.repeat // 3),
        )
        ours, engine, pandas = medians["consolidate"], medians["in-engine"], medians["pandas"]
        started = time.perf_counter()
        checked = verify(
            str(work / "consolidate.schema.targets")
        )  # the last consolidate run's target
        verify_seconds = time.perf_counter() - started
        assert checked.ok, checked.mismatches
        result: dict[str, object] = {
            "sources": args.runs,
            "rows": rows,
            "consolidate_s": round(ours, 3),
            "in_engine_s": round(engine, 3),
            "pandas_s": round(pandas, 3),
            "consolidate_vs_in_engine": round(ours / engine, 2),
            "pandas_vs_consolidate": round(pandas / ours, 1),
            "merge_rows_per_s": round(rows / ours),
            "verify_rows_per_s": round(checked.rows_compared / 2 / verify_seconds),
            "verify_vs_merge_time": round(verify_seconds / ours, 2),
        }
        if args.memory:
            small, large = work / "small", work / "large"
            build_corpus(small, 1, args.agents, args.steps)
            build_corpus(large, 1, args.agents, args.steps * 10)
            result["peak_rss_mib_1x"] = round(peak_rss_of_merge(small, work / "m1.db"), 1)
            result["peak_rss_mib_10x"] = round(peak_rss_of_merge(large, work / "m10.db"), 1)
        print_result(result, as_json=args.json)
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
