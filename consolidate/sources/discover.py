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

import errno
import glob
import os
import stat
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path, PurePath

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

    path: Path  # resolved (absolute only, when it cannot be resolved)
    path_id: str
    #: Why this path cannot be a source (an unreadable folder, a FIFO, a symlink loop, a dangling
    #: symlink); it is reported as a rejected source and never opened.
    problem: str | None = None
    label: str | None = None  # what to call it when the file is a private copy (of a URL)


def discover(sources: Iterable[str], *, exclude: Path | None = None) -> list[SourceFile]:
    """Expand files, directories (recursively) and glob patterns into a stable list of sources.

    Sidecars (``-wal``, ``-shm``, ``-journal``) are never sources, nor is ``exclude`` (the
    target, when it lies inside a scanned directory). A file found twice is listed once, with the
    id from the argument that found it first. The list is sorted by id, then path.

    What cannot be used is listed too, with its :attr:`SourceFile.problem`, so that nothing is
    skipped without saying so: a folder that cannot be read, a FIFO or device, a symlink loop,
    a dangling symlink (inside a scanned folder: only those named like a source, and every
    folder). Nothing is opened here, so a FIFO is never read.

    Raises:
        UsageError: an argument names nothing (no such path, a pattern matching no source),
            nothing at all was found, or ``exclude`` (the target) is named as a source.
    """
    arguments = list(sources)
    skip = exclude.resolve() if exclude is not None else None
    # Resolved path -> the folder its id is relative to; None for a file named explicitly, whose
    # folder is known only once every argument has been seen.
    roots: dict[Path, Path | None] = {}
    problems: dict[Path, str] = {}
    resolved_roots: dict[Path, Path] = {}  # a folder's files share it: resolved once, not each
    for argument in arguments:
        for file, root, problem, resolved in _expand(argument):
            # An unusable path is named as found: a loop or a dangling link resolves to nothing.
            if resolved:
                path = file
            elif problem is None:
                path = _resolved(file)
            else:
                path = Path(os.path.abspath(file))
            if path == skip and root is None:
                raise UsageError(f"{argument}: the target cannot be its own source")
            if path == skip or path.name.endswith(SIDECAR_SUFFIXES) or path in roots:
                continue
            if root is not None and root not in resolved_roots:
                resolved_roots[root] = _resolved(root)
            roots[path] = resolved_roots[root] if root is not None else None
            if problem is not None:
                problems[path] = problem
    if not roots:
        raise UsageError("no source databases found in: " + " ".join(arguments))
    explicit = _common_folder([p for p, root in roots.items() if root is None])
    found = [
        SourceFile(p, _path_id(p, root or explicit), problems.get(p)) for p, root in roots.items()
    ]
    return sorted(found, key=lambda s: (s.path_id, str(s.path)))


#: A file, the folder its id is relative to, why it cannot be used, and whether it is resolved.
_Found = tuple[Path, Path | None, str | None, bool]


def _expand(argument: str) -> list[_Found]:
    """The files an argument names, each with the folder its id is relative to (None: named)."""
    path = Path(argument).expanduser()
    kind, problem = _kind(path)
    if kind == "dir":
        return _scan(path, path)
    if kind != "missing" or problem is not None:
        return [(path, None, problem, False)]
    if glob.has_magic(argument):
        root = _fixed_prefix(path)
        hits: list[_Found] = []
        for match in sorted(Path(m) for m in glob.glob(str(path), recursive=True)):
            kind, problem = _kind(match)
            if kind == "dir":
                hits.extend(_scan(match, root))
            elif _is_source_name(match.name):
                hits.append((match, root, problem, False))
        if hits:
            return hits
        raise UsageError(f"{argument}: the pattern matches no source database")
    raise UsageError(f"{argument}: no such file or directory")


def _kind(path: Path) -> tuple[str, str | None]:
    """``dir``, ``file`` or ``missing``, and why the path cannot be used, without opening it."""
    try:
        info = path.stat()
    except FileNotFoundError:
        if path.is_symlink():
            return "file", f"a dangling symlink (to {os.readlink(path)}, which does not exist)"
        return "missing", None
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "file", "a symlink loop (it never reaches a file)"
        return "file", f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISDIR(info.st_mode):
        return "dir", None
    if stat.S_ISREG(info.st_mode):
        return "file", None
    special = "a FIFO" if stat.S_ISFIFO(info.st_mode) else "a socket or device"
    return "file", f"not a regular file ({special}; never opened)"


def _scan(directory: Path, root: Path) -> list[_Found]:
    """Every source under ``directory``, recursively, following symlinked folders once."""
    found: list[_Found] = []
    seen: set[Path] = set()

    def walk(folder: Path) -> None:
        real = _resolved(folder)
        if real in seen:
            found.append((folder, root, "a symlink loop (a folder that contains itself)", False))
            return
        seen.add(real)
        try:
            entries = sorted(os.scandir(folder), key=lambda e: e.name)
        except OSError as exc:
            reason = f"a folder that cannot be read ({exc.strerror or exc})"
            found.append((folder, root, reason, False))
            return
        for entry in entries:
            if _plain_file(entry):
                # A plain file (the folder's listing says so: no system call) inside a resolved
                # folder is resolved: resolving each of a thousand files cost more than the scan.
                if _is_source_name(entry.name):
                    found.append((real / entry.name, root, None, True))
                continue
            path = Path(entry.path)
            kind, problem = _kind(path)
            if kind == "dir":
                walk(path)
            elif _is_source_name(path.name) or (problem is not None and "loop" in problem):
                found.append((path, root, problem, False))
        seen.discard(real)  # a folder reached twice by different links is no loop

    walk(directory)
    return found


def _plain_file(entry: os.DirEntry[str]) -> bool:
    """Whether the entry is a regular file, not a link, as its folder's listing tells."""
    try:
        return entry.is_file(follow_symlinks=False)
    except OSError:  # the listing did not tell and the file cannot be looked at: _kind says why
        return False


def _resolved(path: Path) -> Path:
    """``path`` resolved, or made absolute when it cannot be (a loop, an unreadable folder)."""
    try:
        return path.resolve()
    except (OSError, RuntimeError):
        return Path(os.path.abspath(path))


def _is_source_name(name: str) -> bool:
    # ``x.db-wal`` has the suffix ``.db-wal``, so sidecars never pass.
    return _suffix(name).lower() in SOURCE_SUFFIXES


def _suffix(name: str) -> str:
    """``PurePath(name).suffix`` of a file name, without making a path: a Path per file was a
    third of finding a folder of a thousand runs. A name ending in a dot is left to pathlib,
    whose rule for it changed in Python 3.14."""
    if name.endswith("."):
        return PurePath(name).suffix
    dot = name.rfind(".")
    return name[dot:] if dot > 0 else ""


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
    folder = str(root)
    folder += "" if folder.endswith(os.sep) else os.sep  # "/" stays "/", and "//" "//"
    full = str(path)
    if os.sep == "/" and full.startswith(folder):  # as below, without a Path per file
        inside = full[len(folder) :]
        return inside[: len(inside) - len(_suffix(inside[inside.rfind("/") + 1 :]))]
    try:
        relative = path.relative_to(root)
    except ValueError:
        # A symlink under the scanned directory that resolves elsewhere: its name is all it has.
        relative = Path(path.name)
    return relative.with_suffix("").as_posix()
