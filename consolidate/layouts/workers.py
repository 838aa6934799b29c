"""Running one function over many sources on every core, the results in the sources' order.

``inspect`` of a thousand small sources is a few milliseconds of work each, about half of it in
Python: threads share one GIL (and SQLite's allocator lock), so two threads took as long as one
(3.1 s on 2 cores), where two processes took half as long. The workers are forked: they start
with everything this process has imported, and nothing is pickled but the sources and results.
"""

from __future__ import annotations

import os
import signal
import sys
import threading
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, TypeVar

if TYPE_CHECKING:  # imported when there are several sources: `inspect one.db` starts none
    from concurrent.futures import Executor

T = TypeVar("T")
R = TypeVar("R")

#: Most workers, whatever the machine: the sources are read from one disk.
MAX_WORKERS = 4


@contextmanager
def in_order(function: Callable[[T], R], items: Sequence[T]) -> Iterator[Iterator[R]]:
    """``map(function, items)``, run by a few worker processes (threads where forking is not
    safe) when there are several items; one item runs here, starting nothing.

    Leaving the block early (an error, a Ctrl-C) cancels every item not yet begun and waits for
    the workers, which finish the few under way and exit: nothing is left running. The workers
    ignore Ctrl-C, which is this process's to handle.
    """
    workers = min(MAX_WORKERS, os.cpu_count() or 1, len(items))
    if workers < 2:
        yield map(function, items)
        return
    # Small chunks: a few round trips per worker and source, yet no worker left alone at the
    # end with a long chunk (a chunk of 50 small sources of 1,000 made the end 25% slower).
    chunk = max(1, min(16, len(items) // (8 * workers)))
    pool: Executor | None = None
    try:
        with _blocked_sigint():  # a Ctrl-C while forking is handled once the workers ignore it
            pool = _running(_pool(workers), workers)
            results = pool.map(function, items, chunksize=chunk)
        yield results
    except BaseException:
        if pool is not None:
            pool.shutdown(wait=True, cancel_futures=True)
        raise
    finally:
        if pool is not None:
            pool.shutdown(wait=True)


@contextmanager
def started(workers: int) -> Iterator[Executor]:
    """``workers`` worker processes, forked now (threads where forking is unsafe, see
    :func:`_pool`), for work beside the caller's own (they run at a lower priority); shut down
    on exit, work not begun cancelled.

    Forked before the caller starts any thread or opens any connection it keeps: a forked
    copy of an open SQLite connection must never be used, nor closed, by the child.
    """
    with _blocked_sigint():
        pool = _running(_pool(workers, initializer=_background_worker), workers)
    try:
        yield pool
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _running(pool: Executor, workers: int) -> Executor:
    """``pool`` with its workers started; threads instead when the system cannot fork them all
    (out of processes or memory): the same work, done more slowly, rather than no work.

    A fork context starts every worker at the first submit. When one fork fails those already
    forked are ended here: left waiting for work, they would keep this process from exiting
    (it waits for its children at exit, and they for it).
    """
    from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor

    if not isinstance(pool, ProcessPoolExecutor):
        return pool
    try:
        pool.submit(int).result()
    except OSError:
        children = list(getattr(pool, "_processes", {}).values())
        for child in children:
            child.terminate()
        for child in children:
            child.join()
        pool.shutdown(wait=False, cancel_futures=True)
        return ThreadPoolExecutor(workers)
    return pool


def forked(pool: Executor) -> bool:
    """Whether ``pool``'s workers are processes (what they are sent must then be picklable)."""
    from concurrent.futures import ProcessPoolExecutor

    return isinstance(pool, ProcessPoolExecutor)


def _pool(workers: int, *, initializer: Callable[[], None] | None = None) -> Executor:
    """Processes, forked; threads where a fork is unsafe: outside Linux, or when this process
    runs other Python threads (a fork copies their locks, held or not, and not the threads).

    Python's own count, not the system's: a pool's thread is joined at its shutdown but lingers
    in ``/proc/self/task`` a moment longer, and would make a second call use threads.
    """
    if sys.platform == "linux" and threading.active_count() == 1:
        import multiprocessing
        from concurrent.futures import ProcessPoolExecutor

        context = multiprocessing.get_context("fork")
        start = initializer or _ignore_sigint
        return ProcessPoolExecutor(workers, mp_context=context, initializer=start)
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(workers)


@contextmanager
def _blocked_sigint() -> Iterator[None]:
    if not hasattr(signal, "pthread_sigmask"):  # Windows: no fork either
        yield
        return
    signal.pthread_sigmask(signal.SIG_BLOCK, {signal.SIGINT})
    try:
        yield
    finally:
        signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})


def _background_worker() -> None:
    """:func:`_ignore_sigint`, at a lower priority: the work beside a caller's own, which the
    machine then gives the caller first when they compete for a core (the copy of a merge, whose
    checks run ahead of it)."""
    _ignore_sigint()
    os.nice(10)


def _ignore_sigint() -> None:
    """A worker's first act: Ctrl-C, sent to the whole process group, is the parent's to handle;
    one received while forking is pending here, and discarded. Everything the fork copied is
    frozen out of the collector's sight, so the child never finalizes the parent's garbage (a
    sqlite3 connection closed by a child could checkpoint the parent's database). And the
    worker ends when its parent does, however it ends (kill -9, an abort that skips the pool's
    shutdown): waiting for work, it would never see the end of a queue it also holds open, and
    would keep the parent's stdout open (a pipe to it would never close)."""
    import gc

    gc.freeze()
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.pthread_sigmask(signal.SIG_UNBLOCK, {signal.SIGINT})
    threading.Thread(target=_end_with, args=(os.getppid(),), daemon=True).start()


def _end_with(parent: int) -> None:
    import time

    while os.getppid() == parent:
        time.sleep(0.1)
    os._exit(1)
