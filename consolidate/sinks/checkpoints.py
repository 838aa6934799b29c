"""A SQLite target's WAL checkpoints, run by a thread of their own beside the merge's writes.

In WAL mode a commit appends the transaction's pages to ``-wal``; a checkpoint later copies them
into the database file. By default SQLite checkpoints inside the commit that takes the log past
1,000 pages, so the writing thread waits while the pages it wrote are written a second time (in
the in-engine script on the 1,000 small runs, its commits took 1.0 s of its 3.2 s, and 0.5 s
with that checkpoint left out). Here the merge's connections do not checkpoint
(``PRAGMA wal_autocheckpoint=0``, see ``schema.targets.central_engine``): after each commit the
writer calls :meth:`Checkpoints.committed`, and a connection of this thread copies the pages
while the writer goes on with the next source (sqlite3 releases the GIL, so it runs on the
other core).

The log only starts again from its beginning when a writer begins while every committed page is
already copied, which a checkpointer that runs behind the writer never allows; so about once a
second (:data:`DRAIN_SECONDS`) the writer waits, between two transactions, for a checkpoint of
everything committed so far. The ``-wal`` file then holds about a second of writes (and always
a whole transaction), unless a reader in another process keeps an older snapshot open, which
holds the log back as it would SQLite's own checkpoints. That wait needs one writer: a merge
with ``--jobs N`` keeps SQLite's own checkpoints (``merging.pipeline``). A checkpoint never
changes what the database holds: a kill at any moment leaves the committed transactions in the
log or the file, and the next connection recovers them, as after any crash in WAL mode.
"""

from __future__ import annotations

import os
import sqlite3
import sys
import threading
import time

#: The writer waits for a full checkpoint (and the log starts again) at most this often.
DRAIN_SECONDS = 1.0
#: A checkpoint starts at most this often, as SQLite's own every 1,000 pages would (about 17
#: small runs): each one syncs both files. The commits in between wait for the next one.
KICK_SECONDS = 0.05
#: Nor before the log has grown this long (SQLite's own 1,000 pages): a short merge then leaves
#: it all to the last connection's close, as before, instead of waiting at its end for a
#: checkpoint of a few pages and its syncs (a one-run merge took 1.11x the time).
KICK_BYTES = 4 << 20


class Checkpoints:
    """The checkpoint thread of the SQLite database at ``path``; a context manager.

    The thread is started on entry and stopped on exit (without a last checkpoint: the last
    connection to close does that, as SQLite always does). It only ever runs ``PASSIVE``
    checkpoints, which wait for nobody: another process reading or writing the same target is
    never blocked, and a checkpoint that cannot run (another one is running) is skipped.
    """

    def __init__(self, path: str) -> None:
        self._path = path
        self._log = path + "-wal"
        self._changed = threading.Condition()
        self._asked = 0  # checkpoints asked for so far (each covers every commit before it)
        self._done = 0  # the latest asked-for checkpoint finished (or skipped)
        self._closing = False
        self._kicked = self._drained = time.perf_counter()
        self._thread = threading.Thread(target=self._run, name="wal-checkpoints", daemon=True)

    def __enter__(self) -> Checkpoints:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._changed:
            self._closing = True
            self._changed.notify_all()
        self._thread.join()

    def committed(self) -> None:
        """Called by the one writing thread after each commit, outside any transaction, before
        it begins the next one: the pages it wrote are copied soon; about once a second this
        waits for a checkpoint of all of them (see the module), which copies every page no
        reader of an older snapshot still needs."""
        try:
            if os.stat(self._log).st_size < KICK_BYTES:  # a file that starts again keeps its size
                return
        except OSError:
            return  # no log (yet): nothing to copy
        now = time.perf_counter()
        if now - self._drained >= DRAIN_SECONDS:
            self._wait(self._ask())
            self._drained = self._kicked = time.perf_counter()
        elif now - self._kicked >= KICK_SECONDS:
            self._ask()
            self._kicked = now

    def _ask(self) -> int:
        with self._changed:
            self._asked += 1
            self._changed.notify_all()
            return self._asked

    def _wait(self, asked: int) -> None:
        with self._changed:
            while self._done < asked and self._thread.is_alive():
                self._changed.wait(0.1)

    def _run(self) -> None:
        _lower_priority()
        conn: sqlite3.Connection | None = None
        try:
            while True:
                with self._changed:
                    while self._done == self._asked and not self._closing:
                        self._changed.wait()
                    if self._closing:
                        return
                    asked = self._asked
                conn = conn or _connect(self._path)  # again next time, if it failed
                if conn is not None:
                    _checkpoint(conn)
                with self._changed:
                    self._done = asked
                    self._changed.notify_all()
        finally:
            if conn is not None:
                conn.close()


def _connect(path: str) -> sqlite3.Connection | None:
    try:
        return sqlite3.connect(path, isolation_level=None, check_same_thread=False)
    except sqlite3.Error:
        # Out of file descriptors, say: the pages stay in the log (safe, only longer) until a
        # later checkpoint, or the merge's last connection closing, copies them.
        return None


def _checkpoint(conn: sqlite3.Connection) -> None:
    # PASSIVE: copies what no reader still needs and reports the rest in its row (busy, pages
    # in the log, pages copied); those are copied by a later one, so the row is not looked at.
    try:
        conn.execute("PRAGMA wal_checkpoint(PASSIVE)").fetchall()
    except sqlite3.Error:
        pass  # another process checkpointing, or a failing disk: the pages stay in the log


def _lower_priority() -> None:
    """This thread at the check workers' priority (``layouts.workers``), on Linux, where a
    thread has its own: at the merge's, it took the core the checks run on and the copy then
    waited for them (twice as long in all, on the 20-run corpus), which ate what it saved."""
    if sys.platform == "linux":
        me = threading.get_native_id()
        try:
            os.setpriority(os.PRIO_PROCESS, me, min(19, os.getpriority(os.PRIO_PROCESS, me) + 10))
        except OSError:
            pass  # not allowed: it runs at the merge's priority, as fast, only less polite
