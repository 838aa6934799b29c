"""The hand-written pandas loop a user would write instead of consolidate.

    python benchmarks/pandas_loop.py FOLDER TARGET

Every ``*.db`` under FOLDER is opened read-only and each of its tables read whole with
``pandas.read_sql`` and appended to the target with ``DataFrame.to_sql``, the simulation's id set
on every row; the target's tables and indexes are the in-engine script's (keyed
``(simulation_id, legacy key)``, the two secondary indexes built after the load), so both end with
the same rows in the same tables. Plain sqlite3 connections, no SQLAlchemy: the fastest form of
the loop pandas supports.
"""

from __future__ import annotations

import sqlite3
import sys
from contextlib import closing
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))

from in_engine import build_indexes, create_tables  # noqa: E402


def main(folder: Path, target: Path) -> int:
    import pandas as pd

    sources = sorted(folder.resolve().rglob("*.db"))
    conn = sqlite3.connect(target)
    conn.execute("PRAGMA journal_mode=WAL")
    conn.execute("PRAGMA synchronous=NORMAL")
    plan, indexed = create_tables(conn, sources[0])
    for n, source in enumerate(sources):
        sim = f"sim_{n}"
        with closing(sqlite3.connect(source.as_uri() + "?immutable=1", uri=True)) as src:
            frames = {t: pd.read_sql(f'SELECT * FROM "{t}"', src) for t, _cols in plan}
        with conn:  # one transaction per source
            conn.execute("INSERT INTO simulations VALUES (?, ?)", (sim, str(source)))
            for table, frame in frames.items():
                frame["simulation_id"] = sim
                frame.to_sql(table, conn, if_exists="append", index=False)
    build_indexes(conn, indexed)
    conn.close()
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1]), Path(sys.argv[2])))
