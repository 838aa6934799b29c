"""Opening a source file without changing it.

Sources stay byte-identical and nothing is created beside them: a plain file is opened with
``mode=ro&immutable=1`` (``mode=ro`` alone would still create ``-wal``/``-shm`` next to a
WAL-mode file, and ``immutable=1`` alone would create a file deleted since it was found). A file
that comes with a ``-wal`` or hot ``-journal`` sidecar holds data there that ``immutable`` would
miss, so it is copied, sidecar included, into a private folder and read from the copy, where
SQLite may replay the WAL or roll back the journal without touching the original.
"""

from __future__ import annotations

import errno
import os
import sqlite3
import stat
import threading
from collections.abc import Iterator
from contextlib import closing, contextmanager, nullcontext, suppress
from dataclasses import dataclass, field
from pathlib import Path

from consolidate.errors import SourceError

SQLITE_HEADER = b"SQLite format 3\x00"
SIDECARS = ("-wal", "-journal")
_CHUNK = 1 << 20
#: What ``Path.is_file()`` takes for "not there" rather than an error.
_ABSENT = frozenset({errno.ENOENT, errno.ENOTDIR, errno.EBADF, errno.ELOOP})
#: Whether :func:`plain_sha256` can read a file in one open here (POSIX: ``readv`` and
#: ``O_NONBLOCK``); elsewhere ``open_file`` reads every source.
_ONE_READ = hasattr(os, "readv") and hasattr(os, "O_NONBLOCK")


@dataclass(frozen=True)
class OpenFile:
    """A source file opened for reading: where to read it, and its bytes' digest."""

    path: Path  # the source as the user named it, absolute
    read_uri: str  # a file: URI for sqlite3.connect(uri=True) or ATTACH
    copied_sha256: str | None  # computed while copying a source that has a sidecar
    sidecar: str | None  # '-wal' or '-journal' when a pending sidecar was read through a copy
    _digest: list[str] = field(default_factory=list, init=False, compare=False, repr=False)

    @property
    def sha256(self) -> str:
        """Of the file's bytes, followed by its sidecar's when one is present.

        Computed on first use (inspect never needs it; merge computes it beside the copy).
        Not a ``functools.cached_property``: on Python 3.11 that holds one lock for every
        instance, so no two sources could be hashed at once (the merge hashes on two threads).
        """
        if self.copied_sha256:
            return self.copied_sha256
        if not self._digest:
            try:
                self._digest.append(_sha256([self.path]))
            except OSError as exc:
                reason = f"cannot be read ({exc.strerror or exc})"
                raise SourceError(str(self.path), reason) from exc
        return self._digest[0]

    def check_integrity(
        self, *, full: bool = False, conn: sqlite3.Connection | None = None
    ) -> None:
        """Run ``PRAGMA quick_check`` (a full read of the file's structure), or with ``full``
        ``PRAGMA integrity_check``, which also finds rows that disagree with their indexes
        (damage ``quick_check`` passes, and that would put one row twice into a primary key).

        ``conn``: a connection on this file to check on; by default a new one, so that the
        check may run in another thread than the connection already open (merge's check thread).

        Raises:
            SourceError: the check reports a problem or the file cannot be read.
        """
        try:
            with closing(self.connect()) if conn is None else nullcontext(conn) as checked:
                result = _checked(checked, full=full)
                if result != [("ok",)]:
                    reason = _index_reason(checked, _first_problems(result))
        except sqlite3.DatabaseError as exc:
            raise SourceError(str(self.path), sqlite_reason(exc)) from exc
        if result != [("ok",)]:
            raise SourceError(str(self.path), f"integrity check failed: {reason}")

    def connect(self) -> sqlite3.Connection:
        """A new read-only connection on the source (or its private copy).

        It may be handed from thread to thread, never used by two at once: merge opens and
        reads the next source in a second thread while the current one is copied.
        """
        return sqlite3.connect(
            self.read_uri, uri=True, isolation_level=None, check_same_thread=False
        )


@contextmanager
def open_file(path: Path, *, resolved: bool = False) -> Iterator[OpenFile]:
    """Open ``path`` read-only; the private copy (if any) is removed on exit.

    ``resolved``: the path is resolved already (a found source's), so it is not resolved again
    (a system call per folder of the path: a tenth of a small source's re-run).

    Raises:
        SourceError: the file is missing, unreadable, empty, or has no SQLite header.
    """
    if not resolved:
        path = path.resolve()
    private: list[Path] = []  # the private copy's folder, made only for a source with a sidecar
    try:
        try:
            opened = _open(path, private)
        except OSError as exc:  # permission denied, an I/O error, a full disk for the copy
            raise SourceError(str(path), f"cannot be read ({exc.strerror or exc})") from exc
        yield opened
    finally:
        for folder in private:
            import shutil

            shutil.rmtree(folder, ignore_errors=True)


def plain_sha256(path: Path) -> str | None:
    """The sha256 of a plain source (no pending sidecar), read in the same pass as its header:
    one open, where :func:`open_file` then hashing makes two and twice the system calls (a
    re-run does nothing else with a source it skips). ``path`` is resolved; its URI is
    :func:`plain_uri`'s.

    None when ``open_file`` must look: a sidecar, or anything wrong, which it then names (and on
    a system without ``readv``, every time). Never raises.
    """
    if not _ONE_READ:
        return None
    import hashlib

    digest = hashlib.sha256()
    buffer = _buffer()
    view = memoryview(buffer)
    name = str(path)
    try:
        if any(_nonempty(name + sidecar) for sidecar in SIDECARS):
            return None
        # O_NONBLOCK: a path turned into a FIFO since it was found is opened without waiting
        # for a writer, and never read (it is not a regular file).
        fd = os.open(name, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError:
        return None
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return None
        size = os.readv(fd, [buffer])
        if size < len(SQLITE_HEADER) or view[: len(SQLITE_HEADER)] != SQLITE_HEADER:
            return None
        while size:
            digest.update(view[:size])
            size = os.readv(fd, [buffer])
    except OSError:
        return None
    finally:
        with suppress(OSError):
            os.close(fd)
    return digest.hexdigest()


def plain_uri(path: Path) -> str:
    """Where SQLite reads a plain source: read-only, never creating anything beside it.

    ``mode=ro``: a file gone since (deleted under a running merge) is not made again, empty.
    """
    return path.as_uri() + "?mode=ro&immutable=1"


def _open(path: Path, private: list[Path]) -> OpenFile:
    name = str(path)
    if not path.is_file():
        raise SourceError(name, "no such file")
    with path.open("rb") as handle:
        header = handle.read(len(SQLITE_HEADER))
    if not header:
        raise SourceError(name, "empty file (0 bytes)")
    if header != SQLITE_HEADER:
        raise SourceError(name, "not a SQLite database (no SQLite header)")
    sidecar = next((s for s in SIDECARS if _nonempty(name + s)), None)
    if sidecar is None:
        return OpenFile(path, plain_uri(path), None, None)
    import tempfile  # only a source with a sidecar needs these (start-up of `inspect`)

    private.append(Path(tempfile.mkdtemp(prefix="consolidate-source-")))
    copy = private[0] / "source.db"
    digest = _copy_hashing([(path, copy), (Path(name + sidecar), Path(f"{copy}{sidecar}"))])
    return OpenFile(path, copy.as_uri(), digest, sidecar)


def _checked(conn: sqlite3.Connection, *, full: bool) -> list[tuple[str]]:
    """quick_check's findings, or with ``full`` integrity_check's (a superset of quick_check's).

    A healthy source runs integrity_check alone: quick_check would pass too and costs as much
    again on a small file. Only when integrity_check finds damage, or stops with "malformed",
    does quick_check run, because it names a broken page where integrity_check cannot.
    """
    if not full:
        return conn.execute("PRAGMA quick_check").fetchall()
    try:
        result = conn.execute("PRAGMA integrity_check(3)").fetchall()
    except sqlite3.DatabaseError:
        quick = conn.execute("PRAGMA quick_check").fetchall()
        if quick == [("ok",)]:
            raise  # integrity_check's own error is the reason
        return quick
    if result == [("ok",)]:
        return result
    quick = conn.execute("PRAGMA quick_check").fetchall()
    return quick if quick != [("ok",)] else result


def sqlite_reason(exc: sqlite3.DatabaseError) -> str:
    """SQLite's error as a reason a user can act on (corrupt, not SQLite, or its own words)."""
    text = str(exc)
    if "malformed" in text:
        return f"corrupt or truncated ({text})"
    if "not a database" in text:
        return f"not a SQLite database ({text})"
    return text


def _first_problems(rows: list[tuple[str]], shown: int = 3) -> str:
    """quick_check's findings on one line: its text starts ``*** in database main ***`` and a
    newline, and it may list a finding per page."""
    lines = [
        line.strip()
        for (text,) in rows
        for line in str(text).splitlines()
        if line.strip() and not line.startswith("*** in database")
    ]
    more = f" (and {len(lines) - shown} more)" if len(lines) > shown else ""
    return "; ".join(lines[:shown]) + more


def _index_reason(conn: sqlite3.Connection, text: str) -> str:
    """The check's findings (one line), naming the table and columns of an index they cite."""
    words = text.replace(",", " ").replace(";", " ").split()
    for before, name in zip(words, words[1:], strict=False):
        if before != "index":
            continue
        row = conn.execute(
            "SELECT tbl_name FROM sqlite_master WHERE type = 'index' AND name = ?", (name,)
        ).fetchone()
        if row is not None:
            info = conn.execute("SELECT name FROM pragma_index_info(?)", (name,))
            columns = [str(c[0]) for c in info]
            where = f"{row[0]}.{', '.join(c for c in columns if c) or '?'}"
            return f"{where}: rows disagree with their index {name} ({text})"
    return text


def source_bytes(path: Path) -> int:
    """The file's bytes and its sidecars' (0 for what cannot be read)."""
    total = 0
    for name in (str(path), *(f"{path}{sidecar}" for sidecar in SIDECARS)):
        try:
            total += os.stat(name).st_size
        except OSError:
            pass
    return total


def _nonempty(path: str) -> bool:
    try:
        info = os.stat(path)  # one system call, where is_file() and stat() made two
    except OSError as exc:
        if exc.errno in _ABSENT:
            return False
        raise  # as is_file() raises: the source "cannot be read"
    return stat.S_ISREG(info.st_mode) and info.st_size > 0


def _sha256(paths: list[Path]) -> str:
    import hashlib

    digest = hashlib.sha256()
    buffer = _buffer()
    view = memoryview(buffer)
    for path in paths:
        with path.open("rb", buffering=0) as handle:
            while size := handle.readinto(buffer):
                digest.update(view[:size])
    return digest.hexdigest()


def _copy_hashing(pairs: list[tuple[Path, Path]]) -> str:
    """Copy each file and hash the bytes in the same pass, so a source is read once."""
    import hashlib

    digest = hashlib.sha256()
    buffer = _buffer()
    view = memoryview(buffer)
    for source, destination in pairs:
        with source.open("rb", buffering=0) as reader, destination.open("wb") as writer:
            while size := reader.readinto(buffer):
                digest.update(view[:size])
                writer.write(view[:size])
    return digest.hexdigest()


_buffers = threading.local()


def _buffer() -> bytearray:
    """This thread's read buffer, made once. ``read(n)`` would allocate (and on Linux map and
    unmap) a fresh megabyte per call, which two threads cannot do at once: hashing a source
    per thread then took as long as hashing them one after the other."""
    buffer: bytearray | None = getattr(_buffers, "buffer", None)
    if buffer is None:
        buffer = _buffers.buffer = bytearray(_CHUNK)
    return buffer
