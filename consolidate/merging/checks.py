"""A source's checks, run by the merge's check workers beside the copy: its integrity check in
one, its value scan and sha256 in another.

Split in two because on a 2-core machine one check worker was the slowest part of a merge of
large runs: integrity_check alone takes about as long as the copy, and the value scan and the
hash together about as long again. Both halves read the source through their own connection. A
small source's checks stay in one worker: a millisecond or two of work gains nothing from a
second hand-off.

The workers are forked processes where that is safe (:func:`layouts.workers.started`), threads
otherwise. In threads the checks and the copy ran at two thirds of their speed: besides the
GIL, every SQLite allocation in a process takes one lock (its memory statistics). A process
receives the opened file (path and where to read it) and recognises it again, a millisecond;
it may also read the run's facts (its counts, ids, what rejects it), so that the merge process
never reads a small source at all: opening and reading each one there slowed its copy.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import BrokenExecutor, Executor, Future, wait
from dataclasses import replace

from consolidate.errors import SourceError
from consolidate.layouts.reading import OpenSource, Schema, recognised
from consolidate.merging.facts import RunFacts, read_run
from consolidate.merging.report import SourceOutcome
from consolidate.sources.discover import SourceFile
from consolidate.sources.opening import OpenFile, source_bytes

#: Sources smaller than this are checked in one thread (the small corpus's runs are 231 KB, the
#: 20-run corpus's 7 MB).
SPLIT_BYTES = 1 << 20


class SourceChecks:
    """The checks of one source under way; :meth:`result` waits for them.

    ``read``: the source as found and its outcome so far: one task then reads the run's facts
    (:func:`consolidate.merging.facts.read_run`) and, unless they reject it, makes every check,
    on one connection, and :meth:`facts` gives them, so that the merge process need not read
    the source itself (for a small source: a large one's checks are split, see above).

    A worker process that dies (killed by the OOM killer, say) breaks the pool: the checks it
    owed, and those of every later source, then run in the thread that asks for them, so the
    merge goes on, slower, with every check still made.
    """

    def __init__(
        self,
        checks: Executor,
        file: OpenFile,
        *,
        read: tuple[SourceFile, SourceOutcome] | None = None,
    ) -> None:
        self._file = file
        self._read = read
        self._parts: tuple[str, ...] = ("all",)
        if read is None and source_bytes(file.path) >= SPLIT_BYTES:
            self._parts = ("integrity", "values")
        self._here: dict[int, _Done] = {}  # what ran in this thread (see _done)
        self._futures = [
            self._submit(checks, part, read if n == 0 else None)
            for n, part in enumerate(self._parts)
        ]

    def _submit(
        self, checks: Executor, part: str, read: tuple[SourceFile, SourceOutcome] | None
    ) -> Future[_Done]:
        try:
            return checks.submit(_in_process, self._file, part, read)
        except BrokenExecutor:  # a worker died earlier (the OOM killer, say): check here
            done: Future[_Done] = Future()
            done.set_result(_in_process(self._file, part, read))
            return done

    def _done(self, n: int) -> _Done:
        try:
            return self._futures[n].result()
        except BrokenExecutor:  # its worker died under it: the same work, here, once
            if n not in self._here:
                read = self._read if n == 0 else None
                self._here[n] = _in_process(self._file, self._parts[n], read)
            return self._here[n]

    def facts(self) -> tuple[Schema | None, RunFacts | None]:
        """The schema the source was recognised from and the run's facts (waiting for them);
        (None, None) for a source that is not a run file (an experiment database): the caller
        reads it itself. Only when made with ``read``."""
        schema, facts, _result = self._done(0)
        return schema, facts

    def result(self) -> str:
        """The source's sha256 once every check passed.

        Raises:
            SourceError: the first problem, the file's integrity before its values (a value
                scan of a damaged file may fail for the damage, which is the reason to give).
        """
        self.wait()  # when it returns or raises, nothing reads the source any more
        results = [self._done(n)[2] for n in range(len(self._parts))]
        for found in results:
            if isinstance(found, tuple):
                kind, reason = found
                if kind == "source":
                    raise SourceError(str(self._file.path), reason)
                raise sqlite3.DatabaseError(reason)
        sha256 = results[-1]
        assert isinstance(sha256, str)
        return sha256

    def cancel(self) -> None:
        """Checks not begun never begin (a source skipped or stopped before its turn)."""
        for future in self._futures:
            future.cancel()

    def wait(self) -> None:
        """Until no check is reading the source any more (so it may be closed)."""
        wait(self._futures)


#: What a check gives back: the sha256 (values and "all"), None (integrity, or not checked: a
#: source rejected by its facts, an experiment database), or the failure as ``(kind, reason)``:
#: "source" for a SourceError, "sqlite" for SQLite's own error (a process sends both back as
#: text; the exceptions themselves do not pickle).
_Result = str | None | tuple[str, str]
#: A check's whole answer: the schema the source was recognised from, its facts when asked
#: for, and the check's result.
_Done = tuple[Schema | None, RunFacts | None, _Result]


def _here(opened: OpenSource, part: str) -> _Result:
    """One part of the checks, on the source as opened, on its reader connection (each new
    connection parses the schema again)."""
    try:
        if part in ("integrity", "all"):
            opened.file.check_integrity(full=True, conn=opened.reader)
        if part in ("values", "all"):
            opened.check_values(on_reader=True)
            return opened.sha256
        return None
    except SourceError as exc:
        return ("source", exc.reason)
    except sqlite3.Error as exc:
        return ("sqlite", str(exc))


def _in_process(
    file: OpenFile, part: str, read: tuple[SourceFile, SourceOutcome] | None = None
) -> _Done:
    """One part of the checks (and with ``read`` the run's facts first), in a worker process or
    a thread: the file recognised there, one connection for all of it."""
    try:
        with recognised(file) as opened:
            if opened.is_experiment:  # not a run file: the merge reads and checks it itself
                return None, None, None
            facts = read_run(read[0], opened, read[1]) if read is not None else None
            if facts is not None and facts.rejected:
                return opened.schema, facts, None  # nothing of it will be written
            return opened.schema, facts, _here(opened, part)
    except SourceError as exc:
        if read is not None:  # the reason the source is rejected, as its facts
            rejected = replace(read[1], status="rejected", reason=exc.reason)
            return None, RunFacts(rejected, rejected=True), None
        return None, None, ("source", exc.reason)
    except sqlite3.Error as exc:
        return None, None, ("sqlite", str(exc))
