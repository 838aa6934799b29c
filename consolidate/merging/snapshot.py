"""The ledger as one read: every merged source, so a re-run decides "already merged" from memory.

Plain data and plain ``sqlite3`` (no SQLAlchemy): a re-run over sources that are all merged
already reads the target with this alone (``merging.rerun``). ``ledger`` decides everything
else, inside each source's transaction.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable
from dataclasses import dataclass

ALREADY_MERGED = "already merged (same sha256)"

#: The merged sources of the ledger; ``ledger.snapshot`` runs the same query through SQLAlchemy.
QUERY = (
    "SELECT simulation_id, source_path, source_sha256, source_family, source_schema_version,"
    " source_row_counts, legacy_simulation_id FROM simulations"
    " WHERE origin = 'merge' AND source_sha256 IS NOT NULL ORDER BY simulation_id"
)


@dataclass(frozen=True)
class Merged:
    """One merged source as the ledger recorded it."""

    simulation_id: str
    sha256: str | None
    family: str | None
    schema_version: str | None
    counts: dict[str, int]
    legacy_simulation_id: str | None  # the id in the file's own simulations row, as text


class Snapshot:
    """The merged sources of the ledger, read in one query when a merge starts.

    A re-run over a thousand merged files then decides "already merged" from memory, with no
    transaction, no recognition and no ledger query per source. It only ever answers *skip*,
    and only where ``ledger.decide`` would: anything else (a new file, a changed one, an
    ambiguous record) goes through ``decide`` inside the source's transaction, as before.
    """

    def __init__(
        self,
        rows: Iterable[tuple[str, str, str | None, str | None, str | None, str | None, str | None]],
    ) -> None:
        self._by_id: dict[str, tuple[str, Merged]] = {}
        self._by_path: dict[str, list[Merged]] = {}
        self._not_held: frozenset[str] = frozenset()
        for sim, path, sha, family, version, counts, legacy in rows:
            merged = Merged(sim, sha, family, version, json.loads(counts or "{}"), legacy)
            self._by_id[sim] = (path, merged)
            self._by_path.setdefault(path, []).append(merged)

    def holds(self, source_path: str) -> bool:
        """Whether a source was merged from this path (the only case worth a look)."""
        return source_path in self._by_path and source_path not in self._not_held

    def holds_bytes(self, source_path: str, sha256: str) -> bool:
        """Whether a source merged from this path had these bytes. When not, no simulation_id
        makes :meth:`already_merged` answer: every record it could compare is one of these."""
        return any(m.sha256 == sha256 for m in self._by_path.get(source_path, ()))

    def simulation_id(self, source_path: str, sha256: str, *, path_id: str) -> str | None:
        """The simulation_id the merge gives the file at this path with these bytes, known
        without opening it when it is the one record at the path and has the same bytes; None
        when only the file can tell.

        The same bytes hold the same ``simulations`` row as when they were merged, so the file's
        own id is the one recorded then. A record with no legacy id came from a file with no id
        of its own: it is the path's id, as found now (the folder scanned may differ). A record
        whose legacy id is its simulation_id came from a file that carries that id, unless the
        id reads as a number: an integer id is no id of the file's own (the path gave it, and
        happened to be the same text), which only the file can tell. A renamed record
        (``--on-conflict rename``) names neither.
        """
        records = self._by_path.get(source_path, ())
        if len(records) != 1 or records[0].sha256 != sha256:
            return None
        record = records[0]
        if record.legacy_simulation_id is None:
            return path_id
        if record.legacy_simulation_id == record.simulation_id and not _numeric(
            record.simulation_id
        ):
            return record.simulation_id
        return None

    def without(self, source_paths: Iterable[str]) -> Snapshot:
        """The same snapshot, blind to ``source_paths``: sources already found not to be skipped
        from memory go straight to the ledger instead of being hashed a second time."""
        other = Snapshot(())
        other._by_id, other._by_path = self._by_id, self._by_path
        other._not_held = self._not_held | frozenset(source_paths)
        return other

    def already_merged(
        self, *, simulation_id: str, source_path: str, sha256: str
    ) -> tuple[Merged, str] | None:
        """The record and the reason ``ledger.decide`` would skip the source with, or None."""
        earlier = [
            m for m in self._by_path.get(source_path, ()) if m.simulation_id != simulation_id
        ]
        if len(earlier) > 1:
            return None  # several: let decide() look in the transaction
        if earlier:
            if earlier[0].sha256 != sha256:
                return None
            return earlier[0], f"already merged as {earlier[0].simulation_id}"
        _path, merged = self._by_id.get(simulation_id, ("", None))
        if merged is None or merged.sha256 != sha256:
            return None
        return merged, ALREADY_MERGED


def _numeric(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def read(conn: sqlite3.Connection) -> Snapshot:
    """The snapshot of a SQLite target, read on a plain ``sqlite3`` connection."""
    return Snapshot(conn.execute(QUERY).fetchall())
