"""How a simulation's logger buffers its rows."""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DataLoggingConfig:
    """Buffering of one simulation's logger, with AgentFarm's defaults.

    Attributes:
        buffer_size: rows a buffer (one per table) may hold; the one that reaches it triggers a
            flush of every buffer, in one transaction.
        commit_interval: seconds after the last commit at which ``log_step`` and
            ``flush_if_needed`` flush whatever is pending (``0`` flushes at every such call).
    """

    buffer_size: int = 1000
    commit_interval: float = 30

    def __post_init__(self) -> None:
        if isinstance(self.buffer_size, bool) or not isinstance(self.buffer_size, int):
            raise TypeError(f"buffer_size must be an int, not {type(self.buffer_size).__name__}")
        if self.buffer_size < 1:
            raise ValueError(f"buffer_size must be at least 1, not {self.buffer_size}")
        if self.commit_interval < 0:
            raise ValueError(f"commit_interval must be 0 or more, not {self.commit_interval}")
