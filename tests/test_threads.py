"""The re-run's two threads (``merging.threads``, in place of ``concurrent.futures``): every call
runs and answers, errors reach the caller, and leaving the block cancels what has not begun."""

from __future__ import annotations

import threading
from functools import partial

import pytest

from consolidate.merging.threads import Threads


def test_every_call_answers_and_an_error_is_raised_where_it_is_asked_for() -> None:
    with Threads(2) as pool:
        powers = [pool.submit(partial(pow, 2, n)) for n in range(50)]
        boom = pool.submit(partial(divmod, 1, 0))
        assert [task.result(timeout=60) for task in powers] == [2**n for n in range(50)]
        with pytest.raises(ZeroDivisionError):
            boom.result(timeout=60)


def test_left_early_what_has_not_begun_is_cancelled_and_what_has_finishes() -> None:
    began, release, finished = threading.Event(), threading.Event(), threading.Event()

    def busy() -> bool:  # the one thread, until released
        began.set()
        released = release.wait()
        finished.set()
        return released

    pool = Threads(1).__enter__()
    first = pool.submit(busy)
    second = pool.submit(partial(str, "never"))
    began.wait()
    leaving = threading.Thread(target=pool.__exit__, args=(None, None, None))
    leaving.start()
    with pytest.raises(RuntimeError, match="cancelled"):
        second.result(timeout=60)  # answered by the cancellation, while the first still runs
    with pytest.raises(RuntimeError, match="cannot submit"):
        pool.submit(partial(str, "too late"))
    release.set()
    leaving.join(timeout=60)
    assert finished.is_set() and not leaving.is_alive()  # leaving waited for the first
    assert first.result(timeout=60) is True


def test_an_interrupt_inside_a_task_reaches_the_caller() -> None:
    def interrupted() -> None:
        raise KeyboardInterrupt

    with Threads(1) as pool:
        task = pool.submit(interrupted)
        with pytest.raises(KeyboardInterrupt):
            task.result(timeout=60)
