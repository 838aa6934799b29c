"""Shared test setup: paths, a CLI runner, fresh SQLite and PostgreSQL targets."""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import URL, create_engine, make_url, text

REPO = Path(__file__).resolve().parents[1]
FIXTURES = REPO / "fixtures"
SHARED = REPO.parent / "shared"
SHARED_DDL = SHARED / "legacy" / "ddl"
SHARED_SAMPLES = SHARED / "legacy" / "samples"
POSTGRES_ENV = "CONSOLIDATE_TEST_POSTGRES_URL"


def shared_ddl_files() -> list[Path]:
    """Every legacy DDL file beside the repository, or none when ../shared is absent."""
    return sorted(SHARED_DDL.glob("*.sql")) if SHARED_DDL.is_dir() else []


@pytest.fixture
def runner() -> CliRunner:
    return CliRunner()


@pytest.fixture
def sqlite_target(tmp_path: Path) -> Path:
    """A path where a test may create a fresh experiment database."""
    return tmp_path / "experiment.db"


@pytest.fixture(scope="session")
def postgres_server_url() -> URL:
    raw = os.environ.get(POSTGRES_ENV)
    if not raw:
        pytest.skip(f"{POSTGRES_ENV} is not set: no PostgreSQL server to test against")
    url = make_url(raw)
    if url.drivername in ("postgresql", "postgres"):
        url = url.set(drivername="postgresql+psycopg")
    return url


@pytest.fixture
def postgres_url(postgres_server_url: URL) -> Iterator[URL]:
    """A brand-new PostgreSQL database for one test, dropped afterwards."""
    name = f"consolidate_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(postgres_server_url, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    try:
        yield postgres_server_url.set(database=name)
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
def any_target(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh target on each backend, as the string a user would type."""
    if request.param == "sqlite":
        return str(tmp_path / "experiment.db")
    url: URL = request.getfixturevalue("postgres_url")
    return url.render_as_string(hide_password=False)
