"""A re-run's two threads, without ``concurrent.futures``: importing it (and ``logging``, which it
imports) cost a re-run over a thousand merged files 8 ms of its start, a thirtieth of it.

:class:`Threads` runs submitted calls in the order they were submitted; :meth:`Task.result`
waits for one and raises what it raised. Leaving the block cancels what has not begun and waits
for what has.
"""

from __future__ import annotations

import threading
from collections import deque
from collections.abc import Callable
from typing import Generic, TypeVar

R = TypeVar("R")


class Task(Generic[R]):
    """One submitted call; :meth:`result` waits for it."""

    def __init__(self, call: Callable[[], R]) -> None:
        self._call = call
        self._done = threading.Event()
        self._value: R | None = None
        self._error: BaseException | None = None

    def result(self, timeout: float | None = None) -> R:
        """Its return value, or the exception it raised (raised here); waits until it ran, or
        at most ``timeout`` seconds.

        Raises:
            RuntimeError: it was cancelled (the block was left first) and never ran.
            TimeoutError: it had not run within ``timeout``.
        """
        if not self._done.wait(timeout):
            raise TimeoutError("the task has not run yet")
        if self._error is not None:
            raise self._error
        return self._value  # type: ignore[return-value]  # set when no error was

    def _run(self) -> None:
        try:
            self._value = self._call()
        except BaseException as exc:  # raised where the caller asks for it
            self._error = exc
        finally:
            self._done.set()

    def _cancel(self) -> None:
        self._error = RuntimeError("cancelled: the threads stopped before it began")
        self._done.set()


class Threads:
    """``count`` threads, started on entry, taking submitted calls in order; a context manager."""

    def __init__(self, count: int) -> None:
        self._queue: deque[Task[object]] = deque()
        self._ready = threading.Condition()
        self._closing = False
        self._threads = [threading.Thread(target=self._work, daemon=True) for _ in range(count)]

    def __enter__(self) -> Threads:
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        with self._ready:
            self._closing = True
            while self._queue:
                self._queue.popleft()._cancel()
            self._ready.notify_all()
        for thread in self._threads:
            thread.join()

    def submit(self, call: Callable[[], R]) -> Task[R]:
        """Queue ``call``; its task answers once a thread has run it.

        Raises:
            RuntimeError: the block was left: nothing would ever run it.
        """
        task = Task(call)
        with self._ready:
            if self._closing:
                raise RuntimeError("cannot submit: the threads have stopped")
            self._queue.append(task)  # type: ignore[arg-type]  # the queue holds any result
            self._ready.notify()
        return task

    def _work(self) -> None:
        while True:
            with self._ready:
                while not self._queue and not self._closing:
                    self._ready.wait()
                if not self._queue:
                    return
                task = self._queue.popleft()
            task._run()
