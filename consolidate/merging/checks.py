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
receives the opened file (path and where to read it) and recognises it again, a millisecond.
"""

from __future__ import annotations

import sqlite3
from concurrent.futures import BrokenExecutor, Executor, Future, wait

from consolidate.errors import SourceError
from consolidate.layouts.reading import OpenSource, recognised
from consolidate.layouts.workers import forked
from consolidate.sources.opening import OpenFile

#: Sources smaller than this are checked in one thread (the small corpus's runs are 231 KB, the
#: 20-run corpus's 7 MB).
_SPLIT_BYTES = 1 << 20


class SourceChecks:
    """The checks of one source under way; :meth:`result` waits for them.

    A worker process that dies (killed by the OOM killer, say) breaks the pool: the checks it
    owed, and those of every later source, then run in the thread that asks for them, so the
    merge goes on, slower, with every check still made.
    """

    def __init__(self, checks: Executor, opened: OpenSource) -> None:
        self._opened = opened
        self._parts = ("all",) if _size(opened) < _SPLIT_BYTES else ("integrity", "values")
        in_processes = forked(checks)
        self._futures = [self._submit(checks, part, in_processes) for part in self._parts]

    def _submit(self, checks: Executor, part: str, in_processes: bool) -> Future[_Result]:
        if not in_processes:
            return checks.submit(_here, self._opened, part)
        try:
            return checks.submit(_in_process, self._opened.file, part)
        except BrokenExecutor:  # a worker died earlier (the OOM killer, say): check here
            done: Future[_Result] = Future()
            done.set_result(_here(self._opened, part))
            return done

    def result(self) -> str:
        """The source's sha256 once every check passed.

        Raises:
            SourceError: the first problem, the file's integrity before its values (a value
                scan of a damaged file may fail for the damage, which is the reason to give).
        """
        self.wait()  # when it returns or raises, nothing reads the source any more
        results = []
        for part, future in zip(self._parts, self._futures, strict=True):
            try:
                results.append(future.result())
            except BrokenExecutor:  # its worker died under it: the same check, here
                results.append(_here(self._opened, part))
        for found in results:
            if isinstance(found, tuple):
                kind, reason = found
                if kind == "source":
                    raise SourceError(str(self._opened.path), reason)
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


def _size(opened: OpenSource) -> int:
    """The source's bytes, a pending sidecar's included (``-wal``, read through a copy)."""
    try:
        size = opened.path.stat().st_size
        if opened.sidecar:
            size += opened.path.with_name(opened.path.name + opened.sidecar).stat().st_size
        return size
    except OSError:  # gone since it was opened: the checks will say so, in one thread
        return 0


#: What a check gives back: the sha256 (values and "all"), None (integrity), or the failure as
#: ``(kind, reason)``: "source" for a SourceError, "sqlite" for SQLite's own error (a process
#: sends both back as text; the exceptions themselves do not pickle).
_Result = str | None | tuple[str, str]


def _here(opened: OpenSource, part: str, *, on_reader: bool = False) -> _Result:
    """One part of the checks, on the source as opened; ``on_reader``: on its reader connection
    (only in the thread that opened it) instead of a new one."""
    try:
        if part in ("integrity", "all"):
            opened.file.check_integrity(full=True, conn=opened.reader if on_reader else None)
        if part in ("values", "all"):
            opened.check_values(on_reader=on_reader)
            return opened.sha256
        return None
    except SourceError as exc:
        return ("source", exc.reason)
    except sqlite3.Error as exc:
        return ("sqlite", str(exc))


def _in_process(file: OpenFile, part: str) -> _Result:
    """One part of the checks, in a worker process: the file recognised again there."""
    try:
        with recognised(file) as opened:  # opened here, in this thread: one connection for all
            return _here(opened, part, on_reader=True)
    except SourceError as exc:
        return ("source", exc.reason)
    except sqlite3.Error as exc:
        return ("sqlite", str(exc))
