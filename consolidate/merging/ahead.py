"""The sources read ahead of the copy: opened, read and their checks started, in order, by one
reading thread while the merge writes the source before them.

Several of them, not one: the checks of a small source cost about as much as its copy, and the
check workers run at a lower priority than the copy (``layouts.workers.started``), so with one
source ahead the copy still waited for its checks, 0.7 ms of every 4 per small source. Eight
ahead keep the workers busy from one source to the next. A bound in bytes keeps large sources
to one ahead: each one ahead is an open connection (its private copy, for a source with a
pending sidecar) that a stop or an error then has to close.
"""

from __future__ import annotations

import contextlib
from collections import deque
from collections.abc import Sequence
from concurrent.futures import Executor, Future, ThreadPoolExecutor
from dataclasses import dataclass

from consolidate.merging.prepared import Pending, Prepared, Reading, start
from consolidate.sources.discover import SourceFile
from consolidate.sources.opening import source_bytes

#: Most sources read ahead of the one being written.
AHEAD_SOURCES = 8
#: More than one source is read ahead only while those ahead hold fewer bytes than this.
AHEAD_BYTES = 64 << 20


class ReadAhead:
    """``files`` prepared in order by one reading thread, at most :data:`AHEAD_SOURCES` (and
    :data:`AHEAD_BYTES`) ahead of the caller; :meth:`take` hands out the next one.

    Used as a context manager: on exit (the end, a stop, an error) every source read ahead and
    not taken is closed without being written, its checks cancelled or waited for, its private
    copy removed.
    """

    def __init__(self, files: Sequence[SourceFile], reading: Reading) -> None:
        self._files = files
        self._reading = reading
        self._queued = 0  # files handed to the reading thread so far
        self._ahead: deque[tuple[Future[Prepared | Pending], int]] = deque()  # and their sizes
        self._thread = ThreadPoolExecutor(max_workers=1)  # the reading thread

    def __enter__(self) -> ReadAhead:
        self._top_up()
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            while self._ahead:
                upcoming, _bytes = self._ahead.popleft()
                if not upcoming.cancel():  # being read, or read: close what it opened
                    with contextlib.suppress(BaseException):
                        upcoming.result().close()
        finally:
            self._thread.shutdown(wait=True, cancel_futures=True)

    def take(self) -> Prepared:
        """The next source, prepared (waiting for it if need be); the next ones start."""
        upcoming, _bytes = self._ahead.popleft()
        try:
            read = upcoming.result()
        finally:
            self._top_up()
        return read.ready() if isinstance(read, Pending) else read

    def _top_up(self) -> None:
        while self._queued < len(self._files) and self._room():
            file = self._files[self._queued]
            size = _size(file)
            self._ahead.append((self._thread.submit(start, file, self._reading, size=size), size))
            self._queued += 1

    def _room(self) -> bool:
        if not self._ahead:
            return True
        held = sum(size for _future, size in self._ahead)
        return len(self._ahead) < AHEAD_SOURCES and held < AHEAD_BYTES


@dataclass(frozen=True)
class Begun:
    """A merge into a new SQLite file, begun before SQLAlchemy was loaded (``merging.entry``):
    its sources found, its check workers forked and its first sources being read."""

    files: list[SourceFile]
    checks: Executor
    ahead: ReadAhead  # entered: the caller that made it closes it


def _size(file: SourceFile) -> int:
    """The file's bytes and its sidecars' (a source with a pending ``-wal`` is read through a
    private copy of both); 0 for what cannot be read: its problem is found when it is prepared."""
    return 0 if file.problem is not None else source_bytes(file.path)
