"""The ``--on-conflict`` choices, apart from the ledger so the CLI can offer them without
importing SQLAlchemy (``consolidate --help`` stays fast)."""

from __future__ import annotations

import enum


class OnConflict(enum.StrEnum):
    """What to do when another source already holds a source's simulation_id."""

    ERROR = "error"
    SKIP = "skip"
    RENAME = "rename"
