"""One engine per experiment database per process, shared by every writer in it.

AgentFarm's ``DatabaseFactory`` built a new engine (and ran ``create_all`` and the pragmas) for
every simulation. Here each database gets one engine, checked against the schema head once,
counted by its users and disposed when the last one is released.
"""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import URL, Engine

from consolidate.schema.migrations import require_current
from consolidate.schema.targets import central_engine, describe, target_url


@dataclass
class _Entry:
    engine: Engine
    users: int
    pid: int


_lock = threading.Lock()
_engines: dict[str, _Entry] = {}


def url_of(target: str | Path | URL) -> URL:
    """The SQLAlchemy URL of a file path or URL, the key of the registry."""
    return target if isinstance(target, URL) else target_url(target)


def acquire(target: str | Path | URL) -> Engine:
    """The process's engine on ``target``, at the schema head; pair every call with :func:`release`.

    An empty database is created at the head; one at an older revision is refused with
    :class:`~consolidate.errors.SchemaOutOfDate`
    (:func:`consolidate.schema.migrations.require_current`).
    """
    url = url_of(target)
    key = url.render_as_string(hide_password=False)
    with _lock:
        entry = _engines.get(key)
        if entry is not None and entry.pid != os.getpid():
            # A forked child inherited the parent's pool: its connections belong to the parent.
            entry.engine.dispose(close=False)
            entry = None
        if entry is None:
            engine = central_engine(url)
            try:
                require_current(engine, name=describe(url), create=True)
            except BaseException:
                engine.dispose()
                raise
            entry = _engines[key] = _Entry(engine, 0, os.getpid())
        entry.users += 1
        return entry.engine


def release(engine: Engine) -> None:
    """Give back an engine from :func:`acquire`; the last user's release disposes of it."""
    with _lock:
        for key, entry in _engines.items():
            if entry.engine is engine:
                entry.users -= 1
                if entry.users <= 0:
                    del _engines[key]
                    engine.dispose()
                return
