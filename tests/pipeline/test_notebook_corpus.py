"""Pipeline sources as Databricks holds them run unchanged (DuckDB engine, real CLI).

Each corpus project (tests/pipeline/corpus_cases/) is copied, checked with
``soundlake dry-run`` and updated with ``soundlake run`` in a child process, once per
update with that update's input written before it; the tables it holds after the last
update must equal the expected ones. The Spark engine runs the same corpus in
tests/engines/spark/test_notebook_corpus_spark.py.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from soundlake.project.context import Project
from soundlake.project.pipeline_ops import query
from tests.cli import soundlake
from tests.pipeline.corpus_cases import CorpusCase, normalized, registered


@pytest.mark.parametrize("case", registered(), ids=lambda c: c.name)
def test_corpus_project_runs_through_the_cli(case: CorpusCase, tmp_path: Path) -> None:
    root = case.prepare(tmp_path)
    case.data(root, 0)
    dry = soundlake("dry-run", project=root)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    for table in case.expected:
        assert f"{case.schema}.{table}" in dry.stdout
    for update in range(case.updates):
        if update:
            case.data(root, update)
        run = soundlake("run", project=root)
        assert run.returncode == 0, f"update {update + 1}: {run.stdout}{run.stderr}"
    project = Project.open(root)
    for table, rows in case.expected.items():
        got = query(project, f"SELECT * FROM {case.schema}.{table}").to_pylist()
        assert normalized(got) == normalized(rows), table
    if case.check is not None:
        case.check(root, lambda sql: query(project, sql).to_pylist())
