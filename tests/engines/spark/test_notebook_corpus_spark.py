"""The pipeline-source corpus on the Spark engine equals the DuckDB engine.

Every corpus project (tests/pipeline/corpus_cases/: SQL and Python notebooks in source
format, ``.ipynb`` notebooks, plain files, ``libraries`` in every form, and one project per
Databricks construct) runs its updates once with ``--engine spark`` and once on DuckDB;
every table must be the same on both engines and equal the expected rows. Python dataset
functions run again on the real SparkSession.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from soundlake.project.context import Project
from soundlake.project.pipeline_ops import query, run
from tests.pipeline.corpus_cases import CorpusCase, normalized, registered

pytestmark = pytest.mark.spark


@pytest.mark.parametrize("case", registered(), ids=lambda c: c.name)
def test_corpus_project_on_spark_equals_duckdb(spark: Any, case: CorpusCase, tmp_path: Path) -> None:
    tables: dict[str, dict[str, list[Any]]] = {}
    for engine in ("duckdb", "spark"):
        root = case.prepare(tmp_path / engine)
        project = Project.open(root)
        for update in range(case.updates):
            case.data(root, update)
            result = run(project, engine=engine)
            assert result.ok, (engine, update, result.errors)
        tables[engine] = {
            table: normalized(query(project, f"SELECT * FROM {case.schema}.{table}").to_pylist())
            for table in case.expected
        }
        if case.check is not None:
            case.check(root, lambda sql, p=project: query(p, sql).to_pylist())
    for table, rows in case.expected.items():
        assert tables["spark"][table] == tables["duckdb"][table], table
        assert tables["spark"][table] == normalized(rows), table
