"""The same sources make the same experiment database on SQLite and on PostgreSQL.

Every committed fixture, one generated file per legacy DDL (when ../shared is there) and the real
samples merge once into each backend; each source gets the same verdict on both, both targets
hold the same rows per simulation and table (the order-independent checksum verify uses on
PostgreSQL), the same provenance, and verify passes on each.
"""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import URL, text

from consolidate import merge, verify
from consolidate.layouts.central import checksum
from consolidate.merging.report import MergeReport
from consolidate.schema import DATA_TABLES, metadata
from consolidate.schema.targets import central_engine
from fixtures.make_fixtures import generate
from tests.conftest import SHARED_SAMPLES, shared_ddl_files
from tests.helpers import LEGACY_FIXTURES

PROVENANCE = (
    "simulation_id",
    "experiment_id",
    "origin",
    "source_path",
    "source_sha256",
    "source_family",
    "source_schema_version",
    "source_row_counts",
    "legacy_simulation_id",
    "parameters",
    "iteration_number",
)


def every_source(folder: Path) -> list[str]:
    sources = [str(p) for p in LEGACY_FIXTURES]
    for n, ddl in enumerate(shared_ddl_files()):
        run = generate(ddl.read_text(encoding="utf-8"), folder / f"{ddl.stem}.db", seed=500 + n)
        sources.append(str(run.path))
    if SHARED_SAMPLES.is_dir():
        sources += [str(p) for p in sorted(SHARED_SAMPLES.glob("*.db"))]
    return sources


def contents(target: str) -> dict[tuple[str, str], tuple[int, int]]:
    """(simulation, table) -> checksum of its rows; ``simulations`` rows' provenance too."""
    engine = central_engine(target, must_exist=True)
    out: dict[tuple[str, str], tuple[int, int]] = {}
    try:
        with engine.connect() as conn:
            sims = [s for (s,) in conn.execute(text("SELECT simulation_id FROM simulations"))]
            for sim in sims:
                row = conn.execute(
                    text(
                        f"SELECT {', '.join(PROVENANCE)} FROM simulations WHERE simulation_id = :s"
                    ),
                    {"s": sim},
                )
                out[(sim, "simulations")] = checksum(row)
                for table in DATA_TABLES:
                    columns = ", ".join(f'"{c.name}"' for c in metadata.tables[table].columns)
                    rows = conn.execute(
                        text(f'SELECT {columns} FROM "{table}" WHERE simulation_id = :s'),
                        {"s": sim},
                    )
                    out[(sim, table)] = checksum(rows)
    finally:
        engine.dispose()
    return out


def test_every_source_lands_identically_on_sqlite_and_postgresql(
    tmp_path: Path, postgres_url: URL
) -> None:
    sources = every_source(tmp_path / "generated")
    lite = str(tmp_path / "lab.db")
    pg = postgres_url.render_as_string(hide_password=False)
    on_sqlite = merge(sources, lite, experiment_id="lab")
    on_postgres = merge(sources, pg, experiment_id="lab")

    def verdicts(report: MergeReport) -> dict[str, tuple[str, str | None, str | None]]:
        return {s.path: (s.status, s.simulation_id, s.reason) for s in report.sources}

    assert verdicts(on_postgres) == verdicts(on_sqlite)
    merged = [s for s in on_sqlite.sources if s.status == "merged"]
    assert {s.path: s.reason for s in on_sqlite.sources if s.status != "merged"} == {}
    lite_rows, pg_rows = contents(lite), contents(pg)
    assert lite_rows.keys() == pg_rows.keys()
    assert {k for k in lite_rows if lite_rows[k] != pg_rows[k]} == set()
    for target in (lite, pg):
        report = verify(target)
        assert report.ok, [str(m) for m in report.mismatches]
        assert len(report.sources_compared) == len(merged)
