import os
import signal
from types import FrameType


def _abort(_signum: int, _frame: FrameType | None) -> None:
    os._exit(130)  # Ctrl-C while starting up: nothing has been done yet


signal.signal(signal.SIGINT, _abort)

from consolidate.cli import main  # noqa: E402  (after the handler: importing takes a while)

main()
