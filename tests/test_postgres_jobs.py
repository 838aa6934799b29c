"""``merge --jobs N`` into PostgreSQL copies N sources at once, each over its own connection in
its own transaction (issue 15). Proved by a meeting point inside the copy: two sources' copies
must both reach it before either can go on, which a serial merge never does."""

from __future__ import annotations

import threading
from pathlib import Path

from sqlalchemy import URL

from consolidate import merge, verify
from fixtures.make_fixtures import generate
from tests.helpers import ddl_of, fixture


def test_two_jobs_copy_two_sources_at_once_over_two_connections(
    postgres_url: URL, tmp_path: Path
) -> None:
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    for n in range(4):
        generate(ddl, tmp_path / "runs" / f"run_{n}.db", seed=n)
    meeting = threading.Barrier(2, timeout=60)  # a deadlock guard, not a timing assert
    met: list[str] = []

    def on_table(table: str, _rows: int, _seconds: float) -> None:
        if table == "agents" and not meeting.broken:
            meeting.wait()  # inside the source's transaction, after one table's COPY
            met.append(threading.current_thread().name)

    url = postgres_url.render_as_string(hide_password=False)
    report = merge([str(tmp_path / "runs")], url, jobs=2, on_table=on_table)
    assert report.ok and report.count("merged") == 4
    assert len(set(met[:2])) == 2  # two threads were inside two open transactions at once
    assert verify(url).ok
