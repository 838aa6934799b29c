"""The package layout shows the architecture: the README's table is true, and no stage imports
a stage that comes later in the flow (cli and the package root sit on top)."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from tests.conftest import REPO

PACKAGE = REPO / "consolidate"
#: The flow, earliest first; ``errors`` is the one exception tree every stage may raise.
STAGES = ("errors", "schema", "sources", "layouts", "sinks", "merging", "proof", "writer")
STAGES += ("analysis", "cli")


def readme_table() -> dict[str, str]:
    readme = (REPO / "README.md").read_text()
    section = readme.split("<!-- where-things-are -->", 1)[1].split("\n\n", 1)[0]
    rows = re.findall(r"^\| `([^`]+)/` \| (.+) \|$", section, flags=re.M)
    return dict(rows)


def stage_of(module: str) -> str | None:
    parts = module.split(".")
    if parts[0] != "consolidate" or len(parts) < 2:
        return None
    return parts[1]


def imports_of(path: Path) -> set[str]:
    """Every consolidate module a file imports, at the top or inside a function."""
    found: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            found.update(a.name for a in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found.update(f"{node.module}.{a.name}" for a in node.names)
    return {m for m in found if m.startswith("consolidate.")}


def test_readme_names_every_stage_folder_and_only_real_ones() -> None:
    table = readme_table()
    folders = {f"consolidate/{p.name}" for p in PACKAGE.iterdir() if (p / "__init__.py").exists()}
    named = {f for f in table if f.startswith("consolidate/")}
    assert named == folders
    for folder, what in table.items():
        assert (REPO / folder).is_dir(), folder
        for module in re.findall(r"`([a-z_]+\.py)`", what):  # every file the row names exists
            assert (REPO / folder / module).is_file(), f"{folder}/{module}"


def test_root_holds_only_the_api_the_entry_point_and_the_errors() -> None:
    loose = sorted(p.name for p in PACKAGE.glob("*.py"))
    assert loose == ["__init__.py", "__main__.py", "errors.py"]


def test_every_stage_says_what_it_is_for_and_what_it_may_import() -> None:
    for stage in STAGES[1:]:
        doc = ast.get_docstring(ast.parse((PACKAGE / stage / "__init__.py").read_text()))
        assert doc, stage
        if stage not in ("cli",):
            assert "May import" in doc, stage


@pytest.mark.parametrize("stage", STAGES[:-1])
def test_no_stage_imports_a_later_one(stage: str) -> None:
    rank = {name: i for i, name in enumerate(STAGES)}
    if stage == "errors":
        files = [PACKAGE / "errors.py"]
    else:
        files = sorted((PACKAGE / stage).rglob("*.py"))
    later = []
    for path in files:
        for module in imports_of(path):
            other = stage_of(module)
            if other in rank and rank[other] > rank[stage]:
                later.append(f"{path.relative_to(REPO)} imports {module}")
    assert later == []


def test_the_writer_has_no_import_cycle() -> None:
    context = imports_of(PACKAGE / "writer" / "context.py")
    assert not any(m.startswith("consolidate.writer.database") for m in context)
