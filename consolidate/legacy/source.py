"""Opening a legacy source without changing it, and reading what it is.

Sources stay byte-identical and nothing is created beside them: a plain file is opened with
``immutable=1`` (``mode=ro`` would still create ``-wal``/``-shm`` next to a WAL-mode file). A file
that comes with a ``-wal`` or hot ``-journal`` sidecar holds data there that ``immutable`` would
miss, so it is copied, sidecar included, into a private folder and read from the copy, where
SQLite may replay the WAL or roll back the journal without touching the original.
"""

from __future__ import annotations

import functools
import hashlib
import shutil
import sqlite3
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from consolidate.errors import SourceError
from consolidate.legacy.layouts import Layout, SourceShape, read_shape, recognise
from consolidate.legacy.mapping import SourceMapping, map_source

SQLITE_HEADER = b"SQLite format 3\x00"
SIDECARS = ("-wal", "-journal")
_CHUNK = 1 << 20


@dataclass(frozen=True)
class OpenSource:
    """A readable source: where to read it, what it is, and how it maps."""

    path: Path  # the source as the user named it, absolute
    read_uri: str  # a file: URI for sqlite3.connect(uri=True) or ATTACH
    copied_sha256: str | None  # computed while copying a source that has a sidecar
    sidecar: str | None  # '-wal' or '-journal' when a pending sidecar was read through a copy
    shape: SourceShape
    layout: Layout
    mapping: SourceMapping

    @functools.cached_property
    def sha256(self) -> str:
        """Of the file's bytes, followed by its sidecar's when one is present.

        Computed on first use (inspect never needs it; merge computes it beside the copy).
        """
        if self.copied_sha256:
            return self.copied_sha256
        try:
            return _sha256([self.path])
        except OSError as exc:
            raise SourceError(str(self.path), f"cannot be read ({exc.strerror or exc})") from exc

    def check_integrity(self) -> None:
        """Run ``PRAGMA quick_check`` (a full read of the file's structure).

        Raises:
            SourceError: the check reports a problem or the file cannot be read.
        """
        try:
            with _closing(self.connect()) as conn:
                result = conn.execute("PRAGMA quick_check").fetchall()
        except sqlite3.DatabaseError as exc:
            raise SourceError(str(self.path), _reason(exc)) from exc
        if result != [("ok",)]:
            raise SourceError(str(self.path), f"integrity check failed: {result[0][0]}")

    def row_counts(self) -> dict[str, int]:
        """Rows per central table, counted in the source (what verify holds the target to)."""
        counts: dict[str, int] = {}
        with _closing(self.connect()) as conn:
            for table in self.mapping.tables:
                (rows,) = conn.execute(table.count_sql()).fetchone()
                counts[table.central_table] = counts.get(table.central_table, 0) + rows
        return counts

    def unknown_table_counts(self) -> dict[str, int]:
        """Rows per table that no central table is home to."""
        from consolidate.legacy.mapping import quote

        with _closing(self.connect()) as conn:
            return {
                name: conn.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0]
                for name in self.mapping.unknown_tables
            }

    def connect(self) -> sqlite3.Connection:
        """A new read-only connection on the source (or its private copy)."""
        return sqlite3.connect(self.read_uri, uri=True, isolation_level=None)

    def own_simulation_id(self) -> str | None:
        """The id in the file's ``simulations`` table when it holds exactly one string id."""
        if self.mapping.simulation_table is None:
            return None
        name = self.mapping.simulation_table.name
        with _closing(self.connect()) as conn:
            rows = conn.execute(f'SELECT simulation_id FROM "{name}" LIMIT 2').fetchall()
        if len(rows) == 1 and isinstance(rows[0][0], str) and rows[0][0]:
            return rows[0][0]
        return None

    def simulation_row(self) -> dict[str, object] | None:
        """The legacy ``simulations`` row as central column -> value, or None when it has none.

        Raises:
            SourceError: the table holds several rows (an experiment database, not a run).
        """
        from consolidate.legacy.mapping import SIMULATION_ROW, affinity, convert, quote

        table = self.mapping.simulation_table
        if table is None:
            return None
        columns = [c for c in table.columns if c.name in SIMULATION_ROW]  # others: homeless
        names = [c.name for c in columns]
        # The central columns are text except iteration_number: the same conversions as the
        # data tables, so an integer id becomes '7' and a real keeps every digit.
        select = ", ".join(
            convert(quote(c.name), affinity(c.declared_type), _central_affinity(c.name))
            for c in columns
        )
        with _closing(self.connect()) as conn:
            rows = conn.execute(f"SELECT {select} FROM {quote(table.name)} LIMIT 2").fetchall()
        if len(rows) > 1:
            raise SourceError(
                str(self.path),
                f"its {table.name} table holds several simulations; "
                "multi-simulation experiment files are not supported",
            )
        if not rows:
            return None
        return {SIMULATION_ROW[n]: v for n, v in zip(names, rows[0], strict=True)}


def _central_affinity(legacy_column: str) -> str:
    from consolidate.legacy.mapping import SIMULATION_ROW, central_affinity
    from consolidate.schema import metadata

    return central_affinity(metadata.tables["simulations"], SIMULATION_ROW[legacy_column])


@contextmanager
def open_source(path: Path, *, check: bool = True) -> Iterator[OpenSource]:
    """Open ``path`` read-only and recognise it; the private copy (if any) is removed on exit.

    Args:
        path: the source file.
        check: run :meth:`OpenSource.check_integrity` before returning; merge passes False and
            runs it alongside the copy instead.

    Raises:
        SourceError: the file is missing, empty, not SQLite, corrupt, or has no tables.
    """
    path = path.resolve()
    private: list[Path] = []  # the private copy's folder, made only for a source with a sidecar
    try:
        try:
            opened = _open(path, private, check=check)
        except OSError as exc:  # permission denied, an I/O error, a full disk for the copy
            raise SourceError(str(path), f"cannot be read ({exc.strerror or exc})") from exc
        yield opened
    finally:
        for folder in private:
            shutil.rmtree(folder, ignore_errors=True)


def _open(path: Path, private: list[Path], *, check: bool) -> OpenSource:
    name = str(path)
    if not path.is_file():
        raise SourceError(name, "no such file")
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if not header:
        raise SourceError(name, "empty file (0 bytes)")
    if header != SQLITE_HEADER:
        raise SourceError(name, "not a SQLite database (no SQLite header)")
    sidecar = next((s for s in SIDECARS if _nonempty(Path(name + s))), None)
    if sidecar is None:
        return _describe(path, path.as_uri() + "?immutable=1", None, None, check=check)
    private.append(Path(tempfile.mkdtemp(prefix="consolidate-source-")))
    copy = private[0] / "source.db"
    digest = _copy_hashing([(path, copy), (Path(name + sidecar), Path(f"{copy}{sidecar}"))])
    return _describe(path, copy.as_uri(), digest, sidecar, check=check)


def _describe(
    path: Path, uri: str, digest: str | None, sidecar: str | None, *, check: bool
) -> OpenSource:
    name = str(path)
    try:
        with _closing(sqlite3.connect(uri, uri=True, isolation_level=None)) as conn:
            shape = read_shape(conn)
    except sqlite3.DatabaseError as exc:
        raise SourceError(name, _reason(exc)) from exc
    if not shape.tables:
        raise SourceError(name, "a SQLite database with no tables")
    opened = OpenSource(path, uri, digest, sidecar, shape, recognise(shape), map_source(shape))
    if check:
        opened.check_integrity()
    return opened


def _reason(exc: sqlite3.DatabaseError) -> str:
    text = str(exc)
    if "malformed" in text:
        return f"corrupt or truncated ({text})"
    if "not a database" in text:
        return f"not a SQLite database ({text})"
    return text


def _nonempty(path: Path) -> bool:
    return path.is_file() and path.stat().st_size > 0


def _sha256(paths: list[Path]) -> str:
    digest = hashlib.sha256()
    for path in paths:
        with path.open("rb") as handle:
            while chunk := handle.read(_CHUNK):
                digest.update(chunk)
    return digest.hexdigest()


def _copy_hashing(pairs: list[tuple[Path, Path]]) -> str:
    """Copy each file and hash the bytes in the same pass, so a source is read once."""
    digest = hashlib.sha256()
    for source, destination in pairs:
        with source.open("rb") as reader, destination.open("wb") as writer:
            while chunk := reader.read(_CHUNK):
                digest.update(chunk)
                writer.write(chunk)
    return digest.hexdigest()


@contextmanager
def _closing(conn: sqlite3.Connection) -> Iterator[sqlite3.Connection]:
    try:
        yield conn
    finally:
        conn.close()
