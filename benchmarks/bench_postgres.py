"""Merge into PostgreSQL, timed as a whole process, against a plain COPY and the server's limit.

    CONSOLIDATE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        .venv/bin/python benchmarks/bench_postgres.py [--runs 20] [--repeat 3] [--jobs 1,2]

Uses the 20-run corpus of ``bench_merge.py`` (cached under ``benchmarks/out/corpora``). Each
contender gets a fresh database already at the schema head, and for each ``--jobs`` value N
copies the sources over N connections at once, one transaction per source:

- ``merge``: ``consolidate merge DIR -o URL --jobs N``, the whole process;
- ``copy``: each source's rows read with ``SELECT`` and written with psycopg ``COPY ... FROM
  STDIN`` (``write_row``), no checks: what a careful hand-written loader does;
- ``limit``: the sqlite3 command-line tool's CSV output piped straight into ``COPY ... FROM
  STDIN (FORMAT csv)``: no Python touches a row, so this is what the server itself can take.

Repetitions alternate the contenders; the ratios are medians of the per-repetition ratios.
"""

from __future__ import annotations

import argparse
import os
import queue
import sqlite3
import statistics
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "benchmarks"))

import psycopg  # noqa: E402
from bench_merge import CONSOLIDATE, CORPORA, Corpus, cached_corpus, print_result  # noqa: E402

CHUNK = 1 << 16


def copy_plan(source: Path) -> list[tuple[str, str]]:
    """(table, quoted legacy columns) of every data table; v33 names are the central ones."""
    with sqlite3.connect(source.as_uri() + "?immutable=1", uri=True) as conn:
        tables = [
            r[0]
            for r in conn.execute(
                "SELECT name FROM sqlite_master WHERE type = 'table' "
                "AND name NOT IN ('simulations', 'experiments') ORDER BY rowid"
            )
        ]
        return [
            (
                table,
                ", ".join(
                    f'"{r[1]}"'
                    for r in conn.execute(f'PRAGMA table_info("{table}")')
                    if r[1] != "simulation_id"
                ),
            )
            for table in tables
        ]


def fresh_database(server: str) -> str:
    """A new database at the schema head (made by ``consolidate db upgrade``); its URL."""
    name = f"bench_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(_dsn(server), autocommit=True) as conn:
        conn.execute(f'CREATE DATABASE "{name}"')
    url = server.rsplit("/", 1)[0] + f"/{name}"
    subprocess.run([CONSOLIDATE, "db", "upgrade", url], check=True, capture_output=True)
    return url


def drop_database(server: str, url: str) -> None:
    with psycopg.connect(_dsn(server), autocommit=True) as conn:
        conn.execute(f'DROP DATABASE IF EXISTS "{url.rsplit("/", 1)[1]}" WITH (FORCE)')


def _dsn(url: str) -> str:
    return url.replace("postgresql+psycopg://", "postgresql://", 1)


def in_parallel(sources: list[Path], jobs: int, url: str, one: Callable[..., None]) -> None:
    """``one(conn, n, source)`` for every source, over ``jobs`` connections at once."""
    with psycopg.connect(_dsn(url)) as conn:
        conn.execute("INSERT INTO experiments (experiment_id, creation_date) VALUES ('b', now())")
        conn.commit()
    work: queue.Queue[tuple[int, Path]] = queue.Queue()
    for item in enumerate(sources):
        work.put(item)
    failures: list[BaseException] = []

    def worker() -> None:
        try:
            with psycopg.connect(_dsn(url)) as conn:
                while True:
                    try:
                        n, source = work.get_nowait()
                    except queue.Empty:
                        return
                    with conn.transaction():
                        conn.execute(
                            "INSERT INTO simulations (simulation_id, experiment_id, origin) "
                            "VALUES (%s, 'b', 'merge')",
                            (f"sim_{n}",),
                        )
                        one(conn, n, source)
        except BaseException as exc:  # reported by the caller, not lost in a thread
            failures.append(exc)

    threads = [threading.Thread(target=worker) for _ in range(jobs)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    if failures:
        raise failures[0]


def copy_rows(plan: list[tuple[str, str]]) -> Callable[..., None]:
    def one(conn: psycopg.Connection[tuple[object, ...]], n: int, source: Path) -> None:
        src = sqlite3.connect(source.as_uri() + "?immutable=1", uri=True)
        with conn.cursor() as cursor:
            for table, cols in plan:
                rows = src.execute(f'SELECT ?, {cols} FROM "{table}"', (f"sim_{n}",))
                with cursor.copy(f'COPY "{table}" (simulation_id, {cols}) FROM STDIN') as copy:
                    while batch := rows.fetchmany(5000):
                        for row in batch:
                            copy.write_row(row)
        src.close()

    return one


def pipe_csv(plan: list[tuple[str, str]]) -> Callable[..., None]:
    def one(conn: psycopg.Connection[tuple[object, ...]], n: int, source: Path) -> None:
        with conn.cursor() as cursor:
            for table, cols in plan:
                select = f"SELECT 'sim_{n}', {cols} FROM \"{table}\""
                csv = subprocess.Popen(
                    ["sqlite3", "-readonly", "-csv", str(source), select], stdout=subprocess.PIPE
                )
                assert csv.stdout is not None
                statement = f'COPY "{table}" (simulation_id, {cols}) FROM STDIN (FORMAT csv)'
                with cursor.copy(statement) as copy:
                    while chunk := csv.stdout.read(CHUNK):
                        copy.write(chunk)
                if csv.wait() != 0:
                    raise RuntimeError(f"sqlite3 failed on {source}")

    return one


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20, help="runs of 100 agents x 100 steps")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--jobs", default="1,2", help="comma-separated --jobs values")
    parser.add_argument("--cache", type=Path, default=REPO / "benchmarks" / "out" / "corpora")
    args = parser.parse_args()
    server = os.environ.get("CONSOLIDATE_BENCH_POSTGRES_URL") or os.environ.get(
        "CONSOLIDATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    base = next(c for c in CORPORA if c.name == "20-run")
    corpus = Corpus(base.name, args.runs, base.agents, base.steps, base.merge_goal)  # shared cache
    runs, rows = cached_corpus(args.cache, corpus)
    sources = sorted(runs.glob("*.db"))
    plan = copy_plan(sources[0])
    result: dict[str, object] = {"sources": len(sources), "rows": rows}
    for jobs in (int(j) for j in args.jobs.split(",")):
        contenders: dict[str, Callable[[str], None]] = {
            "merge": lambda url, j=jobs: _run(
                [CONSOLIDATE, "merge", str(runs), "-o", url, "--jobs", str(j)]
            ),
            "copy": lambda url, j=jobs: in_parallel(sources, j, url, copy_rows(plan)),
            "limit": lambda url, j=jobs: in_parallel(sources, j, url, pipe_csv(plan)),
        }
        times: dict[str, list[float]] = {name: [] for name in contenders}
        for _ in range(args.repeat):
            for name, job in contenders.items():
                url = fresh_database(server)
                try:
                    started = time.perf_counter()
                    job(url)
                    times[name].append(time.perf_counter() - started)
                finally:
                    drop_database(server, url)
        for name, spent in times.items():
            result[f"jobs{jobs}_{name}_s"] = round(statistics.median(spent), 3)
        for other in ("copy", "limit"):
            pairs = [m / o for m, o in zip(times["merge"], times[other], strict=True)]
            result[f"jobs{jobs}_merge_vs_{other}"] = round(statistics.median(pairs), 2)
        result[f"jobs{jobs}_merge_rows_per_s"] = round(rows / statistics.median(times["merge"]))
    print_result(result, as_json=False)


def _run(argv: list[str]) -> None:
    done = subprocess.run(argv, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed: {done.stderr[-2000:]}")


if __name__ == "__main__":
    main()
