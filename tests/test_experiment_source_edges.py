"""Experiment databases as sources: unfinished runs, missing experiments, stopping, live servers."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import URL, Engine, event

from consolidate import merge, verify
from consolidate.layouts.reading import open_source
from consolidate.merging.experiments import merge_experiment
from consolidate.merging.ledger import OnConflict
from consolidate.merging.report import MergeReport, SourceOutcome
from consolidate.schema import DATA_TABLES, migrations
from consolidate.schema.targets import central_engine
from tests.helpers import fixture
from tests.test_experiment_source import laptop, write_run
from tests.test_writer_support import query


def set_status(db: Path, simulation_id: str, status: str) -> None:
    with sqlite3.connect(db) as conn:
        conn.execute(
            "UPDATE simulations SET status = ? WHERE simulation_id = ?", (status, simulation_id)
        )


@pytest.mark.parametrize("status", ["running", "pending"])
def test_a_run_still_being_written_is_skipped_until_it_has_finished(
    tmp_path: Path, status: str
) -> None:
    old = laptop(tmp_path, "old", [fixture("f2-raw-pascal__v11")], ("done", "live"))
    set_status(old, "live", status)
    with sqlite3.connect(old) as conn:  # a merged run file's status is history, not a writer's
        conn.execute("UPDATE simulations SET status = ? WHERE origin <> 'writer'", (status,))
    target = tmp_path / "new.db"
    first = merge([str(old)], str(target))
    assert first.ok
    outcomes = {s.simulation_id: (s.status, s.reason) for s in first.sources}
    assert outcomes["done"][0] == outcomes["f2-raw-pascal__v11"][0] == "merged"
    assert outcomes["live"] == (
        "skipped",
        f"simulation live is still being written (status {status}); "
        "merge again when it has finished",
    )
    held = query(str(target), "SELECT simulation_id FROM simulations ORDER BY 1")
    assert held == [("done",), ("f2-raw-pascal__v11",)]
    dry = merge([str(old)], str(target), dry_run=True)
    assert {s.simulation_id: s.status for s in dry.sources}["live"] == "skipped"
    set_status(old, "live", "completed")
    second = merge([str(old)], str(target))
    assert {s.simulation_id: s.status for s in second.sources} == {
        "done": "skipped",
        "f2-raw-pascal__v11": "skipped",
        "live": "merged",
    }
    assert verify(str(target), [str(old)]).ok


def test_a_conflict_that_replace_would_settle_says_so(tmp_path: Path) -> None:
    old = laptop(tmp_path / "old", "old", [], ("run",))
    target = tmp_path / "target.db"
    write_run(str(target), "run", age=4.0)
    (refused,) = merge([str(old)], str(target)).sources
    assert refused.status == "rejected"
    assert refused.reason is not None and "--replace" in refused.reason, refused.reason


def test_a_simulation_without_its_experiment_row_is_rejected_on_each_backend(
    tmp_path: Path, any_target: str
) -> None:
    old = laptop(tmp_path, "old", [], ("kept", "stray"))
    with sqlite3.connect(old) as conn:  # foreign keys are off in a plain sqlite3 connection
        conn.execute("UPDATE simulations SET experiment_id = 'gone' WHERE simulation_id = 'stray'")
    report = merge([str(old)], any_target)
    outcomes = {s.simulation_id: (s.status, s.reason) for s in report.sources}
    assert outcomes == {
        "kept": ("merged", None),
        "stray": ("rejected", "simulation stray: its experiment gone is missing"),
    }
    assert query(any_target, "SELECT simulation_id FROM simulations") == [("kept",)]
    for table in DATA_TABLES:
        assert query(any_target, f"SELECT count(*) FROM {table} WHERE simulation_id = 'stray'") == [
            (0,)
        ]


@dataclass(frozen=True)
class _Copy:
    engine: Engine | None
    plan: object | None = None
    replace: bool = False
    on_conflict: OnConflict = OnConflict.ERROR
    on_table: Any = None
    write_lock: threading.Lock | None = None
    after_commit: Any = None


def test_a_stop_is_heard_between_simulations(tmp_path: Path) -> None:
    old = laptop(tmp_path, "old", [], ("a", "b", "c", "d"))
    target = central_engine(tmp_path / "new.db")
    migrations.require_current(target, name="new.db", create=True)
    seen: list[str] = []
    try:
        with open_source(old, check=False) as opened:
            outcomes = merge_experiment(
                opened,
                _Copy(target),
                str(old),
                on_source=lambda o: seen.append(o.status),
                should_stop=lambda: bool(seen),  # asked to stop once the first one is done
            )
    finally:
        target.dispose()
    assert seen == ["merged"]
    assert [(o.simulation_id, o.status) for o in outcomes] == [
        ("a", "merged"),
        ("b", "not started"),
        ("c", "not started"),
        ("d", "not started"),
    ]
    assert query(str(tmp_path / "new.db"), "SELECT simulation_id FROM simulations") == [("a",)]


def test_merge_stops_between_an_experiments_simulations(tmp_path: Path) -> None:
    """The same stop through ``merge()``: the CLI's Ctrl-C inside one experiment database."""
    old = laptop(tmp_path, "old", [], ("a", "b", "c", "d"))
    stop = threading.Event()
    report = merge(
        [str(old)],
        str(tmp_path / "new.db"),
        on_source=lambda _: stop.set(),
        should_stop=stop.is_set,
    )
    assert report.stopped and report.unstarted == 3
    assert [o.status for o in report.sources].count("merged") == 1
    assert query(str(tmp_path / "new.db"), "SELECT simulation_id FROM simulations") == [("a",)]


@pytest.fixture
def writer_between_tables(postgres_url: URL) -> Iterator[list[str]]:
    """While a URL source is copied, a writer commits a whole run just after the simulations
    table was read, before the tables that reference it are."""
    url = postgres_url.render_as_string(hide_password=False)
    fired: list[str] = []

    def after(conn: Any, _cursor: Any, statement: str, *_args: Any) -> None:
        if conn.dialect.name == "postgresql" and "FROM simulations" in statement and not fired:
            fired.append(statement)
            write_run(url, "late")

    event.listen(Engine, "after_cursor_execute", after)
    try:
        yield fired
    finally:
        event.remove(Engine, "after_cursor_execute", after)


def test_a_url_source_is_copied_as_of_one_moment(
    tmp_path: Path, postgres_url: URL, writer_between_tables: list[str]
) -> None:
    url = postgres_url.render_as_string(hide_password=False)
    writer_between_tables.append("wait")  # not yet: filling the server reads simulations too
    old = laptop(tmp_path, "old", [], ("early",))
    assert merge([str(old)], url).ok
    writer_between_tables.clear()
    back = tmp_path / "back.db"
    report = merge([url], str(back))
    assert writer_between_tables, "the writer never ran during the copy"
    assert report.ok, [(s.simulation_id, s.reason) for s in report.sources]
    assert [s.simulation_id for s in report.sources] == ["early"]
    for table in DATA_TABLES:
        orphans = query(
            str(back),
            f"SELECT count(*) FROM {table} "
            "WHERE simulation_id NOT IN (SELECT simulation_id FROM simulations)",
        )
        assert orphans == [(0,)], table
    assert {s for (s,) in query(url, "SELECT simulation_id FROM simulations")} == {
        "early",
        "late",
    }


def test_simulations_not_started_make_the_merge_a_stopped_one() -> None:
    report = MergeReport(
        target="t.db",
        experiment_id="t",
        dry_run=False,
        sources=(SourceOutcome("x.db", "merged"), SourceOutcome("x.db", "not started")),
        tables=(),
        seconds=0.0,
    )
    assert report.stopped and report.unstarted == 1
    assert report.as_json()["totals"]["not_started"] == 1  # type: ignore[index]
