"""A source made ready for its transaction: opened, recognised, counted, its checks under way.

Everything here reads the source and nothing writes the target, so the merge does it for the
next sources while the current one is copied (``merging.ahead``). Where the check workers are
processes, a run file is only opened here and handed to them (:class:`Pending`): the worker that
checks it also reads its facts (``merging.facts``). Read in the merge process, in a thread beside
the copy, a thousand small runs cost it 0.8 ms of CPU each and slowed the copy itself.
"""

from __future__ import annotations

import contextlib
import sqlite3
import time
from collections.abc import Iterator
from concurrent.futures import Executor
from dataclasses import dataclass, field, replace

from consolidate.errors import SourceError
from consolidate.layouts.reading import OpenSource, analysed, open_source, recognised
from consolidate.layouts.workers import forked
from consolidate.merging.checks import SPLIT_BYTES, SourceChecks
from consolidate.merging.facts import read_run
from consolidate.merging.report import SourceOutcome, database_reason
from consolidate.merging.rerun import already_merged
from consolidate.merging.snapshot import Snapshot
from consolidate.sources.discover import SourceFile
from consolidate.sources.opening import open_file


@dataclass(frozen=True)
class Reading:
    """What reading a source before its transaction needs of the merge: no target, no
    SQLAlchemy, so a merge into a new file starts reading before either is loaded (``entry``).
    """

    checks: Executor | None  # the check workers (None: the checks run beside the copy)
    known: Snapshot | None = None  # the ledger when the merge began: held sources are skipped
    dry_run: bool = False  # a dry run checks in its plan, not here


@dataclass
class Prepared:
    """One source, read and waiting for its transaction; :meth:`close` releases it.

    Exactly one of ``done`` (the outcome is known without a transaction: skipped from the
    ledger's snapshot, or rejected) and ``opened`` is set.
    """

    read_seconds: float  # spent opening and reading it (its outcome's seconds add the rest)
    base: SourceOutcome  # what is known of the outcome so far (path, layout, id, counts)
    done: SourceOutcome | None = None
    opened: OpenSource | None = None
    legacy_row: dict[str, object] | None = None
    #: The source's sha256 after its integrity and value checks, computed in the merge's check
    #: threads from the moment the source was read: the transaction waits for it before commit.
    checked: SourceChecks | None = None
    _stack: contextlib.ExitStack = field(default_factory=contextlib.ExitStack)

    def close(self) -> None:
        """Close the source (and remove its private copy); waits for its checks to stop reading
        (checks not begun yet, of a source skipped or stopped before its turn, never begin)."""
        if self.checked is not None:
            self.checked.cancel()
            self.checked.wait()
        self._stack.close()


def prepare(source: SourceFile, reading: Reading) -> Prepared:
    """Open, recognise and read ``source`` and start its checks; never raises for a bad source
    (its problem becomes ``done``, a rejected outcome naming the reason)."""
    started = time.perf_counter()
    prepared = _prepared(source, reading)
    prepared.read_seconds = time.perf_counter() - started
    return prepared


class Pending:
    """A small run file handed to a check worker, which reads its facts and checks it, in one
    task: the merge process opens the file (a private copy, when it has a pending sidecar) but
    never reads it.
    :meth:`ready` makes it :class:`Prepared`; :meth:`close` releases it unused."""

    def __init__(self, source: SourceFile, reading: Reading) -> None:
        self._source = source
        self._reading = reading
        self._started = time.perf_counter()
        self._stack = contextlib.ExitStack()
        self.file = self._stack.enter_context(open_file(source.path, resolved=True))
        assert reading.checks is not None
        outcome = SourceOutcome(path=source.label or str(source.path), status="rejected")
        self._checked = SourceChecks(reading.checks, self.file, read=(source, outcome))

    def ready(self) -> Prepared:
        """The source, prepared (waiting for its facts if need be)."""
        try:
            schema, facts = self._checked.facts()
        except BaseException:
            self.close()
            raise
        if facts is None or schema is None:  # not a run file, or its facts not read
            self.close()
            return prepare(self._source, self._reading)
        prepared = Prepared(0.0, facts.outcome, legacy_row=facts.legacy_row)
        prepared._stack.push(self._stack.pop_all())  # the file (its copy) is its now
        prepared.checked = self._checked  # closing it waits for them to stop reading
        with _rejecting(prepared):  # gone or changed since the worker read it
            if facts.rejected:
                prepared.done = facts.outcome
            else:
                prepared.opened = prepared._stack.enter_context(analysed(self.file, schema))
                if prepared.opened is None:  # a layout this process has not seen yet
                    prepared.opened = prepared._stack.enter_context(recognised(self.file))
        prepared.read_seconds = time.perf_counter() - self._started
        return prepared

    def close(self) -> None:
        """Release the file unused: checks not begun never begin, those under way end first."""
        self._checked.cancel()
        self._checked.wait()
        self._stack.close()


def start(source: SourceFile, reading: Reading, *, size: int) -> Prepared | Pending:
    """``source`` prepared here (:func:`prepare`), or, when check workers are processes and
    nothing else needs it read here, opened and handed to them (:class:`Pending`). ``size``:
    its bytes, sidecars included (``sources.opening.source_bytes``).

    Here: a dry run, a source the ledger's snapshot holds (a re-run skips it from memory), a
    source found unusable, one that cannot be opened (the same error, read again), and a
    large source: its checks are split between two workers, which then wait for nothing, and
    reading it here costs little beside its copy."""
    held = reading.known is not None and reading.known.holds(str(source.path))
    in_processes = reading.checks is not None and forked(reading.checks)
    if source.problem is not None or reading.dry_run or held or not in_processes:
        return prepare(source, reading)
    if size >= SPLIT_BYTES:  # a large source's checks are split: see SourceChecks
        return prepare(source, reading)
    try:
        return Pending(source, reading)
    except SourceError:
        return prepare(source, reading)


def _prepared(source: SourceFile, reading: Reading) -> Prepared:
    base = SourceOutcome(path=source.label or str(source.path), status="rejected")
    known = reading.known
    if source.problem is None and known is not None and known.holds(str(source.path)):
        skipped = already_merged(source, known)
        if skipped is not None:  # held byte for byte: nothing to open
            return Prepared(0.0, base, done=skipped)
    prepared = Prepared(0.0, base)
    with _rejecting(prepared):
        if source.problem is not None:  # found but unusable (a FIFO, an unreadable folder, ...)
            prepared.base = replace(base, simulation_id=source.path_id)
            raise SourceError(str(source.path), source.problem)
        opened = prepared._stack.enter_context(open_source(source.path, check=False))
        prepared.opened = opened
        if opened.is_experiment:
            return prepared  # each of its simulations is read in its own transaction
        facts = read_run(source, opened, base)
        prepared.base, prepared.legacy_row = facts.outcome, facts.legacy_row
        if facts.rejected:
            prepared.done = facts.outcome
        elif reading.checks is not None and not reading.dry_run:
            prepared.checked = SourceChecks(reading.checks, opened.file)
    return prepared


@contextlib.contextmanager
def _rejecting(prepared: Prepared) -> Iterator[None]:
    """A bad source's error becomes its rejected outcome (``done``), naming the reason; any
    other exception closes it and goes on. A source that has an outcome is closed: nothing
    more will read it."""
    try:
        yield
    except SourceError as exc:
        prepared.done = replace(prepared.base, status="rejected", reason=exc.reason)
    except sqlite3.Error as exc:  # sources are read with sqlite3 alone
        reason = database_reason(exc, prepared.base.simulation_id)
        prepared.done = replace(prepared.base, status="rejected", reason=reason)
    except BaseException:
        prepared.close()
        raise
    if prepared.done is not None:
        prepared.close()
        prepared.opened = None
