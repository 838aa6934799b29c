"""The two ways in: ``python -m consolidate`` and the ``consolidate`` command (its entry point).

A Ctrl-C while the package is still being imported has nothing to stop or report: the handler is
installed before anything else is imported, on both paths, and exits 130 without a traceback.
"""

import os
import signal
from types import FrameType


def _abort(_signum: int, _frame: FrameType | None) -> None:
    os._exit(130)  # Ctrl-C while starting up: nothing has been done yet


signal.signal(signal.SIGINT, _abort)


def main() -> None:
    """Run the command line; from here on a Ctrl-C is the command's to handle (exit 130)."""
    from consolidate.cli import main as run

    signal.signal(signal.SIGINT, signal.default_int_handler)
    run()


if __name__ == "__main__":
    main()
