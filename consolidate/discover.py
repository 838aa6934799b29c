"""Finding the source files a user named, and the id each would get from its path."""

from __future__ import annotations

import glob
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from consolidate.errors import UsageError

SOURCE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class SourceFile:
    """A source file and the simulation id its path gives it.

    ``path_id`` is the path relative to the directory that was scanned (or to the fixed part of a
    glob pattern, or to the file's own folder), without its suffix: ``sim_001`` or
    ``iteration_7/simulation``. It is used when the file does not carry exactly one id itself.
    """

    path: Path
    path_id: str


def discover(sources: Iterable[str], *, exclude: Path | None = None) -> list[SourceFile]:
    """Expand files, directories (recursively) and glob patterns into a stable list of sources.

    Sidecars (``-wal``, ``-shm``, ``-journal``) are never sources, nor is ``exclude`` (the
    target, when it lies inside a scanned directory). A file named twice is listed once.

    Raises:
        UsageError: an argument names nothing, or nothing at all was found.
    """
    found: dict[Path, SourceFile] = {}
    skip = exclude.resolve() if exclude is not None else None
    for argument in sources:
        for file, root in _expand(argument):
            path = file.resolve()
            if path == skip or path.name.endswith(SIDECAR_SUFFIXES) or path in found:
                continue
            found[path] = SourceFile(path, _path_id(file, root))
    if not found:
        raise UsageError("no source databases found in: " + " ".join(sources))
    return sorted(found.values(), key=lambda s: (s.path_id, str(s.path)))


def _expand(argument: str) -> list[tuple[Path, Path]]:
    path = Path(argument).expanduser()
    if path.is_dir():
        files = [p for p in path.rglob("*") if p.is_file() and _is_source_name(p)]
        return [(p, path) for p in files]
    if path.is_file():
        return [(path, path.parent)]
    if glob.has_magic(argument):
        root = _fixed_prefix(path)
        matches = [Path(m) for m in glob.glob(str(path), recursive=True)]
        files = [m for m in matches if m.is_file() and not m.name.endswith(SIDECAR_SUFFIXES)]
        if files:
            return [(m, root) for m in files]
        raise UsageError(f"{argument}: the pattern matches no file")
    raise UsageError(f"{argument}: no such file or directory")


def _is_source_name(path: Path) -> bool:
    return path.suffix.lower() in SOURCE_SUFFIXES


def _fixed_prefix(pattern: Path) -> Path:
    parts: list[str] = []
    for part in pattern.parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _path_id(file: Path, root: Path) -> str:
    try:
        relative = file.resolve().relative_to(root.resolve())
    except ValueError:
        relative = Path(file.name)
    return relative.with_suffix("").as_posix()
