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
        assert [task.result() for task in powers] == [2**n for n in range(50)]
        with pytest.raises(ZeroDivisionError):
            boom.result()


def test_left_early_what_has_not_begun_is_cancelled_and_what_has_finishes() -> None:
    began, release = threading.Event(), threading.Event()

    def busy() -> bool:  # the one thread, until released
        began.set()
        return release.wait()

    pool = Threads(1).__enter__()
    first = pool.submit(busy)
    second = pool.submit(partial(str, "never"))
    began.wait()
    leaving = threading.Thread(target=pool.__exit__, args=(None, None, None))
    leaving.start()
    with pytest.raises(RuntimeError, match="cancelled"):
        second.result()  # answered by the cancellation, while the first still runs
    release.set()
    leaving.join()
    assert first.result() is True
