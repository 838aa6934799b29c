"""A source's checks, run in the merge's check threads beside the copy: its integrity check in
one, its value scan and sha256 in another.

Split in two because on a 2-core machine one check thread was the slowest part of a merge of
large runs: integrity_check alone takes about as long as the copy, and the value scan and the
hash together about as long again. Both halves read the source through their own connection. A
small source's checks stay in one thread: a millisecond or two of work gains nothing from a
second hand-off between threads.
"""

from __future__ import annotations

from concurrent.futures import Future, ThreadPoolExecutor, wait

from consolidate.layouts.reading import OpenSource

#: Sources smaller than this are checked in one thread (the small corpus's runs are 231 KB, the
#: 20-run corpus's 7 MB).
_SPLIT_BYTES = 1 << 20

_DONE: Future[None] = Future()
_DONE.set_result(None)


class SourceChecks:
    """The checks of one source under way; :meth:`result` waits for them."""

    def __init__(self, checks: ThreadPoolExecutor, opened: OpenSource) -> None:
        if _size(opened) < _SPLIT_BYTES:
            self._integrity = _DONE
            self._values = checks.submit(_all, opened)
            return
        self._integrity = checks.submit(opened.file.check_integrity, full=True)
        self._values = checks.submit(_values_then_hash, opened)

    def result(self) -> str:
        """The source's sha256 once every check passed.

        Raises:
            SourceError: the first problem, the file's integrity before its values (a value
                scan of a damaged file may fail for the damage, which is the reason to give).
        """
        self.wait()  # when it returns or raises, nothing reads the source any more
        self._integrity.result()
        return self._values.result()

    def cancel(self) -> None:
        """Checks not begun never begin (a source skipped or stopped before its turn)."""
        self._integrity.cancel()
        self._values.cancel()

    def wait(self) -> None:
        """Until no check is reading the source any more (so it may be closed)."""
        wait([self._integrity])
        wait([self._values])


def _size(opened: OpenSource) -> int:
    """The source's bytes, a pending sidecar's included (``-wal``, read through a copy)."""
    try:
        size = opened.path.stat().st_size
        if opened.sidecar:
            size += opened.path.with_name(opened.path.name + opened.sidecar).stat().st_size
        return size
    except OSError:  # gone since it was opened: the checks will say so, in one thread
        return 0


def _all(opened: OpenSource) -> str:
    opened.file.check_integrity(full=True)
    return _values_then_hash(opened)


def _values_then_hash(opened: OpenSource) -> str:
    opened.check_values()
    return opened.sha256
