"""dry-run binds columns like Spark's analyzer: an unknown column fails before anything runs."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pytest

from soundlake.core.errors import DefinitionError
from soundlake.project.pipeline_ops import dry_run
from tests.pipeline.conftest import Lakehouse

PIPELINE = """
CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
CREATE TEMPORARY VIEW recent AS SELECT id, amount FROM raw WHERE amount > 0;
CREATE OR REFRESH MATERIALIZED VIEW totals AS SELECT id, sum(amount) AS total FROM recent GROUP BY id;
"""


def _lakehouse(tmp_path: Path, pipeline: str) -> Lakehouse:
    lh = Lakehouse(tmp_path / "proj")
    lh.sql(pipeline)
    lh.parquet("in", "a.parquet", pa.table({"id": [1, 2], "amount": [10, -1]}))
    return lh


def test_a_valid_pipeline_binds(tmp_path: Path) -> None:
    dry_run(_lakehouse(tmp_path, PIPELINE).project)


def test_an_unknown_column_fails_at_dry_run_naming_the_flow_and_line(tmp_path: Path) -> None:
    lh = _lakehouse(tmp_path, PIPELINE.replace("sum(amount)", "sum(amount_eur)"))
    with pytest.raises(DefinitionError) as info:
        dry_run(lh.project)
    message = str(info.value)
    assert "amount_eur" in message and "totals" in message and "p.sql:4" in message, message
    assert "__sl_" not in message
    assert not (lh.root / "lake" / "main").exists()  # nothing ran


def test_a_column_of_the_files_that_is_missing_fails_at_dry_run(tmp_path: Path) -> None:
    lh = _lakehouse(tmp_path, PIPELINE.replace("SELECT id, amount FROM raw", "SELECT id, amount, country FROM raw"))
    with pytest.raises(DefinitionError, match="country"):
        dry_run(lh.project)


def test_inputs_not_known_yet_are_not_bound(tmp_path: Path) -> None:
    """No files yet: nothing can be bound, and dry-run does not invent an error."""
    lh = Lakehouse(tmp_path / "proj")
    lh.sql(PIPELINE.replace("sum(amount)", "sum(amount_eur)"))
    dry_run(lh.project)
