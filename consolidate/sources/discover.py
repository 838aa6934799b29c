"""Finding the source files a user named, and the id each would get from its path.

An argument is a directory (scanned recursively for ``*.db``, ``*.sqlite``, ``*.sqlite3``, any
case), a glob pattern (its matching directories are scanned the same way, its matching files are
kept when they have one of those suffixes) or a file (kept whatever its name). The path id of a
file is its path, without the suffix, relative to:

- the directory, for a directory argument;
- the pattern's fixed part (everything before the first wildcard), for a glob;
- the common folder of every file named explicitly in the same call, for files: a shell expands
  ``iters/*/simulation.db`` into one argument per file before we see it, and it must give the
  same ids as the quoted pattern (``a/simulation``, ``b/simulation``), not ``simulation`` for
  each. A file named alone keeps its stem.
"""

from __future__ import annotations

import glob
import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from consolidate.errors import UsageError

SOURCE_SUFFIXES = (".db", ".sqlite", ".sqlite3")
SIDECAR_SUFFIXES = ("-wal", "-shm", "-journal")


@dataclass(frozen=True)
class SourceFile:
    """A source file and the simulation id its path gives it.

    ``path_id`` is the path without its suffix, relative to the directory that was scanned, to
    the fixed part of a glob pattern, or to the common folder of the files named explicitly
    (see the module doc): ``sim_001`` or ``iteration_7/simulation``. It is used when the file
    does not carry exactly one id itself.
    """

    path: Path  # resolved
    path_id: str


def discover(sources: Iterable[str], *, exclude: Path | None = None) -> list[SourceFile]:
    """Expand files, directories (recursively) and glob patterns into a stable list of sources.

    Sidecars (``-wal``, ``-shm``, ``-journal``) are never sources, nor is ``exclude`` (the
    target, when it lies inside a scanned directory). A file found twice is listed once, with the
    id from the argument that found it first. The list is sorted by id, then path.

    Raises:
        UsageError: an argument names nothing (no such path, a pattern matching no source), or
            nothing at all was found.
    """
    arguments = list(sources)
    skip = exclude.resolve() if exclude is not None else None
    # Resolved path -> the folder its id is relative to; None for a file named explicitly, whose
    # folder is known only once every argument has been seen.
    roots: dict[Path, Path | None] = {}
    for argument in arguments:
        for file, root in _expand(argument):
            path = file.resolve()
            if path == skip or path.name.endswith(SIDECAR_SUFFIXES) or path in roots:
                continue
            roots[path] = root.resolve() if root is not None else None
    if not roots:
        raise UsageError("no source databases found in: " + " ".join(arguments))
    explicit = _common_folder([p for p, root in roots.items() if root is None])
    found = [SourceFile(p, _path_id(p, root or explicit)) for p, root in roots.items()]
    return sorted(found, key=lambda s: (s.path_id, str(s.path)))


def _expand(argument: str) -> list[tuple[Path, Path | None]]:
    """The files an argument names, each with the folder its id is relative to (None: named)."""
    path = Path(argument).expanduser()
    if path.is_dir():
        return [(p, path) for p in _scan(path)]
    if path.is_file():
        return [(path, None)]
    if glob.has_magic(argument):
        root = _fixed_prefix(path)
        hits: list[tuple[Path, Path | None]] = []
        for match in sorted(Path(m) for m in glob.glob(str(path), recursive=True)):
            if match.is_dir():
                hits.extend((p, root) for p in _scan(match))
            elif match.is_file() and _is_source_name(match):
                hits.append((match, root))
        if hits:
            return hits
        raise UsageError(f"{argument}: the pattern matches no source database")
    raise UsageError(f"{argument}: no such file or directory")


def _scan(directory: Path) -> list[Path]:
    return sorted(p for p in directory.rglob("*") if p.is_file() and _is_source_name(p))


def _is_source_name(path: Path) -> bool:
    # ``x.db-wal`` has the suffix ``.db-wal``, so sidecars never pass.
    return path.suffix.lower() in SOURCE_SUFFIXES


def _fixed_prefix(pattern: Path) -> Path:
    parts: list[str] = []
    for part in pattern.parts:
        if glob.has_magic(part):
            break
        parts.append(part)
    return Path(*parts) if parts else Path(".")


def _common_folder(files: list[Path]) -> Path:
    """The deepest folder holding every one of ``files`` (resolved paths); one file: its own."""
    if not files:
        return Path(".")  # unused: no file was named explicitly
    try:
        return Path(os.path.commonpath([f.parent for f in files]))
    except ValueError:  # no common folder at all (paths on different Windows drives)
        return Path(files[0].anchor)


def _path_id(path: Path, root: Path) -> str:
    try:
        relative = path.relative_to(root)
    except ValueError:
        # A symlink under the scanned directory that resolves elsewhere: its name is all it has.
        relative = Path(path.name)
    return relative.with_suffix("").as_posix()
