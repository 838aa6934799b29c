"""``discover``: which files an argument names, and the id each gets from its path."""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import pytest

from consolidate.errors import UsageError
from consolidate.merging.pipeline import merge
from consolidate.sources.discover import discover
from tests.helpers import fixture


def touch(root: Path, *names: str) -> list[Path]:
    paths = [root / n for n in names]
    for path in paths:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"")
    return paths


def ids(arguments: Sequence[Path], exclude: Path | None = None) -> list[str]:
    return [s.path_id for s in discover([str(a) for a in arguments], exclude=exclude)]


def test_directory_is_scanned_recursively_with_ids_relative_to_it(tmp_path: Path) -> None:
    touch(tmp_path, "runs/sim_001.db", "runs/iteration_7/simulation.db", "runs/a/b/deep.SQLITE3")
    touch(tmp_path, "runs/notes.txt", "runs/sim_001.db.bak")
    assert ids([tmp_path / "runs"]) == ["a/b/deep", "iteration_7/simulation", "sim_001"]


def test_sidecars_are_never_sources(tmp_path: Path) -> None:
    touch(tmp_path, "runs/sim.db", "runs/sim.db-wal", "runs/sim.db-shm", "runs/sim.db-journal")
    assert ids([tmp_path / "runs"]) == ["sim"]
    assert ids([tmp_path / "runs" / "sim.db*"]) == ["sim"]
    with pytest.raises(UsageError, match="no source databases found"):
        discover([str(tmp_path / "runs" / "sim.db-wal")])


def test_files_named_one_by_one_are_relative_to_their_common_folder(tmp_path: Path) -> None:
    files = touch(tmp_path, "iters/c/simulation.db", "iters/a/simulation.db", "iters/b/x/s.db")
    # What a shell hands over for iters/*/simulation.db, plus one deeper file.
    assert ids(files) == ["a/simulation", "b/x/s", "c/simulation"]
    assert ids(files[:2]) == ["a/simulation", "c/simulation"]


def test_a_file_named_alone_keeps_its_stem(tmp_path: Path) -> None:
    (file,) = touch(tmp_path, "iters/a/simulation.db")
    assert ids([file]) == ["simulation"]
    siblings = touch(tmp_path, "runs/sim_1.db", "runs/sim_2.db")
    assert ids(siblings) == ["sim_1", "sim_2"]


def test_a_file_named_explicitly_is_kept_whatever_its_suffix(tmp_path: Path) -> None:
    (file,) = touch(tmp_path, "runs/old_run.bak")
    assert ids([file]) == ["old_run"]


def test_glob_of_files_is_relative_to_its_fixed_part_and_keeps_only_sources(
    tmp_path: Path,
) -> None:
    touch(tmp_path, "iters/a/simulation.db", "iters/b/simulation.sqlite", "iters/b/notes.txt")
    touch(tmp_path, "iters/b/simulation.sqlite-wal")
    assert ids([tmp_path / "iters" / "*" / "*"]) == ["a/simulation", "b/simulation"]
    with pytest.raises(UsageError, match="matches no source database"):
        discover([str(tmp_path / "iters" / "*" / "*.txt")])


def test_glob_of_directories_scans_them(tmp_path: Path) -> None:
    touch(tmp_path, "iters/iteration_1/simulation.db", "iters/iteration_2/nested/simulation.db")
    touch(tmp_path, "iters/iteration_2/log.txt", "iters/other/simulation.db")
    assert ids([tmp_path / "iters" / "iteration_*"]) == [
        "iteration_1/simulation",
        "iteration_2/nested/simulation",
    ]


def test_recursive_glob_lists_each_file_once(tmp_path: Path) -> None:
    touch(tmp_path, "runs/a.db", "runs/x/b.db")
    assert ids([tmp_path / "runs" / "**"]) == ["a", "x/b"]


def test_exclude_drops_the_target_inside_a_scanned_directory(tmp_path: Path) -> None:
    touch(tmp_path, "runs/sim.db", "runs/out/exp.db", "runs/out/exp.db-wal")
    target = tmp_path / "runs" / "out" / "exp.db"
    assert ids([tmp_path / "runs"], exclude=target) == ["sim"]
    assert ids([tmp_path / "runs" / "**" / "*.db"], exclude=target) == ["sim"]
    with pytest.raises(UsageError, match="exp.db: the target cannot be its own source"):
        discover([str(tmp_path / "runs" / "sim.db"), str(target)], exclude=target)
    with pytest.raises(UsageError, match="no source databases found"):
        discover([str(tmp_path / "runs" / "out")], exclude=target)


def test_a_file_named_twice_is_listed_once_with_the_first_id(tmp_path: Path) -> None:
    touch(tmp_path, "runs/a/sim.db", "runs/b.db")
    file = tmp_path / "runs" / "a" / "sim.db"
    again = tmp_path / "runs" / "a" / ".." / "a" / "sim.db"
    found = discover([str(tmp_path / "runs"), str(file), str(again)])
    assert [(s.path_id, s.path) for s in found] == [
        ("a/sim", file.resolve()),
        ("b", (tmp_path / "runs" / "b.db").resolve()),
    ]
    assert ids([file, file]) == ["sim"]


def test_order_is_stable_whatever_the_order_of_arguments(tmp_path: Path) -> None:
    files = touch(tmp_path, "runs/c.db", "runs/a.db", "runs/b.db")
    assert ids(files) == ids(list(reversed(files))) == ["a", "b", "c"]


def test_arguments_naming_nothing_are_usage_errors(tmp_path: Path) -> None:
    (tmp_path / "empty").mkdir()
    with pytest.raises(UsageError, match="no such file or directory"):
        discover([str(tmp_path / "missing.db")])
    with pytest.raises(UsageError, match="matches no source database"):
        discover([str(tmp_path / "*.db")])
    with pytest.raises(UsageError, match="no source databases found"):
        discover([str(tmp_path / "empty")])


def test_shell_expanded_files_merge_like_the_quoted_glob(tmp_path: Path) -> None:
    # Files without a simulations table take their path id; three of them all named simulation.db.
    stems = ("f1-raw-stepid__v02", "f2-raw-pascal__v11", "f2-raw-pascal__side-8d46eb15")
    files = []
    for folder, stem in zip("abc", stems, strict=True):
        (tmp_path / "iters" / folder).mkdir(parents=True)
        files.append(str(shutil.copy(fixture(stem), tmp_path / "iters" / folder / "simulation.db")))
    expanded = merge(files, str(tmp_path / "expanded.db"))
    quoted = merge([str(tmp_path / "iters" / "*" / "simulation.db")], str(tmp_path / "quoted.db"))
    for report in (expanded, quoted):
        assert report.ok and report.count("merged") == 3
        assert sorted(str(s.simulation_id) for s in report.sources) == [
            "a/simulation",
            "b/simulation",
            "c/simulation",
        ]


def test_names_and_ids_are_read_as_pathlib_reads_them() -> None:
    # discover reads suffixes and ids from strings (a Path per file was a third of its time):
    # the same answers as pathlib, odd names included.
    from pathlib import PurePath

    from consolidate.sources.discover import _path_id, _suffix

    names = ["a.db", "..db", ".db", "a.", "a.b.db", "x.db-wal", "A.DB", "noext", "a..db", "."]
    names += ["...", "a.sqlite3", "b.c.", ".hidden.db"]
    assert [_suffix(n) for n in names] == [PurePath(n).suffix for n in names]

    def by_pathlib(path: Path, root: Path) -> str:
        try:
            relative = path.relative_to(root)
        except ValueError:
            relative = Path(path.name)
        return relative.with_suffix("").as_posix()

    pairs = [("/r/a/b.db", "/r"), ("/r/a/..db", "/r"), ("/r/x/b.", "/r"), ("/r/a.b/c", "/r")]
    pairs += [("/a.db", "/"), ("/q/z.db", "/r"), ("/r2/z.db", "/r"), ("/r/.db", "/r")]
    pairs += [("//x.db", "//"), ("//r/x.db", "//r"), ("/r/s/t.v.sqlite", "/r/s")]
    for path, root in pairs:
        assert _path_id(Path(path), Path(root)) == by_pathlib(Path(path), Path(root)), path
