"""The in-engine limit of a merge: what a plain sqlite3 script does with no checks at all.

    python benchmarks/in_engine.py FOLDER TARGET

Every ``*.db`` under FOLDER is attached in turn and each of its tables copied with one
``INSERT ... SELECT`` into a table of the same name keyed ``(simulation_id, legacy key)``, one
transaction per file; the ``(simulation_id, step_number)`` and ``(simulation_id, agent_id)``
indexes are built once after the load. Each run's rows carry the id merge gives them: the one in
its own ``simulations`` table (its file name's stem when it has none). Ids made up in file order
(``sim_0``, ``sim_1``, ...) would be a cheaper job than the real one: they reach each primary key
in almost ascending order, where real ids (``sim_ea3ebe02d3``) land anywhere in it, which made
this script about 30% faster on the 200-run corpus (13.1 s against 18.5 s). Only the standard
library is imported, so the process starts as fast as Python can. The tables are made from the
first file's layout (the corpora of ``bench_merge.py`` hold one layout).
"""

from __future__ import annotations

import sqlite3
import sys
from pathlib import Path


def main(folder: Path, target: Path) -> int:
    sources = sorted(folder.resolve().rglob("*.db"))
    conn = sqlite3.connect(target, isolation_level=None)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    plan, indexed = create_tables(conn, sources[0])
    for source in sources:
        conn.execute("ATTACH DATABASE ? AS src", (source.as_uri() + "?immutable=1",))
        sim = own_id(conn) or source.stem
        conn.execute("BEGIN IMMEDIATE")
        conn.execute("INSERT INTO simulations VALUES (?, ?)", (sim, str(source)))
        for table, cols in plan:
            conn.execute(
                f'INSERT INTO main."{table}" (simulation_id, {cols}) '
                f'SELECT ?, {cols} FROM src."{table}"',
                (sim,),
            )
        conn.execute("COMMIT")
        conn.execute("DETACH DATABASE src")
    build_indexes(conn, indexed)
    conn.close()
    return 0


def own_id(conn: sqlite3.Connection) -> str | None:
    """The id in the attached run's ``simulations`` table when it holds exactly one."""
    try:
        rows = conn.execute("SELECT simulation_id FROM src.simulations LIMIT 2").fetchall()
    except sqlite3.OperationalError:  # no simulations table
        return None
    return rows[0][0] if len(rows) == 1 and isinstance(rows[0][0], str) else None


def create_tables(
    conn: sqlite3.Connection, first: Path
) -> tuple[list[tuple[str, str]], list[tuple[str, str]]]:
    """The target's tables, made from ``first``'s layout: (table, quoted columns) to copy, and
    (table, column) pairs to index after the load."""
    conn.execute("CREATE TABLE simulations (simulation_id TEXT PRIMARY KEY, source_path TEXT)")
    conn.execute("ATTACH DATABASE ? AS src", (first.as_uri() + "?immutable=1",))
    plan = []
    indexed: list[tuple[str, str]] = []
    for (table,) in conn.execute(
        "SELECT name FROM src.sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite%'"
        " AND name NOT IN ('simulations', 'experiments') ORDER BY rowid"
    ).fetchall():
        info = conn.execute(f'PRAGMA src.table_info("{table}")').fetchall()
        cols = [r[1] for r in info if r[1] != "simulation_id"]
        key = [r[1] for r in sorted(info, key=lambda r: r[5]) if r[5] and r[1] != "simulation_id"]
        quoted = ", ".join(f'"{c}"' for c in cols)
        primary = f", PRIMARY KEY (simulation_id, {', '.join(key)})" if key else ""
        conn.execute(
            f'CREATE TABLE main."{table}" (simulation_id TEXT NOT NULL, {quoted}{primary})'
        )
        plan.append((table, quoted))
        indexed += [(table, c) for c in ("step_number", "agent_id") if c in cols]
    conn.execute("DETACH DATABASE src")
    return plan, indexed


def build_indexes(conn: sqlite3.Connection, indexed: list[tuple[str, str]]) -> None:
    """The ``(simulation_id, step_number)`` and ``(simulation_id, agent_id)`` indexes."""
    for table, column in indexed:
        conn.execute(f'CREATE INDEX "ix_{table}_{column}" ON "{table}" (simulation_id, "{column}")')


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
