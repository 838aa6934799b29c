"""A re-run decides "already merged" from one read of the ledger (issue 15): what it reports
for each source must be what the full path (open, recognise, count, decide in a transaction)
reports for the same bytes.

``consolidate.merge`` first tries the re-run's shortcut, with sqlite3 alone
(``merging.rerun.first_pass``); ``merging.pipeline.merge`` is the full path. Each test runs
both on twin copies of one target (same file name, other folders) and compares every outcome,
the table summary and the CLI's output; a dry run, which always takes the full path, is the
reference where a target must stay unchanged."""

from __future__ import annotations

import re
import shutil
import sqlite3
import time
from collections.abc import Callable
from pathlib import Path

import pytest
from click.testing import CliRunner

import consolidate
from consolidate.cli import cli
from consolidate.cli.merge import render
from consolidate.errors import SchemaOutOfDate
from consolidate.merging import pipeline, rerun
from consolidate.merging.ledger import ALREADY_MERGED
from consolidate.merging.report import MergeReport, SourceOutcome
from consolidate.schema import migrations
from consolidate.schema.targets import central_engine
from consolidate.sources.opening import plain_uri
from fixtures.make_fixtures import generate
from tests.helpers import ddl_of, fixture, snapshot
from tests.test_merge import copy_fixtures
from tests.test_merge_indexes import DEFERRABLE, build_corpus, killed_mid_load, present

merge = consolidate.merge  # the library's merge: the shortcut first


def view(outcomes: tuple[SourceOutcome, ...]) -> list[tuple[object, ...]]:
    return [
        (o.path, o.status, o.simulation_id, o.reason, o.family, o.schema_version, o.rows)
        for o in outcomes
    ]


def same(fast: MergeReport, full: MergeReport) -> None:
    """Everything but the target's folder and the seconds."""
    assert view(fast.sources) == view(full.sources)
    tables = [[(t.table, t.read, t.written, t.rejected) for t in r.tables] for r in (fast, full)]
    assert tables[0] == tables[1]
    assert (fast.experiment_id, fast.dry_run, fast.not_started, fast.ok) == (
        full.experiment_id,
        full.dry_run,
        full.not_started,
        full.ok,
    )
    assert Path(fast.target).name == Path(full.target).name


def twins(target: Path) -> tuple[Path, Path]:
    """Two copies of a target closed cleanly (no sidecar left), named alike in two folders."""
    copies = []
    for side in ("fast", "full"):
        copy = target.parent / side / target.name
        copy.parent.mkdir()
        for suffix in ("", "-wal", "-shm"):
            if Path(f"{target}{suffix}").exists():
                shutil.copyfile(f"{target}{suffix}", f"{copy}{suffix}")
        copies.append(copy)
    return copies[0], copies[1]


def both(sources: list[str], target: Path, **options: object) -> tuple[MergeReport, MergeReport]:
    """``merge`` and the full path on twin copies of ``target``; the reports are the same."""
    fast_target, full_target = twins(target)
    planned = pipeline.merge(sources, str(fast_target), dry_run=True, **options)
    fast = merge(sources, str(fast_target), **options)
    full = pipeline.merge(sources, str(full_target), **options)
    same(fast, full)
    # The full path skips from the same snapshot: the dry run decides each source in the
    # ledger's transaction, with no shortcut, and must skip the same sources the same way.
    skips = [o for o in view(fast.sources) if o[1] == "skipped"]
    assert skips == [o for o in view(planned.sources) if o[1] == "skipped"]
    return fast, full


def shown(output: str) -> str:
    return re.sub(r" in \d+\.\d\d s$", " in T s", output.strip(), flags=re.M)


def test_a_rerun_over_every_layout_reports_what_the_full_path_reports(tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs")
    target = tmp_path / "odd #1 %41.db"  # describe() of the URL and the plain path agree
    first = merge([str(runs)], str(target))
    assert first.ok and first.count("merged") == len(first.sources)
    assert rerun.first_pass([str(runs)], target).done
    fast, _full = both([str(runs)], target)
    assert fast.target == str((tmp_path / "fast" / target.name).resolve())
    planned = pipeline.merge([str(runs)], str(target), dry_run=True)
    assert view(fast.sources) == [
        (p, "skipped", s, ALREADY_MERGED, f, v, r)
        for (p, _st, s, _r, f, v, r) in view(planned.sources)
    ]
    assert [o.rows for o in fast.sources] == [o.rows for o in first.sources]


def test_options_that_change_no_skip_keep_the_shortcut(tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs", "f7-slim-actions__v33", "f2-raw-pascal__v11")
    target = tmp_path / "experiment.db"
    assert merge([str(runs)], str(target)).ok
    for options in ({"replace": True}, {"on_conflict": "rename"}, {"jobs": 2}):
        fast, _ = both([str(runs)], target, **options)
        assert fast.count("skipped") == 2
        for side in ("fast", "full"):
            shutil.rmtree(tmp_path / side)


def test_renamed_sources_and_a_changed_one(tmp_path: Path) -> None:
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    a = generate(ddl, tmp_path / "a" / "run.db", seed=1, simulation_id="sim_same")
    b = generate(ddl, tmp_path / "b" / "run.db", seed=2, simulation_id="sim_same")
    target = tmp_path / "experiment.db"
    sources = [str(a.path), str(b.path)]
    assert merge(sources, str(target), on_conflict="rename").ok
    fast, _ = both(sources, target, on_conflict="rename")
    assert [o.reason for o in fast.sources] == [ALREADY_MERGED, "already merged as sim_same~2"]
    shutil.rmtree(tmp_path / "fast"), shutil.rmtree(tmp_path / "full")
    with sqlite3.connect(a.path) as conn:  # same path, other bytes: never skipped from memory
        conn.execute("DELETE FROM agent_actions WHERE action_id = 1")
    first = rerun.first_pass(sources, target)
    assert first is not None and not first.done
    assert first.unsure == {str(a.path)}  # hashed once: the full path asks the ledger at once
    assert [f.path for f in first.rest] == [a.path]
    fast, _ = both(sources, target, on_conflict="rename")
    changed, renamed = fast.sources
    assert changed.status == "rejected" and "--replace" in (changed.reason or "")
    assert renamed.reason == "already merged as sim_same~2"


def test_a_rerun_from_another_folder_knows_each_id_from_the_ledger(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The scanned folder changes every path id. A file with an id of its own keeps it, one
    without gets its new path id, and neither is opened for it: the ledger's record of the
    same bytes tells. An integer id that was also the old path id ("1") cannot be told from a
    file's own id by the ledger, so that one file is read."""
    runs = copy_fixtures(tmp_path / "runs" / "a")
    numbered = runs / "1.db"
    shutil.copy(fixture("f3-orm-intids__v20"), numbered)
    with sqlite3.connect(numbered) as conn:
        conn.execute("INSERT INTO simulations VALUES (1, NULL, NULL, 'done', '{}', NULL, 'x')")
    target = tmp_path / "experiment.db"
    first = merge([str(runs)], str(target))
    assert first.ok and ("1", "1") in {(o.simulation_id, Path(o.path).stem) for o in first.sources}
    read: list[str] = []
    own_id = rerun._own_id
    monkeypatch.setattr(rerun, "_own_id", lambda uri: read.append(uri) or own_id(uri))
    fast, _ = both([str(tmp_path / "runs")], target)  # every path id now starts with "a/"
    # On both paths (the full one skips from memory too).
    assert set(read) == {plain_uri(numbered.resolve())}
    reasons = {Path(o.path).stem: o.reason for o in fast.sources}
    assert reasons["1"] == "already merged as 1"  # its id is now a/1, as the full path says
    assert reasons["f7-slim-actions__v33"] == ALREADY_MERGED  # its own id, sim_2b8358f643
    assert reasons["f2-raw-pascal__v11"] == "already merged as f2-raw-pascal__v11"
    assert {o.status for o in fast.sources} == {"skipped"}


def test_a_new_file_among_merged_ones(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    build_corpus(runs, 4)
    target = tmp_path / "t.db"
    assert merge([str(runs)], str(target)).ok
    build_corpus(runs, 1, first=4)
    first = rerun.first_pass([str(runs)], target)
    assert first is not None and not first.done and len(first.skipped) == 4
    assert [f.path.name for f in first.rest] == ["sim_004.db"]
    fast, _ = both([str(runs)], target)
    assert [o.status for o in fast.sources] == ["skipped"] * 4 + ["merged"]


def test_a_source_with_a_wal_sidecar(tmp_path: Path) -> None:
    runs = copy_fixtures(tmp_path / "runs", "f7-slim-actions__v33")
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    generate(ddl, runs / "wal_pending.db", seed=11, pending_wal=True)
    target = tmp_path / "experiment.db"
    assert merge([str(runs)], str(target)).ok
    before = snapshot(runs)
    assert "wal_pending.db-wal" in before
    assert rerun.first_pass([str(runs)], target).done
    fast, _ = both([str(runs)], target)
    assert [o.reason for o in fast.sources] == [ALREADY_MERGED] * 2
    assert snapshot(runs) == before  # the sidecar was read through a private copy


def test_a_target_at_an_old_revision_is_refused_the_same_way(
    tmp_path: Path, runner: CliRunner
) -> None:
    runs = copy_fixtures(tmp_path / "runs", "f7-slim-actions__v33")
    target = tmp_path / "experiment.db"
    assert merge([str(runs)], str(target)).ok
    with sqlite3.connect(target) as conn:  # revision 0001 stores whole ages only
        conn.execute("UPDATE simulation_steps SET average_agent_age = round(average_agent_age)")
    engine = central_engine(target)
    migrations.downgrade(engine, "0001")
    engine.dispose()
    assert rerun.first_pass([str(runs)], target) is None
    messages = []
    for run in (merge, pipeline.merge):
        with pytest.raises(SchemaOutOfDate) as refused:
            run([str(runs)], str(target))
        messages.append(str(refused.value))
    assert messages[0] == messages[1] and "consolidate db upgrade" in messages[0]
    result = runner.invoke(cli, ["merge", str(runs), "-o", str(target)])
    assert result.exit_code == 1 and messages[0] in result.stderr


def test_a_target_missing_indexes_after_a_kill_takes_the_full_path(tmp_path: Path) -> None:
    runs, target = tmp_path / "runs", tmp_path / "t.db"
    build_corpus(runs, 4)
    killed_mid_load(runs, target, tmp_path / "pause", at=3)
    assert not DEFERRABLE & present(target)
    assert rerun.first_pass([str(runs)], target) is None
    fast, _ = both([str(runs)], target)
    assert [o.status for o in fast.sources] == ["skipped"] * 2 + ["merged"] * 2
    assert DEFERRABLE <= present(tmp_path / "fast" / target.name)
    completed = tmp_path / "fast" / target.name  # every source in, every index built
    assert rerun.first_pass([str(runs)], completed).done
    with sqlite3.connect(completed) as conn:
        conn.execute("DROP INDEX ix_agent_states_simulation_id_step_number")
    assert rerun.first_pass([str(runs)], completed) is None


def test_a_target_without_data_rows_takes_the_full_path(tmp_path: Path) -> None:
    # The full path drops the deferrable indexes of such a target and builds them at its end.
    runs = copy_fixtures(tmp_path / "runs", "f7-slim-actions__v33")
    with sqlite3.connect(runs / "f7-slim-actions__v33.db") as conn:  # a run with no rows
        names = conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'").fetchall()
        for (name,) in names:
            if name != "simulations":
                conn.execute(f'DELETE FROM "{name}"')
    target = tmp_path / "experiment.db"
    assert merge([str(runs)], str(target)).ok
    assert rerun.first_pass([str(runs)], target) is None
    both([str(runs)], target)


def test_a_stop_during_the_shortcut_reports_the_rest_not_started(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    build_corpus(runs, 5)
    target = tmp_path / "t.db"
    assert merge([str(runs)], str(target)).ok

    def after(n: int) -> Callable[[], bool]:
        """A stop asked for once ``n`` sources have begun (each path asks before each one)."""
        asked: list[int] = []
        return lambda: bool(asked.append(1)) or len(asked) > n

    fast_target, full_target = twins(target)
    seen: list[str] = []
    fast = merge(
        [str(runs)], str(fast_target), should_stop=after(2), on_source=lambda o: seen.append(o.path)
    )
    full = pipeline.merge([str(runs)], str(full_target), should_stop=after(2))
    same(fast, full)
    assert (fast.count("skipped"), fast.unstarted, fast.stopped) == (2, 3, True)
    assert seen == [o.path for o in fast.sources]


def cli_and_full(runner: CliRunner, runs: Path, target: Path) -> tuple[int, str, str]:
    """The CLI's exit code and output on one twin, and the full path's output on the other."""
    fast_target, full_target = twins(target)
    result = runner.invoke(cli, ["merge", str(runs), "-o", str(fast_target)])
    full = render(pipeline.merge([str(runs)], str(full_target)))
    shutil.rmtree(fast_target.parent), shutil.rmtree(full_target.parent)
    return (
        result.exit_code,
        shown(result.stdout),
        shown(full.replace(str(full_target), str(fast_target))),
    )


def test_the_cli_prints_what_the_full_path_reports(tmp_path: Path, runner: CliRunner) -> None:
    runs = copy_fixtures(tmp_path / "runs", "f7-slim-actions__v33", "f5-simid__v28")
    target = tmp_path / "experiment.db"
    assert merge([str(runs)], str(target)).count("merged") == 2
    code, printed, full = cli_and_full(runner, runs, target)  # nothing to do: the shortcut
    assert (code, printed) == (0, full) and printed.endswith(
        "0 merged, 2 skipped, 0 rejected in T s"
    )
    shutil.copy(runs / "f7-slim-actions__v33.db", runs / "copy.db")  # same bytes, not held
    assert not rerun.first_pass([str(runs)], target).done
    code, printed, full = cli_and_full(runner, runs, target)
    assert (code, printed) == (0, full) and "0 merged, 3 skipped" in printed
    with sqlite3.connect(runs / "f5-simid__v28.db") as conn:
        conn.execute("DELETE FROM agent_actions")
    code, printed, full = cli_and_full(runner, runs, target)
    assert (code, printed) == (1, full) and "1 rejected" in printed


@pytest.fixture(scope="module")
def held_runs(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """128 small runs merged into a target: a re-run holds every one of them (the tests only
    read it)."""
    tmp_path = tmp_path_factory.mktemp("held")
    runs = tmp_path / "runs"
    ddl = ddl_of(fixture("f7-slim-actions__v33"))
    for n in range(128):
        generate(ddl, runs / f"sim_{n:03d}.db", seed=n, agents=2, steps=2)
    target = tmp_path / "t.db"
    assert merge([str(runs)], str(target)).ok
    return runs, target


def test_a_stop_ends_the_hashing_batches_at_their_next_source(
    held_runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Sources are hashed in batches; a stop must not wait for the batches under way to end
    (with large files that was minutes): each thread stops before its next source."""
    runs, target = held_runs
    monkeypatch.setattr(rerun, "_BATCH", 8)  # 16 batches of 8 for 128 sources
    monkeypatch.setattr(rerun, "_TASKS", 16)
    hashed: list[str] = []
    decide = rerun.already_merged

    def slow(source: object, known: object) -> object:
        time.sleep(0.05)  # both threads well into their next batch when the stop comes
        hashed.append(str(source))
        return decide(source, known)  # type: ignore[arg-type]

    monkeypatch.setattr(rerun, "already_merged", slow)
    seen: list[SourceOutcome] = []
    first = rerun.first_pass(
        [str(runs)], target, on_source=seen.append, should_stop=lambda: bool(seen)
    )
    assert first is not None and len(first.skipped) == 1 and len(seen) == 1
    # The first batch (8), the other thread's (8), one source each after that (and a margin
    # for a slow wake-up); waiting for the batches under way to end made it 32.
    assert len(hashed) <= 22, len(hashed)


def test_an_error_in_a_batch_comes_after_the_sources_before_it(
    held_runs: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    runs, target = held_runs
    monkeypatch.setattr(rerun, "_BATCH", 8)  # sim_010 is the third of its batch of 8
    monkeypatch.setattr(rerun, "_TASKS", 16)
    decide = rerun.already_merged

    def failing(source: rerun.SourceFile, known: rerun.Snapshot) -> SourceOutcome | None:
        if source.path.name == "sim_010.db":
            raise OSError("the disk went away")
        return decide(source, known)

    monkeypatch.setattr(rerun, "already_merged", failing)
    seen: list[SourceOutcome] = []
    with pytest.raises(OSError, match="went away"):
        rerun.first_pass([str(runs)], target, on_source=seen.append)
    assert [Path(o.path).name for o in seen] == [f"sim_{n:03d}.db" for n in range(10)]


def test_one_read_hashes_a_plain_source_and_leaves_any_other_to_open_file(
    tmp_path: Path,
) -> None:
    """``plain_sha256`` (the re-run's one read per source) gives the digest ``open_file`` gives
    a plain source, ``plain_uri`` its URI, and None for anything ``open_file`` must look at."""
    import hashlib
    import os

    from consolidate.sources.opening import open_file, plain_sha256

    plain = tmp_path / "plain.db"
    with sqlite3.connect(plain) as conn:
        conn.execute("CREATE TABLE t (x)")
        conn.executemany("INSERT INTO t VALUES (?)", [(str(n) * 500,) for n in range(3000)])
    conn.close()
    assert plain.stat().st_size > 1 << 20  # more than one read of the buffer
    with open_file(plain, resolved=True) as opened:
        assert (plain_sha256(plain), plain_uri(plain)) == (opened.sha256, opened.read_uri)
    assert plain_sha256(plain) == hashlib.sha256(plain.read_bytes()).hexdigest()

    small = tmp_path / "small.db"
    with sqlite3.connect(small) as conn:
        conn.execute("CREATE TABLE t (x)")
    conn.close()
    assert plain_sha256(small) is not None  # read whole: the buffer starts with its header
    short = tmp_path / "short.db"
    short.write_bytes(b"SQL")
    assert plain_sha256(short) is None
    text = tmp_path / "text.db"
    text.write_bytes(b"not a database at all, but long enough")
    pending = tmp_path / "pending.db"
    shutil.copy(plain, pending)
    Path(f"{pending}-wal").write_bytes(b"x")
    fifo = tmp_path / "fifo.db"
    os.mkfifo(fifo)
    for other in (text, pending, fifo, tmp_path / "gone.db", tmp_path):
        assert plain_sha256(other) is None, other.name
