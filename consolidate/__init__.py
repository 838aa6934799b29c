"""consolidate: merge legacy AgentFarm per-run SQLite databases into one experiment database.

The command line (``consolidate``) is a thin layer over the functions re-exported here.
"""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("consolidate")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0"

__all__ = ["__version__"]
