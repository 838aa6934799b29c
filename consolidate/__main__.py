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
    import gc

    # Importing click and the command line makes some 16,000 objects that live as long as the
    # process: the collector scanned them some 20 times while they were made, and once more at
    # exit, a sixth of `consolidate --help`. It is off while they are made, and they are frozen
    # out of its sight once made (gc.freeze); it then runs as usual, for the command's objects.
    gc.disable()
    try:
        from consolidate.cli import main as run
    finally:
        gc.freeze()
        gc.enable()
    signal.signal(signal.SIGINT, signal.default_int_handler)
    run()


if __name__ == "__main__":
    main()
