"""One rule on every target: values PostgreSQL cannot store, and damaged files, are rejected
everywhere, by inspect, by a dry run and by merge, with the same one-line reason."""

from __future__ import annotations

import json
import shutil
import sqlite3
from contextlib import closing
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import URL

from consolidate import merge
from consolidate.cli import cli
from consolidate.layouts.inspection import inspect
from tests.helpers import fixture, table_rows
from tests.test_writer_support import query

TEMPLATE = fixture("f7-slim-actions__v33")

#: name -> (SQL that damages a copy of the template, words the reason must hold)
DAMAGE = {
    "nul": (
        "UPDATE agents SET genome_id = 'a' || char(0) || 'b' WHERE rowid = 2",
        "agents.genome_id holds text with a NUL character (stored type text), "
        "which the text column agents.genome_id",
    ),
    "blob-in-text": (
        "UPDATE agent_actions SET action_type = X'00ff' WHERE rowid = 1",
        "agent_actions.action_type holds a BLOB value (stored type blob), "
        "which the text column agent_actions.action_type",
    ),
    "blob-in-number": (
        "UPDATE agent_actions SET reward = X'0102' WHERE rowid = 1",
        "agent_actions.reward holds a BLOB value (stored type blob), "
        "which the double precision column agent_actions.reward",
    ),
    "invalid-utf8": (
        "UPDATE agents SET agent_type = CAST(X'c328' AS TEXT) WHERE rowid = 1",
        "agents.agent_type holds text that is not valid UTF-8 (stored type text)",
    ),
    "truncated-utf8": (
        "UPDATE agents SET agent_type = CAST(X'41e282' AS TEXT) WHERE rowid = 1",
        "agents.agent_type holds text that is not valid UTF-8 (stored type text)",
    ),
    # A continuation byte with no lead byte before it: length() counts it as a character and
    # LIKE reads it as U+0080, so neither cheap test sees it (PostgreSQL refuses it).
    "stray-continuation-utf8": (
        "UPDATE agents SET agent_type = CAST(X'80616263' AS TEXT) WHERE rowid = 1",
        "agents.agent_type holds text that is not valid UTF-8 (stored type text)",
    ),
    "stray-continuation-inside": (
        "UPDATE agents SET agent_type = CAST(X'41bf4243' AS TEXT) WHERE rowid = 1",
        "agents.agent_type holds text that is not valid UTF-8 (stored type text)",
    ),
    # A rowid at the top of the 64-bit range: the scan's windows must not run past it.
    "stray-byte-at-the-last-rowid": (
        "UPDATE agents SET rowid = 9223372036854775807 WHERE rowid = 1; "
        "UPDATE agents SET agent_type = CAST(X'80616263' AS TEXT) "
        "WHERE rowid = 9223372036854775807",
        "agents.agent_type holds text that is not valid UTF-8 (stored type text)",
    ),
    # The stored-type tests run per window of rowids too: a value past the first window counts.
    "fraction-in-a-later-window": (
        "UPDATE agents SET rowid = 100000, birth_time = 1.5 WHERE rowid = 1",
        "agents.birth_time holds a fractional number (stored type real), "
        "which the bigint column agents.birth_time",
    ),
    "blob-in-a-later-window": (
        "UPDATE agent_actions SET rowid = 100000, action_type = X'00ff' WHERE rowid = 1",
        "agent_actions.action_type holds a BLOB value (stored type blob)",
    ),
    "words-in-a-later-window": (
        "UPDATE agent_actions SET rowid = 100000, reward = 'lots' WHERE rowid = 1",
        "agent_actions.reward holds text that is not a number (stored type text), "
        "which the double precision column agent_actions.reward",
    ),
    # Text longer than a window concatenates is checked value by value.
    "stray-byte-in-long-text": (
        "UPDATE agents SET agent_type = replace(hex(zeroblob(1500)), '0', 'a') "
        "|| CAST(X'80' AS TEXT) WHERE rowid = 1",
        "agents.agent_type holds text that is not valid UTF-8 (stored type text)",
    ),
    # More text than a window of the scan may build (2 MB): checked value by value instead.
    "stray-byte-in-huge-text": (
        "UPDATE agents SET agent_type = replace(hex(zeroblob(1600000)), '0', 'a') "
        "|| CAST(X'80' AS TEXT) WHERE rowid = 1",
        "agents.agent_type holds text that is not valid UTF-8 (stored type text)",
    ),
    "nul-in-long-text": (
        "UPDATE agents SET agent_type = replace(hex(zeroblob(1500)), '0', 'a') "
        "|| char(0) WHERE rowid = 1",
        "agents.agent_type holds text with a NUL character (stored type text)",
    ),
    "words-in-number": (
        "UPDATE simulation_steps SET total_agents = 'many' WHERE rowid = 1",
        "simulation_steps.total_agents holds text that is not a number (stored type text), "
        "which the bigint column simulation_steps.total_agents",
    ),
    "fraction-in-integer": (
        "UPDATE agents SET birth_time = 1.5 WHERE rowid = 1",
        "agents.birth_time holds a fractional number (stored type real), "
        "which the bigint column agents.birth_time",
    ),
    "index": (
        "PRAGMA writable_schema = ON; UPDATE sqlite_master SET sql = "
        "replace(sql, '(agent_type)', '(genome_id)') WHERE name = 'idx_agents_agent_type'",
        "integrity check failed: agents.genome_id: rows disagree with their index "
        "idx_agents_agent_type",
    ),
}


def damaged(folder: Path, name: str) -> Path:
    path = folder / f"{name}.db"
    shutil.copy(TEMPLATE, path)
    # Closed before the source is read: an open connection leaves a -wal that vanishes later.
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(DAMAGE[name][0])
    return path


@pytest.mark.parametrize("name", sorted(DAMAGE))
def test_damage_is_rejected_on_every_target_with_one_reason(
    name: str, any_target: str, tmp_path: Path
) -> None:
    source = damaged(tmp_path, name)
    words = DAMAGE[name][1]
    (report,) = inspect([str(source)])
    assert not report.mergeable
    assert any(words in p for p in report.problems), report.problems
    (planned,) = merge([str(source)], any_target, dry_run=True).sources
    assert planned.status == "rejected" and words in (planned.reason or ""), planned.reason
    good = fixture("f8-consolidated__v40")
    merged = merge([str(source), str(good)], any_target)
    outcome = next(s for s in merged.sources if Path(s.path).name == source.name)
    assert outcome.status == "rejected"
    assert words in (outcome.reason or "") and "\n" not in (outcome.reason or "")
    assert [s for s in merged.sources if s.status == "merged"]
    sims = query(any_target, "SELECT source_path FROM simulations")
    assert sims == [(str(good),)]  # nothing of the damaged source was written


def test_a_clean_copy_of_the_template_merges(tmp_path: Path) -> None:
    """The damage above is what rejects: the template itself goes in."""
    source = tmp_path / "clean.db"
    shutil.copy(TEMPLATE, source)
    assert merge([str(source)], str(tmp_path / "t.db")).ok
    assert table_rows(source)["agents"] > 1


def rowless(tmp_path: Path, name: str, agent_type_hex: str | None) -> Path:
    """The template with its agents table rebuilt WITHOUT ROWID (and one agent_type set)."""
    source = tmp_path / name
    shutil.copy(TEMPLATE, source)
    with closing(sqlite3.connect(source)) as conn:
        sql = conn.execute("SELECT sql FROM sqlite_master WHERE name = 'agents'").fetchone()[0]
        conn.executescript(
            "ALTER TABLE agents RENAME TO old_agents;"
            + sql
            + " WITHOUT ROWID;"
            + "INSERT INTO agents SELECT * FROM old_agents; DROP TABLE old_agents;"
        )
        if agent_type_hex is not None:
            conn.execute(
                f"UPDATE agents SET agent_type = CAST(X'{agent_type_hex}' AS TEXT) "
                "WHERE agent_id = (SELECT min(agent_id) FROM agents)"
            )
        conn.commit()
    return source


@pytest.fixture(params=["in-python", "scan"])
def both_ways(request: pytest.FixtureRequest, monkeypatch: pytest.MonkeyPatch) -> None:
    """A small source's values tested in Python, then by the SQL scan (the workers are forked
    after this, with it)."""
    from consolidate.layouts import values

    if request.param == "scan":
        monkeypatch.setattr(values, "_IN_PYTHON_BYTES", 0)


@pytest.mark.usefixtures("both_ways")
def test_a_table_without_rowids_is_checked_too(tmp_path: Path) -> None:
    clean = merge([str(rowless(tmp_path, "clean.db", None))], str(tmp_path / "clean-into.db"))
    assert clean.ok and clean.count("merged") == 1
    stray_source = rowless(tmp_path, "stray.db", "80616263")
    (stray,) = merge([str(stray_source)], str(tmp_path / "stray-into.db")).sources
    assert stray.status == "rejected"
    assert "agents.agent_type holds text that is not valid UTF-8" in (stray.reason or "")


def altered(source: Path, script: str) -> Path:
    """A copy of the template at ``source``, changed by ``script``."""
    shutil.copy(TEMPLATE, source)
    with closing(sqlite3.connect(source)) as conn:
        conn.executescript(script)
    return source


def test_huge_clean_text_merges(tmp_path: Path) -> None:
    """A 3.2 MB text value is more than a window of the scan holds: clean, it still goes in."""
    source = altered(
        tmp_path / "huge.db",
        "UPDATE agents SET agent_type = replace(hex(zeroblob(1600000)), '0', 'a') WHERE rowid = 1",
    )
    report = merge([str(source)], str(tmp_path / "t.db"))
    assert report.ok and report.count("merged") == 1


@pytest.mark.usefixtures("both_ways")
def test_a_column_named_rowid_does_not_hide_rows_from_the_scan(tmp_path: Path) -> None:
    """With a column called rowid, ``rowid`` names that column: the scan must still read every
    row (here one whose "rowid" is NULL holds a NUL) and never do arithmetic on text."""
    source = altered(
        tmp_path / "rowid-column.db",
        "ALTER TABLE agents ADD COLUMN rowid TEXT; UPDATE agents SET rowid = 'k';"
        "UPDATE agents SET rowid = NULL, genome_id = 'a' || char(0) || 'b' WHERE _rowid_ = 2;",
    )
    (report,) = inspect([str(source)])
    assert not report.mergeable
    assert any("agents.genome_id holds text with a NUL character" in p for p in report.problems)
    clean = altered(
        tmp_path / "rowid-clean.db",
        "ALTER TABLE agents ADD COLUMN rowid TEXT; UPDATE agents SET rowid = 'k';",
    )
    (fine,) = inspect([str(clean)])
    assert not any("holds" in p for p in fine.problems), fine.problems


def test_fractional_average_ages_merge_into_postgresql(postgres_url: URL) -> None:
    """v33 runs store fractions in a column AgentFarm declared INTEGER (issue 13)."""
    target = postgres_url.render_as_string(hide_password=False)
    assert merge([str(TEMPLATE)], target).ok
    with sqlite3.connect(TEMPLATE.as_uri() + "?immutable=1", uri=True) as conn:
        ages = conn.execute("SELECT average_agent_age FROM simulation_steps ORDER BY 1").fetchall()
    assert any(isinstance(a, float) and a % 1 for (a,) in ages)
    central = query(target, "SELECT average_agent_age FROM simulation_steps ORDER BY 1")
    assert [a for (a,) in central] == [float(a) for (a,) in ages]


def test_the_writer_stores_fractional_average_ages(any_target: str) -> None:
    from tests.test_experiment_source import write_run

    write_run(any_target, "w", age=7.741935483870968)
    ages = query(any_target, "SELECT average_agent_age FROM simulation_steps ORDER BY 1")
    assert [a for (a,) in ages] == [7.741935483870968 + n / 3 for n in range(3)]


def test_inspect_with_a_target_predicts_what_merge_then_does(
    any_target: str, tmp_path: Path, runner: CliRunner
) -> None:
    """``inspect --target`` gives each source the verdict the merge into that target gives it."""
    sources = [damaged(tmp_path, "nul"), fixture("f8-consolidated__v40"), TEMPLATE]
    names = [str(s) for s in sources]
    result = runner.invoke(cli, ["inspect", *names, "--target", any_target, "--json"])
    assert result.exit_code == 1, result.output  # the damaged source would be rejected
    predicted = {
        Path(r["path"]).name: [v["action"] for v in r["target_verdicts"]]
        for r in json.loads(result.stdout)
    }
    assert predicted == {
        "nul.db": ["reject"],
        "f8-consolidated__v40.db": ["merge"],
        "f7-slim-actions__v33.db": ["merge"],
    }
    merged = merge(names, any_target)
    done = {Path(s.path).name: s.status for s in merged.sources}
    action = {"merged": "merge", "rejected": "reject", "skipped": "skip"}
    assert {name: [action[status]] for name, status in done.items()} == predicted

    again = runner.invoke(cli, ["inspect", str(TEMPLATE), "--target", any_target])
    assert again.exit_code == 0, again.output
    assert "skip sim_2b8358f643 (already merged" in again.stdout


#: More values the two ways of testing must read alike: name -> SQL on a copy of the template.
EDGES = {
    "clean": "SELECT 1",
    # A column's declared type converts what looks like its own kind ('12' into an INTEGER
    # column is stored as 12): these are the values that stay what they are.
    "real-past-64-bits-in-integer": "UPDATE agents SET birth_time = 9.3e18 WHERE rowid = 1",
    "infinity-in-integer": "UPDATE agents SET birth_time = 9e999 WHERE rowid = 1",
    "hex-text-in-integer": "UPDATE agents SET birth_time = '0x10' WHERE rowid = 1",
    "blank-text-in-real": "UPDATE agent_actions SET reward = ' ' WHERE rowid = 1",
    "accents-in-text": "UPDATE agents SET agent_type = 'caf\u00e9' WHERE rowid = 1",
    "blob-and-nul-in-text": "UPDATE agents SET agent_type = X'00', genome_id = 'a' || char(0)",
    "empty-text": "UPDATE agents SET agent_type = ''",
    "empty-table": "DELETE FROM agent_actions",
}


@pytest.mark.parametrize("name", sorted(set(DAMAGE) - {"index"}) + sorted(EDGES))
def test_a_small_source_is_judged_in_python_as_the_scan_judges_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, name: str
) -> None:
    # A source under 1 MB has its values tested in Python (values._IN_PYTHON_BYTES), every
    # larger one by the SQL scan: the same file must get the same answer both ways.
    from consolidate.layouts import values
    from consolidate.layouts.reading import open_source

    path = tmp_path / f"{name}.db"
    shutil.copy(TEMPLATE, path)
    with closing(sqlite3.connect(path)) as conn, conn:
        conn.executescript(DAMAGE[name][0] if name in DAMAGE else EDGES[name])

    answered: list[object] = []  # per table, what _in_python answered (None: left to the scan)
    in_python_of = values._in_python

    def watched(conn: sqlite3.Connection, scan: object) -> object:
        answered.append(in_python_of(conn, scan))  # type: ignore[arg-type]
        return answered[-1]

    monkeypatch.setattr(values, "_in_python", watched)

    def judged() -> str | None:
        with open_source(path, check=False) as opened:
            return values.check_values(opened.reader, opened.mapping, opened.shape)

    # The huge-text case is over the bound: raised, so that its tables are read in Python too.
    monkeypatch.setattr(values, "_IN_PYTHON_BYTES", max(1 << 20, path.stat().st_size))
    in_python = judged()
    assert any(a is not None for a in answered)  # the Python way did run
    answered.clear()
    monkeypatch.setattr(values, "_IN_PYTHON_BYTES", 0)
    by_scan = judged()
    assert answered == []  # the scan alone
    assert in_python == by_scan
    if name in DAMAGE:
        assert in_python is not None and DAMAGE[name][1] in in_python
