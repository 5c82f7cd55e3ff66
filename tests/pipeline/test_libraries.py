"""``libraries`` entries: soundlake's globs and Databricks' glob / file / notebook mappings."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import ConfigError, DefinitionError
from soundlake.pipeline.libraries import (
    FileLibrary,
    GlobLibrary,
    NotebookLibrary,
    describe,
    library_files,
)
from soundlake.project.config import load_project
from tests.cli import soundlake


def write(root: Path, rel: str, text: str = "") -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def names(root: Path, *libraries: Any) -> list[str]:
    return [p.relative_to(root).as_posix() for p in library_files(root, list(libraries))]


@pytest.fixture()
def tree(tmp_path: Path) -> Path:
    for rel in ("t/a.sql", "t/sub/b.py", "t/sub/deep/c.ipynb", "t/readme.md", "t/sub/__pycache__/b.py",
                "t/.ipynb_checkpoints/c-checkpoint.ipynb", "t/top.py"):
        write(tmp_path, rel)
    return tmp_path


def test_dir_double_star_matches_every_pipeline_file_below_dir(tree: Path) -> None:
    expected = ["t/a.sql", "t/sub/b.py", "t/sub/deep/c.ipynb", "t/top.py"]
    assert names(tree, {"glob": {"include": "t/**"}}) == expected
    assert names(tree, "t/**") == expected  # the same in soundlake's string form
    assert names(tree, "t") == expected  # a folder
    assert names(tree, "t/**/*.py") == ["t/sub/b.py", "t/top.py"]


def test_hidden_folders_are_skipped_unless_named(tree: Path) -> None:
    assert names(tree, "t/.ipynb_checkpoints/*.ipynb") == ["t/.ipynb_checkpoints/c-checkpoint.ipynb"]


def test_file_and_notebook_entries(tree: Path) -> None:
    write(tree, "n/ingest.sql")
    write(tree, "n/report.ipynb")
    assert names(tree, {"file": {"path": "t/top.py"}}) == ["t/top.py"]
    assert names(tree, {"notebook": {"path": "n/ingest"}}, {"notebook": {"path": "n/report"}}) == [
        "n/ingest.sql", "n/report.ipynb"
    ]
    assert names(tree, {"notebook": {"path": "n/ingest.sql"}}) == ["n/ingest.sql"]


def test_entries_are_deduplicated_and_sorted_across_forms(tree: Path) -> None:
    got = names(tree, {"file": {"path": "t/top.py"}}, "t/*.sql", {"glob": {"include": "t/**"}}, "t/top.py")
    assert got == ["t/a.sql", "t/sub/b.py", "t/sub/deep/c.ipynb", "t/top.py"]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ({"glob": {"include": "none/**"}},
         r"^library glob: \{include: none/\*\*\} matches no pipeline file \(\.sql, \.py, \.ipynb\) under "),
        ("t/*.scala", r"^library 't/\*\.scala' matches no pipeline file"),
        ("t/readme.md", r"^library 't/readme\.md': unsupported file type '\.md'"),
        ("missing.sql", r"^library 'missing\.sql' does not exist under "),
        ({"file": {"path": "t/nope.py"}}, r"^library file: \{path: t/nope\.py\} does not exist under "),
        ({"file": {"path": "t/sub"}}, r"^library file: \{path: t/sub\} is a folder; write glob: \{include: t/sub/\*\*\}$"),
        ({"notebook": {"path": "t/nope"}}, r"^library notebook: \{path: t/nope\} does not exist under .* \(tried "),
        ({"notebook": {"path": "t/dup"}}, r"^library notebook: \{path: t/dup\} is ambiguous \(dup\.sql, dup\.py\)"),
    ],
)
def test_an_entry_matching_no_pipeline_file_is_a_one_line_error(tree: Path, entry: Any, message: str) -> None:
    write(tree, "t/dup.sql")
    write(tree, "t/dup.py")
    with pytest.raises(DefinitionError, match=message) as info:
        library_files(tree, [entry])
    assert "\n" not in str(info.value)


def test_describe_writes_entries_as_in_soundlake_yml() -> None:
    assert describe("p/*.sql") == "'p/*.sql'"
    assert describe(GlobLibrary.model_validate({"glob": {"include": "x/**"}})) == "glob: {include: x/**}"
    assert describe(FileLibrary.model_validate({"file": {"path": "a.py"}})) == "file: {path: a.py}"
    assert describe(NotebookLibrary.model_validate({"notebook": {"path": "a"}})) == "notebook: {path: a}"


def test_soundlake_yml_accepts_databricks_forms(tmp_path: Path) -> None:
    write(tmp_path, "soundlake.yml", """\
name: p
storage: lake
libraries:
  - pipelines/*.sql
  - glob:
      include: transformations/**
  - file:
      path: pipelines/users.py
  - notebook: {path: notebooks/ingest}
""")
    libraries = load_project(tmp_path).config.libraries
    assert libraries[0] == "pipelines/*.sql"
    assert [describe(e) for e in libraries[1:]] == [
        "glob: {include: transformations/**}", "file: {path: pipelines/users.py}", "notebook: {path: notebooks/ingest}"
    ]


@pytest.mark.parametrize(
    ("entry", "message"),
    [
        ("{glob: {includes: x/**}}", r"key 'libraries': library entry \{glob: \{includes: x/\*\*\}\}: missing key 'glob\.include'; unknown key 'glob\.includes'"),
        ("{file: {}}", r"library entry \{file: \{\}\}: missing key 'file\.path'"),
        ("{whl: x.whl}", r"library entry \{whl: x\.whl\} is not a glob string, or one of glob: \{include: \.\.\.\}"),
        ("{notebook: {path: /Workspace/Users/me/nb}}", r"'/Workspace/Users/me/nb' is not a path relative to the project folder"),
        ("7", r"library entry 7 is not a glob string"),
    ],
)
def test_invalid_entries_are_one_line_config_errors(tmp_path: Path, entry: str, message: str) -> None:
    write(tmp_path, "soundlake.yml", f"name: p\nstorage: lake\nlibraries:\n  - {entry}\n")
    with pytest.raises(ConfigError, match=message) as info:
        load_project(tmp_path)
    assert "\n" not in str(info.value)


def test_cli_dry_run_refuses_an_entry_matching_nothing(tmp_path: Path) -> None:
    write(tmp_path, "soundlake.yml", "name: p\nstorage: lake\nlibraries:\n  - p/*.sql\n  - glob: {include: empty/**}\n")
    write(tmp_path, "p/a.sql", "CREATE MATERIALIZED VIEW a AS SELECT 1 AS x;\n")
    (tmp_path / "empty").mkdir()
    out = soundlake("dry-run", project=tmp_path)
    assert out.returncode == 3
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: library glob: {include: empty/**} matches no pipeline file")
