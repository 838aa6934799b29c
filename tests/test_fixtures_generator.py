"""Tests for the deterministic legacy fixture generator (fixtures/make_fixtures.py).

Generator tests need the legacy DDL corpus beside the repository
(``<repo>/../shared/legacy/ddl``); they are skipped when it is absent.  The checks of the
committed files in ``fixtures/`` run everywhere.
"""

from __future__ import annotations

import hashlib
import re
import shutil
import sqlite3
from pathlib import Path

import pytest

from fixtures.make_fixtures import (
    BROKEN_FILES,
    TRICKY_TEXTS,
    generate,
    regenerate_legacy,
    write_broken,
)
from tests.conftest import REPO, SHARED_DDL

LEGACY_FIXTURES = REPO / "fixtures" / "legacy"
BROKEN_FIXTURES = REPO / "fixtures" / "broken"
FAMILIES = (
    "f1-raw-stepid",
    "f2-raw-pascal",
    "f3-orm-intids",
    "f4-orm-strids",
    "f5-simid",
    "f6-simid-interactions",
    "f7-slim-actions",
    "f8-consolidated",
)
# Side variants based on a version >= v24 (when WAL was forced); see legacy-schemas.md §2.
WAL_SIDE_VARIANTS = frozenset({"f4-orm-strids__side-302c4210"})


# --------------------------------------------------------------------------- helpers


def legacy_ddl_dir() -> Path | None:
    """``<repo>/../shared/legacy/ddl`` if it exists (the DDL corpus is not in the repo)."""
    return SHARED_DDL if SHARED_DDL.is_dir() else None


def ddl_files() -> list[Path]:
    ddl_dir = legacy_ddl_dir()
    return sorted(ddl_dir.glob("*.sql")) if ddl_dir else []


def ddl_file(pattern: str) -> Path:
    """The single DDL file matching a glob pattern (skips the test without the corpus)."""
    ddl_dir = legacy_ddl_dir()
    if ddl_dir is None:
        pytest.skip("legacy DDL directory ../shared/legacy/ddl not found")
    matches = sorted(ddl_dir.glob(pattern))
    assert len(matches) == 1, matches
    return matches[0]


NO_DDL = pytest.param(
    None,
    id="no-ddl-dir",
    marks=pytest.mark.skip(reason="legacy DDL directory ../shared/legacy/ddl not found"),
)
DDL_PARAMS = [pytest.param(p, id=p.stem) for p in ddl_files()] or [NO_DDL]
all_ddls = pytest.mark.parametrize("ddl_path", DDL_PARAMS)


def sha256(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


def connect_ro(path: Path) -> sqlite3.Connection:
    """Open the main file alone, read-only, never creating sidecars."""
    return sqlite3.connect(f"file:{path}?immutable=1", uri=True)


def table_names(conn: sqlite3.Connection) -> list[str]:
    return [
        r[0]
        for r in conn.execute(
            "SELECT name FROM sqlite_master WHERE type = 'table' AND name NOT LIKE 'sqlite_%'"
        )
    ]


def row_counts(conn: sqlite3.Connection) -> dict[str, int]:
    return {t: conn.execute(f'SELECT count(*) FROM "{t}"').fetchone()[0] for t in table_names(conn)}


def find_table(conn: sqlite3.Connection, *candidates: str) -> str | None:
    names = {t.lower(): t for t in table_names(conn)}
    for c in candidates:
        if c.lower() in names:
            return names[c.lower()]
    return None


def columns(conn: sqlite3.Connection, table: str) -> dict[str, str]:
    return {r[1]: r[2] for r in conn.execute(f'PRAGMA table_info("{table}")')}


def foreign_key_violations(conn: sqlite3.Connection) -> list[tuple[object, ...]]:
    """``PRAGMA foreign_key_check`` per table.

    A table whose foreign key names a parent column that does not exist (side variant
    f816007b: ``REFERENCES Agents(giver_id)``) makes SQLite raise "foreign key mismatch";
    such keys are checked by hand against the parent's primary key.
    """
    out: list[tuple[object, ...]] = []
    for table in table_names(conn):
        try:
            out += conn.execute(f'PRAGMA foreign_key_check("{table}")').fetchall()
        except sqlite3.OperationalError as exc:
            if "foreign key mismatch" not in str(exc):
                raise
            for fk in conn.execute(f'PRAGMA foreign_key_list("{table}")').fetchall():
                parent, child_col = fk[2], fk[3]
                pk = [r[1] for r in conn.execute(f'PRAGMA table_info("{parent}")') if r[5]]
                assert len(pk) == 1, (parent, pk)
                out += conn.execute(
                    f'SELECT ?, rowid, ? FROM "{table}" WHERE "{child_col}" IS NOT NULL AND '
                    f'"{child_col}" NOT IN (SELECT "{pk[0]}" FROM "{parent}")',
                    (table, parent),
                ).fetchall()
    return out


def text_values(conn: sqlite3.Connection) -> list[tuple[str, str, str]]:
    out = []
    for table in table_names(conn):
        cols = list(columns(conn, table))
        for row in conn.execute(f'SELECT * FROM "{table}"'):
            out += [(table, c, v) for c, v in zip(cols, row, strict=True) if isinstance(v, str)]
    return out


def version_of(ddl_path: Path) -> int | None:
    m = re.search(r"__v(\d+)-", ddl_path.name)
    return int(m.group(1)) if m else None


def sidecars(path: Path) -> list[Path]:
    return [p for p in (Path(f"{path}{s}") for s in ("-wal", "-shm", "-journal")) if p.exists()]


# --------------------------------------------------------------------------- every DDL


@all_ddls
def test_generated_file_is_valid(ddl_path: Path, tmp_path: Path) -> None:
    run = generate(ddl_path.read_text(encoding="utf-8"), tmp_path / "run.db")
    assert run.path == tmp_path / "run.db"
    assert sidecars(run.path) == []
    conn = connect_ro(run.path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert foreign_key_violations(conn) == []
        counts = row_counts(conn)
        assert run.rows == counts
        for candidates in (
            ("agents",),
            ("agent_states", "AgentStates"),
            ("simulation_steps", "SimulationSteps"),
        ):
            table = find_table(conn, *candidates)
            assert table is not None and counts[table] > 0, (candidates, counts)
        sims = find_table(conn, "simulations")
        if sims is not None and "INT" not in columns(conn, sims)["simulation_id"].upper():
            rows = conn.execute(f'SELECT simulation_id, status FROM "{sims}"').fetchall()
            assert rows == [(run.simulation_id, "running")]
        else:
            assert run.simulation_id is None
            if sims is not None:
                assert counts[sims] == 0
        experiments = find_table(conn, "experiments")
        if experiments is not None:
            assert counts[experiments] == 0
    finally:
        conn.close()


@all_ddls
def test_same_seed_same_bytes(ddl_path: Path, tmp_path: Path) -> None:
    ddl = ddl_path.read_text(encoding="utf-8")
    a = generate(ddl, tmp_path / "a.db", seed=7)
    b = generate(ddl, tmp_path / "b.db", seed=7)
    c = generate(ddl, tmp_path / "c.db", seed=8)
    assert sha256(a.path) == sha256(b.path)
    assert sha256(a.path) != sha256(c.path)


@all_ddls
def test_journal_mode_rule(ddl_path: Path, tmp_path: Path) -> None:
    run = generate(ddl_path.read_text(encoding="utf-8"), tmp_path / "run.db")
    header = run.path.read_bytes()[:100]
    version = version_of(ddl_path)
    expect_wal = (version is not None and version >= 24) or ddl_path.stem in WAL_SIDE_VARIANTS
    assert (header[18], header[19]) == ((2, 2) if expect_wal else (1, 1))


@all_ddls
def test_pending_wal_keeps_last_step_in_sidecar(ddl_path: Path, tmp_path: Path) -> None:
    out = tmp_path / "out"
    run = generate(ddl_path.read_text(encoding="utf-8"), out / "run.db", steps=3, pending_wal=True)
    wal = Path(f"{run.path}-wal")
    assert wal.is_file() and wal.stat().st_size > 0
    assert sorted(p.name for p in out.iterdir()) == ["run.db", "run.db-wal"]
    conn = connect_ro(run.path)
    try:
        main_only = row_counts(conn)
    finally:
        conn.close()
    both = tmp_path / "both"
    both.mkdir()
    shutil.copyfile(run.path, both / "run.db")
    shutil.copyfile(wal, both / "run.db-wal")
    conn = sqlite3.connect(both / "run.db")
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        full = row_counts(conn)
        assert foreign_key_violations(conn) == []
    finally:
        conn.close()
    assert full == run.rows
    assert all(main_only[t] <= full[t] for t in full)
    steps_table = next(t for t in full if t.lower() in ("simulation_steps", "simulationsteps"))
    states_table = next(t for t in full if t.lower() in ("agent_states", "agentstates"))
    assert full[steps_table] == 3 and main_only[steps_table] == 2
    assert main_only[states_table] < full[states_table]


@all_ddls
def test_tricky_text_round_trips(ddl_path: Path, tmp_path: Path) -> None:
    run = generate(ddl_path.read_text(encoding="utf-8"), tmp_path / "run.db", tricky_text=True)
    conn = connect_ro(run.path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        values = text_values(conn)
        agent_col = columns(conn, find_table(conn, "agents") or "agents")["agent_id"]
        agent_ids = [
            r[0] for r in conn.execute(f'SELECT agent_id FROM "{find_table(conn, "agents")}"')
        ]
    finally:
        conn.close()
    found = {v for _, _, v in values}
    assert "a\x00b" in found  # the embedded NUL survived storage and retrieval
    assert any(v in found for v in TRICKY_TEXTS[1:])
    if "INT" not in agent_col.upper():
        tricky_ids = [a for a in agent_ids if "'" in a and '"' in a and "日" in a]
        assert tricky_ids and not any("\x00" in a for a in agent_ids)


# --------------------------------------------------------------------------- targeted


def test_null_simulation_ids_v31(tmp_path: Path) -> None:
    ddl = ddl_file("f6-simid-interactions__v31-*.sql").read_text(encoding="utf-8")
    run = generate(ddl, tmp_path / "run.db", agents=10, steps=8, null_simulation_ids=True)
    conn = connect_ro(run.path)
    try:
        repro = conn.execute("SELECT count(*), count(simulation_id) FROM reproduction_events")
        total, non_null = repro.fetchone()
        assert total > 0 and non_null == 0
        null_inter, n_inter = conn.execute(
            "SELECT sum(simulation_id IS NULL), count(*) FROM interactions"
        ).fetchone()
        assert 0 < null_inter < n_inter
        blanks = sum(
            conn.execute(f"SELECT count(*) FROM {t} WHERE simulation_id = ''").fetchone()[0]
            for t in ("agent_actions", "health_incidents")
        )
        assert blanks > 0
        # '' is not NULL, so those rows (and only those) violate the FK to simulations.
        violations = foreign_key_violations(conn)
        assert len(violations) == blanks
        assert {v[2] for v in violations} == {"simulations"}
    finally:
        conn.close()


@pytest.mark.parametrize(
    ("pattern", "agent_re", "state_re", "resource_re"),
    [
        ("f3-orm-intids__v20-*.sql", r"\d+", r"\d+", r"\d+"),
        ("f4-orm-strids__v26-*.sql", r"[2-9A-HJ-NP-Za-km-z]{22}", r"{agent}-{step}", r"\d+"),
        ("f5-simid__v28-*.sql", r"agent_[0-9a-f]{10}", r"{agent}-{step}", r"\d+"),
        (
            "f6-simid-interactions__v31-*.sql",
            r"agent_[0-9a-f]{10}",
            r"{sim}:{agent}-{step}",
            r"\d+",
        ),
        (
            "f7-slim-actions__v33-*.sql",
            r"agent_[0-9a-f]{10}",
            r"{sim}:{agent}-{step}",
            r"resource_[0-9a-f]{10}",
        ),
    ],
    ids=["v20", "v26", "v28", "v31", "v33"],
)
def test_id_formats(
    pattern: str, agent_re: str, state_re: str, resource_re: str, tmp_path: Path
) -> None:
    run = generate(
        ddl_file(pattern).read_text(encoding="utf-8"), tmp_path / "run.db", seed=3, resources=2
    )
    conn = connect_ro(run.path)
    try:
        agents = [str(r[0]) for r in conn.execute("SELECT agent_id FROM agents")]
        assert all(re.fullmatch(agent_re, a) for a in agents), agents
        states = conn.execute("SELECT id, agent_id, step_number FROM agent_states").fetchall()
        for sid, agent, step in states:
            expected = state_re.format(sim=run.simulation_id, agent=agent, step=step)
            assert re.fullmatch(expected, str(sid)), (sid, expected)
        resources = [str(r[0]) for r in conn.execute("SELECT resource_id FROM resource_states")]
        assert resources and all(re.fullmatch(resource_re, r) for r in resources)
        if run.simulation_id is not None:
            assert re.fullmatch(r"sim_[0-9a-f]{10}", run.simulation_id)
        # Integer surrogate keys restart at 1.
        assert conn.execute("SELECT min(action_id) FROM agent_actions").fetchone()[0] == 1
        assert conn.execute("SELECT min(id) FROM resource_states").fetchone()[0] == 1
    finally:
        conn.close()


def test_duplicated_step0_resource_batch(tmp_path: Path) -> None:
    ddl = ddl_file("f7-slim-actions__v33-*.sql").read_text(encoding="utf-8")
    run = generate(ddl, tmp_path / "run.db", steps=4, resources=3)
    assert run.rows["resource_states"] == 3 * (4 + 1)
    conn = connect_ro(run.path)
    try:
        dups = conn.execute(
            "SELECT step_number, count(*), count(DISTINCT id) FROM resource_states "
            "GROUP BY step_number, resource_id, amount, position_x, position_y "
            "HAVING count(*) > 1"
        ).fetchall()
    finally:
        conn.close()
    assert dups == [(0, 2, 2)] * 3


def test_simulation_id_argument_and_refusal(tmp_path: Path) -> None:
    ddl = ddl_file("f8-consolidated__v40-*.sql").read_text(encoding="utf-8")
    run = generate(ddl, tmp_path / "run.db", simulation_id="sim_custom_1")
    assert run.simulation_id == "sim_custom_1"
    conn = connect_ro(run.path)
    try:
        assert conn.execute("SELECT DISTINCT simulation_id FROM agent_states").fetchall() == [
            ("sim_custom_1",)
        ]
    finally:
        conn.close()
    with pytest.raises(FileExistsError):
        generate(ddl, run.path)


def test_unknown_future_ddl_is_filled_by_type(tmp_path: Path) -> None:
    ddl = """
    CREATE TABLE simulations (simulation_id VARCHAR(64) NOT NULL PRIMARY KEY,
        parameters JSON NOT NULL, simulation_db_path VARCHAR(255) NOT NULL);
    CREATE TABLE agents (simulation_id VARCHAR(64) REFERENCES simulations (simulation_id),
        agent_id VARCHAR(64) NOT NULL PRIMARY KEY, energy NUMERIC, blob_col BLOB, untyped,
        born DATE, flag BOOLEAN NOT NULL);
    CREATE TABLE agent_states (id VARCHAR(128) NOT NULL PRIMARY KEY, simulation_id VARCHAR(64),
        step_number INTEGER, agent_id VARCHAR(64) REFERENCES agents (agent_id),
        mood TEXT NOT NULL, starting_health FLOAT);
    CREATE TABLE simulation_steps (step_number INTEGER NOT NULL,
        simulation_id VARCHAR(64) NOT NULL, total_agents INTEGER,
        PRIMARY KEY (step_number, simulation_id));
    CREATE TABLE "trade events" (trade_id INTEGER PRIMARY KEY, step_number INTEGER NOT NULL,
        simulation_id VARCHAR(64) NOT NULL,
        buyer VARCHAR(64) NOT NULL REFERENCES agents (agent_id),
        seller VARCHAR(64) REFERENCES agents (agent_id), price FLOAT, note TEXT,
        FOREIGN KEY (step_number, simulation_id)
            REFERENCES simulation_steps (step_number, simulation_id));
    CREATE TABLE run_metadata (key TEXT PRIMARY KEY, value TEXT NOT NULL);
    """
    run = generate(ddl, tmp_path / "run.db", tricky_text=True)
    assert run.rows["trade events"] > 0 and run.rows["run_metadata"] == 1
    conn = connect_ro(run.path)
    try:
        assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
        assert foreign_key_violations(conn) == []
        assert row_counts(conn) == run.rows
    finally:
        conn.close()


def test_benchmark_sized_run_has_its_rows(tmp_path: Path) -> None:
    # The speed of generation is the benchmark's business (benchmarks/), not a test's.
    ddl = ddl_file("f7-slim-actions__v33-*.sql").read_text(encoding="utf-8")
    run = generate(ddl, tmp_path / "big.db", agents=100, steps=100)
    assert sum(run.rows.values()) > 25_000
    assert run.rows["agent_states"] > 9_000


# --------------------------------------------------------------------------- committed files


@pytest.mark.parametrize("family", FAMILIES)
def test_committed_fixture_exists_per_family(family: str) -> None:
    files = sorted(LEGACY_FIXTURES.glob(f"{family}__v*.db"))
    assert files, f"no committed fixture for {family} in {LEGACY_FIXTURES}"
    for path in files:
        conn = connect_ro(path)
        try:
            assert conn.execute("PRAGMA integrity_check").fetchone()[0] == "ok"
            assert sum(row_counts(conn).values()) > 0
        finally:
            conn.close()
    assert not any(sidecars(p) for p in files)


def test_committed_side_variants_and_nullsim_exist() -> None:
    names = {p.name for p in LEGACY_FIXTURES.glob("*.db")}
    assert "f6-simid-interactions__v31-nullsim.db" in names
    assert "f7-slim-actions__v33.db" in names
    assert sum(1 for n in names if "__side-" in n) == 5


def test_committed_broken_fixtures(tmp_path: Path) -> None:
    for name in BROKEN_FILES:
        assert (BROKEN_FIXTURES / name).is_file(), name
    assert (BROKEN_FIXTURES / "zero-bytes.db").stat().st_size == 0
    assert (BROKEN_FIXTURES / "random-bytes.db").stat().st_size == 4096
    for name, message in (
        ("random-bytes.db", "not a database"),
        ("text-file.db", "not a database"),
        ("truncated.db", "malformed"),
    ):
        copy = tmp_path / name
        shutil.copyfile(BROKEN_FIXTURES / name, copy)
        conn = sqlite3.connect(copy)
        try:
            with pytest.raises(sqlite3.DatabaseError, match=message):
                conn.execute("SELECT * FROM agents").fetchall()
        finally:
            conn.close()
    conn = connect_ro(BROKEN_FIXTURES / "no-tables.db")
    try:
        assert table_names(conn) == []
        assert conn.execute("PRAGMA user_version").fetchone()[0] == 1
    finally:
        conn.close()


def test_committed_fixtures_are_up_to_date(tmp_path: Path) -> None:
    """Regenerating gives byte-identical files (same SQLite library version only)."""
    ddl_dir = legacy_ddl_dir()
    if ddl_dir is None:
        pytest.skip("legacy DDL directory ../shared/legacy/ddl not found")
    committed = sorted(LEGACY_FIXTURES.glob("*.db"))
    assert committed
    header_version = int.from_bytes(committed[0].read_bytes()[96:100], "big")
    if (
        header_version
        != sqlite3.sqlite_version_info[0] * 1_000_000
        + sqlite3.sqlite_version_info[1] * 1_000
        + sqlite3.sqlite_version_info[2]
    ):
        pytest.skip("committed fixtures were written by another SQLite version")
    runs = regenerate_legacy(ddl_dir, tmp_path / "legacy")
    assert sorted(r.path.name for r in runs) == [p.name for p in committed]
    for run in runs:
        assert sha256(run.path) == sha256(LEGACY_FIXTURES / run.path.name), run.path.name
    broken = write_broken(
        tmp_path / "broken", truncated_source=tmp_path / "legacy" / "f7-slim-actions__v33.db"
    )
    for path in broken:
        assert sha256(path) == sha256(BROKEN_FIXTURES / path.name), path.name
