"""``soundlake bundle`` with notebooks and Databricks ``libraries`` forms.

The bundle lists exactly the files the loader loads (one expansion of ``libraries``),
names notebooks with ``notebook`` entries, and rewrites soundlake-only features inside
notebook cells while keeping the notebook's format.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import yaml

from soundlake.pipeline.libraries import library_files
from soundlake.pipeline.loader import load_definitions
from soundlake.project.bundle import write_bundle
from soundlake.project.context import Project

SQL_NOTEBOOK = """\
-- Databricks notebook source
-- MAGIC %md
-- MAGIC Users, with a quarantine.

-- COMMAND ----------

CREATE OR REFRESH MATERIALIZED VIEW users (
  CONSTRAINT adult EXPECT (age >= 18) ON VIOLATION QUARANTINE
)
AS SELECT * FROM VALUES (1, 20), (2, 10) AS t(id, age)
-- no ; before the cell ends

-- COMMAND ----------

CREATE OR REFRESH MATERIALIZED VIEW n AS SELECT count(*) AS n FROM users
"""

PY_NOTEBOOK = """\
# Databricks notebook source
from soundlake import pipelines as dp

# COMMAND ----------

# MAGIC %python
# MAGIC @dp.materialized_view
# MAGIC @dp.expect_or_quarantine("positive", "n > 0")
# MAGIC def counted():
# MAGIC     return spark.read.table("n")
"""


def ipynb_sql() -> str:
    cells = [
        {"cell_type": "markdown", "metadata": {}, "source": ["# Orders"]},
        {"cell_type": "code", "metadata": {}, "outputs": [], "execution_count": 0, "source": [
            "%sql\n", "CREATE OR REFRESH MATERIALIZED VIEW orders (\n",
            "  CONSTRAINT paid EXPECT (amount > 0) ON VIOLATION QUARANTINE\n",
            ") AS SELECT * FROM VALUES (1, 5), (2, 0) AS t(id, amount)",
        ]},
    ]
    meta = {"application/vnd.databricks.v1+notebook": {"language": "sql", "notebookName": "orders"}}
    return json.dumps({"cells": cells, "metadata": meta, "nbformat": 4, "nbformat_minor": 0}, indent=1)


def make_project(root: Path) -> Project:
    files = {
        "nb/users.sql": SQL_NOTEBOOK,
        "nb/counted.py": PY_NOTEBOOK,
        "nb/orders.ipynb": ipynb_sql(),
        "plain/extra.sql": "CREATE OR REFRESH MATERIALIZED VIEW extra AS SELECT 1 AS x;\n",
        "plain/notes.md": "not a pipeline file",
    }
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text, encoding="utf-8")
    (root / "soundlake.yml").write_text(
        "name: nb\nstorage: lake\nlibraries:\n"
        "  - notebook: {path: nb/users}\n  - file: {path: nb/counted.py}\n"
        "  - glob: {include: nb/*.ipynb}\n  - plain\n",
        encoding="utf-8",
    )
    return Project.open(root)


def load(path: Path) -> dict[str, Any]:
    data = yaml.safe_load(path.read_text(encoding="utf-8"))
    assert isinstance(data, dict)
    return data


def test_bundle_lists_the_loaders_files_with_notebook_entries(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    write_bundle(project, tmp_path / "bundle")
    pipeline = load(tmp_path / "bundle" / "resources" / "nb.pipeline.yml")["resources"]["pipelines"]["nb_pipeline"]
    expected = [p.relative_to(project.root).as_posix() for p in library_files(project.root, project.config.libraries)]
    assert expected == ["nb/counted.py", "nb/orders.ipynb", "nb/users.sql", "plain/extra.sql"]
    assert pipeline["libraries"] == [
        {"notebook": {"path": "../src/nb/counted.py"}},
        {"notebook": {"path": "../src/nb/orders.ipynb"}},
        {"notebook": {"path": "../src/nb/users.sql"}},
        {"file": {"path": "../src/plain/extra.sql"}},
    ]
    for entry in pipeline["libraries"]:
        (kind,) = entry
        assert (tmp_path / "bundle" / "resources" / entry[kind]["path"]).is_file()


def test_notebook_cells_are_rewritten_in_the_notebooks_format(tmp_path: Path) -> None:
    project = make_project(tmp_path / "proj")
    result = write_bundle(project, tmp_path / "bundle")
    src = tmp_path / "bundle" / "src"
    users = (src / "nb" / "users.sql").read_text(encoding="utf-8")
    assert users.startswith("-- Databricks notebook source\n-- MAGIC %md\n")
    assert "EXPECT (age >= 18) ON VIOLATION DROP ROW\n" in users
    assert "AS t(id, age);\n-- no ; before the cell ends" in users  # the statement now ends before the next one
    assert "CREATE OR REFRESH MATERIALIZED VIEW users_quarantine" in users
    assert users.count("-- COMMAND ----------") == 2
    counted = (src / "nb" / "counted.py").read_text(encoding="utf-8")
    assert "from pyspark import pipelines as dp" in counted
    assert "# MAGIC @dp.expect_or_drop(\"positive\", \"n > 0\")" in counted
    assert counted.endswith("# MAGIC     return spark.read.table(\"n\")\n")  # the file's last newline kept
    orders = json.loads((src / "nb" / "orders.ipynb").read_text(encoding="utf-8"))
    source = "".join(orders["cells"][1]["source"])
    assert source.startswith("%sql\nCREATE OR REFRESH MATERIALIZED VIEW orders (")
    assert "EXPECT (amount > 0) ON VIOLATION DROP ROW\n" in source and "orders_quarantine" in source
    assert orders["metadata"]["application/vnd.databricks.v1+notebook"]["language"] == "sql"
    assert any("nb/users.sql: users quarantine" in note for note in result.rewrites)
    # the rewritten notebooks are still notebooks the loader reads, with the quarantine datasets
    registry = load_definitions(src, ["nb/users.sql", "nb/orders.ipynb"], catalog="c", schema="s", configuration={})
    assert {d.name.name for d in registry.datasets} == {"users", "users_quarantine", "n", "orders", "orders_quarantine"}


def test_unchanged_notebooks_are_copied_byte_for_byte(tmp_path: Path) -> None:
    root = tmp_path / "proj"
    (root / "nb").mkdir(parents=True)
    text = "-- Databricks notebook source\n-- MAGIC %md\n-- MAGIC text\n\n-- COMMAND ----------\n\nCREATE OR REFRESH MATERIALIZED VIEW a AS SELECT 1 AS x\n"
    (root / "nb" / "a.sql").write_bytes(text.encode())
    (root / "soundlake.yml").write_text("name: nb\nstorage: lake\nlibraries: [nb/a.sql]\n", encoding="utf-8")
    write_bundle(Project.open(root), tmp_path / "bundle")
    assert (tmp_path / "bundle" / "src" / "nb" / "a.sql").read_bytes() == text.encode()
