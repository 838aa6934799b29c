"""What every command shares: error translation, progress bars, and plain-text tables."""

from __future__ import annotations

import sys
from collections.abc import Sequence
from types import TracebackType
from typing import TYPE_CHECKING, Any, Protocol, TextIO

import click

from consolidate.errors import ConsolidateError

if TYPE_CHECKING:  # imported where used: `consolidate --help` loads neither
    from tqdm import tqdm


class _Failure(click.ClickException):
    """One ``Error:`` line with the exit code of the library's error (no usage banner)."""

    def __init__(self, message: str, exit_code: int) -> None:
        super().__init__(message)
        self.code = exit_code

    @property  # click reads exit_code from the instance; ClickException declares it ClassVar
    def exit_code(self) -> int:  # type: ignore[override]
        return self.code


class ConsolidateGroup(click.Group):
    """Turns every :class:`ConsolidateError` into one ``Error:`` line and its exit code (a usage
    error without click's usage banner)."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except ConsolidateError as exc:
            raise _Failure(str(exc), exc.exit_code) from exc
        except KeyboardInterrupt as exc:  # click would say "Aborted!" and exit 1
            raise _Failure("interrupted", 130) from exc
        except OSError as exc:  # a full disk or a vanished folder met outside the library's checks
            where = f"{exc.filename}: " if exc.filename else ""
            raise click.ClickException(f"{where}{exc.strerror or exc}") from exc
        except Exception as exc:
            # Anything the library did not anticipate still gets one line, never a traceback.
            # A command that never loaded SQLAlchemy cannot have raised its errors.
            sa = sys.modules.get("sqlalchemy.exc")
            if sa is None or not isinstance(exc, sa.SQLAlchemyError):
                raise
            original = exc.orig if isinstance(exc, sa.DBAPIError) else exc
            reason = (str(original).splitlines() or [type(exc).__name__])[0]
            raise click.ClickException(f"database error: {reason}") from exc


class Bar(Protocol):
    """What the commands ask of a progress bar: a tqdm bar, or :class:`_Hidden`."""

    def __enter__(self) -> Bar: ...

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None: ...

    def update(self, n: float | None = 1) -> bool | None: ...

    def reset(self, total: float | None = None) -> None: ...

    def write(self, s: str, file: TextIO | None = None) -> None: ...


class _Hidden:
    """A bar nobody sees, without importing tqdm (22 ms, a sixth of a re-run's start-up)."""

    def __enter__(self) -> _Hidden:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
        /,
    ) -> None:
        return None

    def update(self, n: float | None = 1) -> bool | None:
        return None

    def reset(self, total: float | None = None) -> None:
        return None

    def write(self, s: str, file: TextIO | None = None) -> None:
        print(s, file=file or sys.stdout)  # as tqdm.write does


def progress(*, quiet: bool, **kwargs: Any) -> Bar:
    """A tqdm bar on stderr, shown only when stderr is a terminal and ``--quiet`` is off
    (tqdm's own rule for ``disable=None``); otherwise a hidden one, and tqdm is not loaded."""
    if quiet or (hasattr(sys.stderr, "isatty") and not sys.stderr.isatty()):
        return _Hidden()
    from tqdm import tqdm

    bar: tqdm[Any] = tqdm(file=sys.stderr, leave=False, **kwargs)
    return bar


def shown(path: str) -> str:
    """A path as a person reads it: relative to the current folder when it lies inside."""
    from pathlib import Path

    try:
        return str(Path(path).relative_to(Path.cwd()))
    except ValueError:
        return path


def table(headers: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    """Rows as aligned plain text; numbers are right-aligned with thousands separators."""
    cells = [[_cell(v) for v in row] for row in rows]
    widths = [
        max(len(h), *(len(r[i]) for r in cells)) if cells else len(h) for i, h in enumerate(headers)
    ]
    numeric = [
        all(isinstance(row[i], int | float) for row in rows) and rows for i in range(len(headers))
    ]

    def line(values: Sequence[str]) -> str:
        parts = [
            v.rjust(w) if num else v.ljust(w)
            for v, w, num in zip(values, widths, numeric, strict=True)
        ]
        return "  ".join(parts).rstrip()

    return "\n".join([line(list(headers)), *(line(r) for r in cells)])


def _cell(value: object) -> str:
    if isinstance(value, bool) or value is None:
        return "" if value is None else str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3f}"
    return str(value)
