"""Merge into PostgreSQL, side by side with a plain psycopg COPY of the same rows, in one run.

    CONSOLIDATE_BENCH_POSTGRES_URL=postgresql+psycopg://postgres@127.0.0.1:5432/postgres \\
        python benchmarks/bench_postgres.py [--runs 20] [--agents 100] [--steps 100] [--repeat 3]

Builds the corpus of ``bench_merge.py`` (v33 runs from the fixture generator), creates a fresh
database per contender and run, and times:

- ``consolidate``: ``merge`` into the URL (COPY, one transaction per source);
- ``copy``: the same rows read with ``SELECT *`` from each source and written with psycopg
  ``COPY ... FROM STDIN`` into the same schema, one transaction per source, no checks;
- ``pgloader``: one source file loaded by pgloader, when the ``pgloader`` command exists
  (rows per second only: it creates its own schema, so it is not the same job).

Ratios are what matter: the machine is shared and noisy.
"""

from __future__ import annotations

import argparse
import os
import shutil
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))
sys.path.insert(0, str(REPO / "benchmarks"))

import psycopg  # noqa: E402
from bench_merge import _copy_plan, build_corpus, print_result  # noqa: E402
from sqlalchemy import URL, create_engine, make_url, text  # noqa: E402

from consolidate import merge  # noqa: E402
from consolidate.schema.migrations import upgrade  # noqa: E402
from consolidate.schema.targets import central_engine  # noqa: E402


def fresh_database(server: URL) -> URL:
    name = f"bench_{uuid.uuid4().hex[:10]}"
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    admin.dispose()
    url = server.set(database=name)
    engine = central_engine(url)
    upgrade(engine)
    engine.dispose()
    return url


def drop_database(server: URL, url: URL) -> None:
    admin = create_engine(server, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{url.database}" WITH (FORCE)'))
    admin.dispose()


def run_consolidate(corpus: Path, url: URL) -> None:
    report = merge([str(corpus)], url)
    assert report.ok, report.as_json()["totals"]


def run_copy(sources: list[Path], url: URL) -> None:
    dsn = url.set(drivername="postgresql").render_as_string(hide_password=False)
    plan = _copy_plan(sources[0])
    with psycopg.connect(dsn) as conn:
        conn.execute("INSERT INTO experiments (experiment_id, creation_date) VALUES ('b', now())")
        conn.commit()
        for n, source in enumerate(sources):
            sim = f"sim_{n}"
            src = sqlite3.connect(source.as_uri() + "?immutable=1", uri=True)
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(
                    "INSERT INTO simulations (simulation_id, experiment_id, origin) "
                    "VALUES (%s, 'b', 'merge')",
                    (sim,),
                )
                for table, cols in plan:
                    rows = src.execute(f'SELECT ?, {cols} FROM "{table}"', (sim,))
                    with cursor.copy(f'COPY "{table}" (simulation_id, {cols}) FROM STDIN') as copy:
                        while batch := rows.fetchmany(5000):
                            for row in batch:
                                copy.write_row(row)
            src.close()


def pgloader_rows_per_second(source: Path, server: URL, rows: int) -> float | None:
    if shutil.which("pgloader") is None:
        return None
    url = fresh_database(server)
    try:
        target = url.set(drivername="postgresql").render_as_string(hide_password=False)
        started = time.perf_counter()
        subprocess.run(["pgloader", str(source), target], check=True, capture_output=True)
        return rows / (time.perf_counter() - started)
    finally:
        drop_database(server, url)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=20)
    parser.add_argument("--agents", type=int, default=100)
    parser.add_argument("--steps", type=int, default=100)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    raw = os.environ.get("CONSOLIDATE_BENCH_POSTGRES_URL") or os.environ.get(
        "CONSOLIDATE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
    )
    server = make_url(raw).set(drivername="postgresql+psycopg")
    work = Path(tempfile.mkdtemp(prefix="bench-postgres-"))
    try:
        corpus = work / "runs"
        sources, rows = build_corpus(corpus, args.runs, args.agents, args.steps)
        contenders: dict[str, Callable[[URL], None]] = {
            "consolidate": lambda url: run_consolidate(corpus, url),
            "copy": lambda url: run_copy(sources, url),
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
        ours, copy = (statistics.median(times[n]) for n in ("consolidate", "copy"))
        single = sum(v for k, v in _rows(sources[0]).items())
        loader = pgloader_rows_per_second(sources[0], server, single)
        result = {
            "sources": args.runs,
            "rows": rows,
            "consolidate_s": round(ours, 3),
            "copy_s": round(copy, 3),
            "consolidate_vs_copy": round(ours / copy, 2),
            "consolidate_rows_per_s": round(rows / ours),
            "pgloader_rows_per_s": round(loader) if loader else "pgloader not installed",
        }
        print_result(result, as_json=False)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _rows(source: Path) -> dict[str, int]:
    with sqlite3.connect(source.as_uri() + "?immutable=1", uri=True) as conn:
        names = [r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")]
        return {n: conn.execute(f'SELECT count(*) FROM "{n}"').fetchone()[0] for n in names}


if __name__ == "__main__":
    main()
