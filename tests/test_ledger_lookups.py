"""The ledger's questions per source are index searches, never a scan of ``simulations``.

A merge asks them once per source, inside its transaction; a scan grows with every simulation
merged, so a merge of N run files would take time in N squared (revision 0003 added the index
the lookup by path lacked). Checked on the query plans of a real target, on both sinks.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import URL, Connection, text

from consolidate.merging import ledger
from consolidate.schema import migrations
from consolidate.schema.targets import central_engine

#: Each statement a source's transaction runs on the ledger, with parameters to plan it.
LOOKUPS = {
    "by path (merged before under another id?)": (
        ledger._EARLIER,
        {"path": "/runs/a.db", "sim": "a"},
    ),
    "by id (who holds it?)": (ledger._HOLDER, {"sim": "a"}),
    "by content (a twin under another id?)": (ledger._TWIN, {"sha": "00", "sim": "a"}),
    "seal": (ledger._SEAL, {"sim": "a", "sha": "00"}),
}


def planned(conn: Connection, explain: str, question: str) -> list[str]:
    """The plan the target's engine makes for one lookup, one line per step."""
    statement, parameters = LOOKUPS[question]
    compiled = statement.compile(dialect=conn.dialect)
    bound = compiled.construct_params(parameters)
    positions = compiled.positiontup  # qmark (SQLite): the parameters in order
    arguments = tuple(bound[name] for name in positions) if positions else bound
    rows = conn.exec_driver_sql(f"{explain} {compiled}", arguments).fetchall()
    return [str(row[-1]) for row in rows]


@pytest.mark.parametrize("question", list(LOOKUPS))
def test_each_lookup_of_the_ledger_searches_an_index_on_sqlite(
    tmp_path: Path, question: str
) -> None:
    engine = central_engine(tmp_path / "experiment.db")
    migrations.require_current(engine, name="experiment.db")
    with engine.connect() as conn:
        steps = planned(conn, "EXPLAIN QUERY PLAN", question)
    engine.dispose()
    assert steps and all(s.startswith("SEARCH simulations USING") for s in steps), steps


def test_each_lookup_of_the_ledger_searches_an_index_on_postgresql(postgres_url: URL) -> None:
    engine = central_engine(postgres_url)
    migrations.require_current(engine, name="postgres")
    try:
        with engine.connect() as conn:
            conn.execute(text("SET enable_seqscan = off"))  # an empty table: any plan would do
            for question in LOOKUPS:
                shown = "\n".join(planned(conn, "EXPLAIN", question))
                assert "Seq Scan" not in shown, (question, shown)
    finally:
        engine.dispose()
