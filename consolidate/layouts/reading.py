"""A source opened and recognised: its file, its shape, its layout and how it maps.

``open_source`` is what the later stages call: it opens the file (``consolidate.sources``),
reads its structure, names its layout and builds its mapping, once per use of a source.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext
from dataclasses import dataclass, field
from pathlib import Path

from consolidate.errors import SourceError
from consolidate.layouts import central
from consolidate.layouts.mapping import (
    SIMULATION_ROW,
    SourceMapping,
    affinity,
    central_affinity,
    convert,
    map_source,
    quote,
)
from consolidate.layouts.recognition import Layout, recognise
from consolidate.layouts.shapes import SourceShape, read_shape
from consolidate.layouts.values import check_values
from consolidate.sources.opening import OpenFile, open_file, sqlite_reason

#: A database's schema text: its ``sqlite_master`` rows, in order.
Schema = tuple[tuple[object, ...], ...]


@dataclass(frozen=True)
class OpenSource:
    """A readable source: its file, what it is, and how it maps."""

    file: OpenFile
    shape: SourceShape
    layout: Layout
    mapping: SourceMapping
    #: The schema text it was recognised from (``sqlite_master``, see :func:`analysed`); None
    #: for an experiment database, whose layout is a row.
    schema: Schema | None = field(compare=False, repr=False)
    #: The connection behind :attr:`reader` once it is opened (at most one).
    _readers: list[sqlite3.Connection] = field(compare=False, repr=False)

    @property
    def reader(self) -> sqlite3.Connection:
        """One connection for the small reads (counts, ids, the simulations row), opened on
        first use, in the thread that opened the source: each new connection parses the schema
        again, a fixed cost that a thousand small sources pay a thousand times. Closed when
        ``open_source`` (or ``recognised``, or ``analysed``) exits."""
        if not self._readers:
            self._readers.append(self.file.connect())
        return self._readers[0]

    @property
    def path(self) -> Path:
        """The source as the user named it, absolute."""
        return self.file.path

    @property
    def read_uri(self) -> str:
        """A file: URI for ``sqlite3.connect(uri=True)`` or ATTACH."""
        return self.file.read_uri

    @property
    def sidecar(self) -> str | None:
        """``'-wal'`` or ``'-journal'`` when a pending sidecar was read through a copy."""
        return self.file.sidecar

    @property
    def sha256(self) -> str:
        """See :attr:`OpenFile.sha256`."""
        return self.file.sha256

    def connect(self) -> sqlite3.Connection:
        """A new read-only connection on the source (or its private copy)."""
        return self.file.connect()

    @property
    def is_experiment(self) -> bool:
        """An experiment database (our own layout) rather than a legacy run."""
        return self.layout.family == central.FAMILY

    def check_integrity(self, *, on_reader: bool = False) -> None:
        """The file's structure and its indexes (:meth:`OpenFile.check_integrity`), then every
        value the merge would write (:func:`check_values`): one rule for every target.

        ``on_reader``: check on :attr:`reader`, in its thread, instead of a new connection (each
        new connection parses the schema again: a small source's largest fixed cost).

        Raises:
            SourceError: the first problem, in one line naming table and column.
        """
        self.file.check_integrity(full=True, conn=self.reader if on_reader else None)
        self.check_values(on_reader=on_reader)

    def check_values(self, *, on_reader: bool = False) -> None:
        """Raise :class:`SourceError` for the first value no target can carry (one line).

        ``on_reader``: as for :meth:`check_integrity`.
        """
        with closing(self.connect()) if not on_reader else nullcontext(self.reader) as conn:
            reason = check_values(conn, self.mapping, self.shape)
        if reason is not None:
            raise SourceError(str(self.path), reason)

    def row_counts(self) -> dict[str, int]:
        """Rows per central table, counted in the source (what verify holds the target to)."""
        counts: dict[str, int] = {}
        if not self.mapping.tables:
            return counts
        # One statement for every table: a round trip per table is most of the cost of a
        # small source's counts.
        select = ", ".join(f"({t.count_sql()})" for t in self.mapping.tables)
        rows = self.reader.execute(f"SELECT {select}").fetchone()
        for table, n in zip(self.mapping.tables, rows, strict=True):
            counts[table.central_table] = counts.get(table.central_table, 0) + n
        return counts

    def unknown_table_counts(self) -> dict[str, int]:
        """Rows per table that no central table is home to."""
        return {
            name: self.reader.execute(f"SELECT count(*) FROM {quote(name)}").fetchone()[0]
            for name in self.mapping.unknown_tables
        }

    def own_simulation_id(self) -> str | None:
        """The id in the file's ``simulations`` table when it holds exactly one string id."""
        if self.mapping.simulation_table is None:
            return None
        name = self.mapping.simulation_table.name
        rows = self.reader.execute(f"SELECT simulation_id FROM {quote(name)} LIMIT 2").fetchall()
        if len(rows) == 1 and isinstance(rows[0][0], str) and rows[0][0]:
            return rows[0][0]
        return None

    def simulation_row(self) -> dict[str, object] | None:
        """The legacy ``simulations`` row as central column -> value, or None when it has none.

        Raises:
            SourceError: the table holds several rows (an experiment database, not a run).
        """
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
        rows = self.reader.execute(f"SELECT {select} FROM {quote(table.name)} LIMIT 2").fetchall()
        if len(rows) > 1:
            raise SourceError(
                str(self.path),
                f"its {table.name} table holds several simulations; "
                "multi-simulation experiment files are not supported",
            )
        if not rows:
            return None
        return {SIMULATION_ROW[n]: v for n, v in zip(names, rows[0], strict=True)}


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
    with open_file(path) as file, recognised(file) as opened:
        if check:
            opened.check_integrity(on_reader=True)
        yield opened


@contextmanager
def recognised(file: OpenFile) -> Iterator[OpenSource]:
    """``file`` (opened already, perhaps by another process) read and recognised; its reader
    connection is closed on exit, the file (or its private copy) is left as it is.

    Raises:
        SourceError: the file is corrupt, not SQLite, or has no tables.
    """
    readers = [file.connect()]
    try:
        try:
            schema, (shape, layout, mapping) = _analysed(readers[0])
        except sqlite3.DatabaseError as exc:
            raise SourceError(str(file.path), sqlite_reason(exc)) from exc
        if not shape.tables:
            raise SourceError(str(file.path), "a SQLite database with no tables")
        yield OpenSource(file, shape, layout, mapping, schema, readers)
    finally:
        for reader in readers:
            reader.close()


@contextmanager
def analysed(file: OpenFile, schema: Schema) -> Iterator[OpenSource | None]:
    """``file`` as :func:`recognised` gives it, without reading it, when another process (a
    check worker) has read its ``schema`` and this one has analysed that schema before; else
    None (the caller recognises it). Its reader is opened on first use, closed on exit."""
    known = _ANALYSED.get(schema)
    if known is None:
        yield None
        return
    readers: list[sqlite3.Connection] = []
    try:
        yield OpenSource(file, *known, schema, readers)
    finally:
        for reader in readers:
            reader.close()


#: Schema text -> what it was analysed into. A thousand runs of one layout are read, recognised
#: and mapped once; SQLite derives every ``PRAGMA table_info`` answer from that text, so equal
#: text is an equal shape. Bounded, for a process that meets many layouts.
_ANALYSED: dict[Schema, tuple[SourceShape, Layout, SourceMapping]] = {}
_ANALYSED_MAX = 256


def _analysed(
    conn: sqlite3.Connection,
) -> tuple[Schema | None, tuple[SourceShape, Layout, SourceMapping]]:
    """The schema text of the database on ``conn`` (None for an experiment database) and its
    shape, layout and mapping, from the cache when that text was seen before (one query
    instead of two per table, and no Python work)."""
    key = tuple(
        tuple(row)
        for row in conn.execute(
            "SELECT type, name, tbl_name, sql FROM sqlite_master ORDER BY rowid"
        )
    )
    known = _ANALYSED.get(key)
    if known is None:
        shape = read_shape(conn)
        if central.is_central(shape):  # its layout is its revision, a row: never cached
            layout = Layout(central.FAMILY, central.revision(conn))
            return None, (shape, layout, central.map_central(shape))
        known = (shape, recognise(shape), map_source(shape))
        if len(_ANALYSED) >= _ANALYSED_MAX:
            _ANALYSED.clear()
        _ANALYSED[key] = known  # threads of --jobs may race here: both store the same answer
    return key, known


def _central_affinity(legacy_column: str) -> str:
    return central_affinity("simulations", SIMULATION_ROW[legacy_column])
