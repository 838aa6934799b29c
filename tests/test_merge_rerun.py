"""A re-run decides "already merged" from one read of the ledger (issue 15): what it reports
for each source must be what the full path (open, recognise, count, decide in a transaction)
reports for the same bytes. A dry run takes the full path, so it is the reference."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from consolidate.merging.ledger import ALREADY_MERGED
from consolidate.merging.pipeline import merge
from consolidate.merging.report import SourceOutcome
from fixtures.make_fixtures import generate
from tests.helpers import ddl_of, fixture
from tests.test_merge import copy_fixtures


def view(outcomes: tuple[SourceOutcome, ...]) -> list[tuple[object, ...]]:
    return [
        (o.path, o.status, o.simulation_id, o.reason, o.family, o.schema_version, o.rows)
        for o in outcomes
    ]


def test_a_rerun_over_every_layout_reports_what_the_full_path_reports(tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs")
    target = tmp_path / "experiment.db"
    first = merge([str(runs)], str(target))
    assert first.ok and first.count("merged") == len(first.sources)
    again = merge([str(runs)], str(target))
    planned = merge([str(runs)], str(target), dry_run=True)
    assert view(again.sources) == view(planned.sources)
    assert {o.reason for o in again.sources} == {ALREADY_MERGED}
    assert [o.rows for o in again.sources] == [o.rows for o in first.sources]


def test_a_rerun_still_looks_at_renamed_and_changed_sources(tmp_path: Path) -> None:
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    a = generate(ddl, tmp_path / "a" / "run.db", seed=1, simulation_id="sim_same")
    b = generate(ddl, tmp_path / "b" / "run.db", seed=2, simulation_id="sim_same")
    target = tmp_path / "experiment.db"
    sources = [str(a.path), str(b.path)]
    assert merge(sources, str(target), on_conflict="rename").ok
    again = merge(sources, str(target), on_conflict="rename")
    planned = merge(sources, str(target), on_conflict="rename", dry_run=True)
    assert view(again.sources) == view(planned.sources)
    assert [o.reason for o in again.sources] == [ALREADY_MERGED, "already merged as sim_same~2"]
    with sqlite3.connect(a.path) as conn:  # same path, other bytes: never skipped from memory
        conn.execute("DELETE FROM agent_actions WHERE action_id = 1")
    changed = merge([str(a.path)], str(target)).sources[0]
    assert changed.status == "rejected" and "--replace" in (changed.reason or "")
