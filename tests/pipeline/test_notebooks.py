"""Databricks notebooks as pipeline files: cells, magic commands, locations in the user's file."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import QueryFlow, Registry
from soundlake.pipeline.loader import load_definitions
from soundlake.pipeline.notebooks import is_notebook, pipeline_source
from soundlake.project.context import Project
from soundlake.project.pipeline_ops import dry_run
from tests.cli import soundlake

SQL_NOTEBOOK = """\
-- Databricks notebook source
-- MAGIC %md
-- MAGIC # Title

-- COMMAND ----------

CREATE OR REFRESH MATERIALIZED VIEW one
AS SELECT 1 AS x

-- COMMAND ----------

-- MAGIC %sql
-- MAGIC CREATE OR REFRESH MATERIALIZED VIEW two AS SELECT x FROM one
"""

PY_NOTEBOOK = """\
# Databricks notebook source
# MAGIC %md
# MAGIC Documentation only.

# COMMAND ----------

# MAGIC %pip install simplejson

# COMMAND ----------

from pyspark import pipelines as dp

@dp.materialized_view
def one():
    return spark.sql("SELECT 1 AS x")

# COMMAND ----------

# MAGIC %python
# MAGIC @dp.materialized_view
# MAGIC def two():
# MAGIC     return spark.read.table("one")
"""


def write(root: Path, rel: str, text: str) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def ipynb(language: str, *cells: tuple[str, str]) -> str:
    """A notebook as a Databricks workspace exports it (``cells``: (cell_type, source))."""
    body = [
        {"cell_type": kind, "metadata": {}, "source": text.splitlines(keepends=True),
         **({"outputs": [], "execution_count": 0} if kind == "code" else {})}
        for kind, text in cells
    ]
    meta = {"application/vnd.databricks.v1+notebook": {"language": language, "notebookName": "nb"}}
    return json.dumps({"cells": body, "metadata": meta, "nbformat": 4, "nbformat_minor": 0}, indent=1)


def load(root: Path, *libraries: Any, configuration: dict[str, str] | None = None) -> Registry:
    return load_definitions(root, list(libraries), catalog="c", schema="s", configuration=configuration or {})


def where(registry: Registry) -> dict[str, str]:
    return {d.name.name: str(d.location) for d in registry.datasets}


def test_sql_notebook_cells_end_statements_and_locations_are_file_lines(tmp_path: Path) -> None:
    write(tmp_path, "p/nb.sql", SQL_NOTEBOOK)
    registry = load(tmp_path, "p/nb.sql")
    assert where(registry) == {"one": "p/nb.sql:7 (statement 1)", "two": "p/nb.sql:13 (statement 2)"}
    flow = registry.flows[1]
    assert isinstance(flow, QueryFlow) and flow.sql == "SELECT x FROM one"


def test_python_notebook_runs_its_python_cells_and_skips_md_and_pip(tmp_path: Path) -> None:
    write(tmp_path, "p/nb.py", PY_NOTEBOOK)
    registry = load(tmp_path, "p/nb.py")
    assert where(registry) == {"one": "p/nb.py:13", "two": "p/nb.py:20"}


def test_sql_error_names_the_line_of_the_notebook(tmp_path: Path) -> None:
    write(tmp_path, "p/nb.sql", SQL_NOTEBOOK + "\n-- COMMAND ----------\n\nCREATE OR REFRESH MATERIALIZED VIEW three\nAS SELECT ${nope}\n")
    with pytest.raises(DefinitionError, match=r"^p/nb\.sql:18 \(statement 3\): unknown configuration key"):
        load(tmp_path, "p/nb.sql")


def test_python_error_names_the_line_of_the_notebook(tmp_path: Path) -> None:
    write(tmp_path, "p/nb.py", PY_NOTEBOOK + "\n# COMMAND ----------\n\nraise ValueError('boom')\n")
    with pytest.raises(DefinitionError, match=r"^p/nb\.py:26: ValueError: boom$"):
        load(tmp_path, "p/nb.py")


@pytest.mark.parametrize(
    ("name", "text", "message"),
    [
        ("nb.py", "# Databricks notebook source\nx = 1\n\n# COMMAND ----------\n\n# MAGIC %sql\n# MAGIC SELECT 1\n",
         r"^p/nb\.py:6: %sql cell in a Python notebook: a pipeline notebook holds one language .*spark\.sql"),
        ("nb.sql", "-- Databricks notebook source\nSELECT 1\n\n-- COMMAND ----------\n\n-- MAGIC %python\n-- MAGIC x = 1\n",
         r"^p/nb\.sql:6: %python cell in a SQL notebook: a pipeline notebook holds one language"),
        ("nb.py", "# Databricks notebook source\n# MAGIC %run ./helpers\n",
         r"^p/nb\.py:2: magic command %run is not supported in a pipeline notebook \(only Python cells, %md and %pip\)$"),
        ("nb.sql", "-- Databricks notebook source\n\n-- COMMAND ----------\n\n-- MAGIC\n-- MAGIC %sh ls\n",
         r"^p/nb\.sql:6: magic command %sh is not supported"),
    ],
)
def test_unsupported_magic_commands_are_one_line_errors_naming_file_and_line(
    tmp_path: Path, name: str, text: str, message: str
) -> None:
    write(tmp_path, f"p/{name}", text)
    with pytest.raises(DefinitionError, match=message) as info:
        load(tmp_path, f"p/{name}")
    assert "\n" not in str(info.value)


def test_a_file_without_the_header_is_a_plain_file(tmp_path: Path) -> None:
    path = write(tmp_path, "p/plain.sql", "-- MAGIC %md\nCREATE MATERIALIZED VIEW one AS SELECT 1 AS x;\n")
    assert not is_notebook(path)
    assert pipeline_source(path, "p/plain.sql").text is None
    assert where(load(tmp_path, "p/plain.sql")) == {"one": "p/plain.sql:2 (statement 1)"}


def test_ipynb_sql_notebook_locations_name_cell_and_line(tmp_path: Path) -> None:
    write(tmp_path, "p/nb.ipynb", ipynb(
        "sql",
        ("markdown", "# Title"),
        ("code", "CREATE OR REFRESH MATERIALIZED VIEW one\nAS SELECT 1 AS x"),
        ("code", "%md\nnotes"),
        ("code", "%sql\n\nCREATE OR REFRESH MATERIALIZED VIEW two AS SELECT x FROM one"),
    ))
    registry = load(tmp_path, {"notebook": {"path": "p/nb"}})
    assert where(registry) == {"one": "p/nb.ipynb:cell 2:1 (statement 1)", "two": "p/nb.ipynb:cell 4:3 (statement 2)"}
    assert [str(f.location) for f in registry.flows] == list(where(registry).values())


def test_ipynb_python_notebook_shares_one_namespace_across_cells(tmp_path: Path) -> None:
    write(tmp_path, "p/nb.ipynb", ipynb(
        "python",
        ("code", "%pip install simplejson"),
        ("code", "from pyspark import pipelines as dp\nLIMIT = 3"),
        ("markdown", "text"),
        ("code", "%python\n@dp.materialized_view\ndef one():\n    return spark.sql(f'SELECT {LIMIT} AS x')"),
    ))
    registry = load(tmp_path, "p/nb.ipynb")
    assert where(registry) == {"one": "p/nb.ipynb:cell 4:2"}
    flow = registry.flows[0]
    assert isinstance(flow, QueryFlow) and flow.sql == "SELECT 3 AS x"


@pytest.mark.parametrize(
    ("cells", "message"),
    [
        ((("code", "x = 1"), ("code", "y = 2\nraise KeyError('k')")), r"^p/nb\.ipynb:cell 2:2: KeyError: 'k'$"),
        ((("code", "x = 1"), ("code", "def f(:\n    pass")), r"^p/nb\.ipynb:cell 2:1: syntax error"),
        ((("markdown", "t"), ("code", "x = 1\n%sql\nSELECT 1"), ("code", "%sql\nSELECT 1")),
         r"^p/nb\.ipynb:cell 3:1: %sql cell in a Python notebook"),
    ],
)
def test_ipynb_errors_name_cell_and_line(tmp_path: Path, cells: tuple[tuple[str, str], ...], message: str) -> None:
    write(tmp_path, "p/nb.ipynb", ipynb("python", *cells))
    with pytest.raises(DefinitionError, match=message):
        load(tmp_path, "p/nb.ipynb")


def test_ipynb_sql_error_names_cell_and_line(tmp_path: Path) -> None:
    write(tmp_path, "p/nb.ipynb", ipynb(
        "sql", ("code", "CREATE MATERIALIZED VIEW a AS SELECT 1 AS x"), ("code", "\nCREATE MATERIALIZED VIEW b\nAS SELECT ${nope}"),
    ))
    with pytest.raises(DefinitionError, match=r"^p/nb\.ipynb:cell 2:3 \(statement 2\): unknown configuration key"):
        load(tmp_path, "p/nb.ipynb")


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("{", r"^p/nb\.ipynb:1: not a notebook: invalid JSON"),
        ('{"cells": []}', r"^p/nb\.ipynb: the notebook's language is not recorded"),
        ('{"cells": [], "metadata": {"application/vnd.databricks.v1+notebook": {"language": "scala"}}}',
         r"^p/nb\.ipynb: a scala notebook; pipeline notebooks are Python or SQL$"),
    ],
)
def test_invalid_ipynb_files(tmp_path: Path, text: str, message: str) -> None:
    write(tmp_path, "p/nb.ipynb", text)
    with pytest.raises(DefinitionError, match=message):
        load(tmp_path, "p/nb.ipynb")


def test_jupyter_kernel_language_is_used_without_databricks_metadata(tmp_path: Path) -> None:
    source = "from pyspark import pipelines as dp\ndp.create_streaming_table('t')"
    notebook = json.loads(ipynb("python", ("code", source)))
    notebook["metadata"] = {"kernelspec": {"language": "python", "name": "python3"}}
    write(tmp_path, "p/nb.ipynb", json.dumps(notebook))
    assert where(load(tmp_path, "p/nb.ipynb")) == {"t": "p/nb.ipynb:cell 1:2"}


def test_dry_run_error_in_a_notebook_cell_names_the_cell_and_line(tmp_path: Path) -> None:
    """An error found after loading (dry-run's function check) names the notebook's cell and
    the line a plain file with the cell's text would give."""
    cell = "CREATE MATERIALIZED VIEW a\nAS SELECT\n  ai_query('m', 'q') AS x"
    write(tmp_path / "nb", "soundlake.yml", "name: p\nstorage: lake\nlibraries:\n  - notebook: {path: p/nb}\n")
    write(tmp_path / "nb", "p/nb.ipynb", ipynb("sql", ("markdown", "m"), ("code", cell)))
    write(tmp_path / "plain", "soundlake.yml", "name: p\nstorage: lake\nlibraries: [p/a.sql]\n")
    write(tmp_path / "plain", "p/a.sql", cell)
    with pytest.raises(DefinitionError, match=r"^p/a\.sql:(\d+) ") as plain:
        dry_run(Project.open(tmp_path / "plain"))
    line = plain.value.message.split(":")[1].split(" ")[0]
    out = soundlake("dry-run", project=tmp_path / "nb")
    assert out.returncode == 3, out.stdout + out.stderr
    assert out.stderr.startswith(f"error: p/nb.ipynb:cell 2:{line} (statement 1): flow 'main.default.a': ai_query()")
    assert len(out.stderr.strip().splitlines()) == 1
