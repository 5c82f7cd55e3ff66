"""Pipeline sources as Databricks holds them run unchanged (DuckDB engine, real CLI).

Each corpus project (tests/pipeline/notebook_corpus.py) is copied, given its data, checked
with ``soundlake dry-run`` and updated with ``soundlake run`` in a child process; the
tables it writes must equal the expected ones. The Spark engine runs the same corpus in
tests/engines/spark/test_notebook_corpus_spark.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from soundlake.project.context import Project
from soundlake.project.pipeline_ops import query
from tests.cli import soundlake
from tests.pipeline.notebook_corpus import CASES, EXPECTED, SCHEMA, normalized, prepare


@pytest.mark.parametrize("case", CASES)
def test_corpus_project_runs_through_the_cli(case: str, tmp_path: Path) -> None:
    root = prepare(case, tmp_path)
    dry = soundlake("dry-run", project=root)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    for table in EXPECTED[case]:
        assert f"{SCHEMA}.{table}" in dry.stdout
    run = soundlake("run", project=root)
    assert run.returncode == 0, run.stdout + run.stderr
    project = Project.open(root)
    for table, rows in EXPECTED[case].items():
        got = query(project, f"SELECT * FROM {SCHEMA}.{table}").to_pylist()
        assert normalized(got) == normalized(rows), table

