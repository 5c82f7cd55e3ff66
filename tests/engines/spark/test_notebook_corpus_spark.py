"""The pipeline-source corpus on the Spark engine equals the DuckDB engine.

Every corpus project (tests/pipeline/notebook_corpus.py: SQL and Python notebooks in
source format, ``.ipynb`` notebooks, plain files, ``libraries`` in every form) is updated
once with ``--engine spark`` and once on DuckDB; every table must be the same on both
engines and equal the expected rows. Python dataset functions of notebooks run again on
the real SparkSession from the notebook's Python cells.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from soundlake.project.context import Project
from soundlake.project.pipeline_ops import query, run
from tests.pipeline.notebook_corpus import CASES, EXPECTED, SCHEMA, normalized, prepare

pytestmark = pytest.mark.spark


@pytest.mark.parametrize("case", CASES)
def test_corpus_project_on_spark_equals_duckdb(spark: Any, case: str, tmp_path: Path) -> None:
    tables: dict[str, dict[str, list[Any]]] = {}
    for engine in ("duckdb", "spark"):
        project = Project.open(prepare(case, tmp_path / engine))
        result = run(project, engine=engine)
        assert result.ok, (engine, result.errors)
        tables[engine] = {
            table: normalized(query(project, f"SELECT * FROM {SCHEMA}.{table}").to_pylist())
            for table in EXPECTED[case]
        }
    for table, rows in EXPECTED[case].items():
        assert tables["spark"][table] == tables["duckdb"][table], table
        assert tables["spark"][table] == normalized(rows), table
