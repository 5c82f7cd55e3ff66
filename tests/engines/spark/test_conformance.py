"""The conformance suite against real Spark: the function registry must be what Spark proves.

Every case of ``tests/conformance/cases.py`` runs on Spark and on soundlake's DuckDB path
in both ANSI modes; the statuses derived from the outcomes must equal the committed
registry (``src/soundlake/pipeline/sql/spark_functions.json``), which drives the dry-run
refusals and ``docs/spark-functions.md``. Regenerate both with
``python scripts/spark_functions.py`` after changing translations or cases.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from soundlake.pipeline.sql.functions import REGISTRY
from tests.conformance.registry import build, docs_table

pytestmark = pytest.mark.spark

DOCS = Path(__file__).resolve().parents[3] / "docs" / "spark-functions.md"
MIN_COVERED = 300


@pytest.fixture(scope="module")
def document(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    from soundlake.engines.duckdb.engine import DuckDBEngine

    engine = DuckDBEngine()
    try:
        return build(spark, engine, tmp_path_factory.mktemp("conformance"))
    finally:
        engine.close()


def test_registry_is_what_spark_proves(document: dict[str, Any]) -> None:
    committed = json.loads(REGISTRY.read_text(encoding="utf-8"))["functions"]
    found = document["functions"]
    stale = {
        name: (committed.get(name, {}).get("status"), entry["status"])
        for name, entry in found.items()
        if committed.get(name, {}).get("status") != entry["status"]
        or committed.get(name, {}).get("names", True) != entry.get("names", True)
    }
    assert not stale, f"registry differs from the suite (committed, found); run scripts/spark_functions.py: {stale}"


def test_suite_covers_enough_functions(document: dict[str, Any]) -> None:
    covered = [name for name, entry in document["functions"].items() if entry["cases"]]
    assert len(covered) >= MIN_COVERED, f"{len(covered)} functions covered"


def test_docs_table_is_generated_from_the_registry() -> None:
    committed = json.loads(REGISTRY.read_text(encoding="utf-8"))
    assert DOCS.read_text(encoding="utf-8") == docs_table(committed)


REPORTED = (
    "datediff(MINUTE, ts, TIMESTAMP'2025-01-01 00:00:00')",  # was a difference of DATEs in expectations
    "dayofweek(dt)",  # was numbered 0-6
    "CAST('' AS INT)",  # raised where non-ANSI Spark returns NULL
    "ds > DATE'2020-01-01'",  # a STRING compared with a DATE failed
    "timestamp(1700000000)",
    "CAST(l AS TIMESTAMP)",
    "timestamp_seconds(l)",
    "unix_timestamp(ts)",
    "replace(s, 'a')",
    "sum(i)",
    "round(d, 2)",
    "CAST(d AS INT)",
)


def test_reported_examples_equal_spark_in_both_modes(spark: Any, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Expressions a user found wrong: now equal to Spark as queries and as expectations."""
    from soundlake.engines.duckdb.engine import DuckDBEngine
    from soundlake.pipeline.sql.settings import SparkSqlSettings
    from tests.conformance import inputs, runner

    data = inputs.write(tmp_path_factory.mktemp("reported") / "rows.parquet")
    engine = DuckDBEngine()
    try:
        found = []
        for ansi in (True, False):
            settings = SparkSqlSettings(ansi=ansi)
            sides: dict[str, runner.Evaluate] = {
                "query": runner.DuckSide(engine, data, settings),
                "expectation": runner.DuckSide(engine, data, settings, expectation=True),
            }
            found += runner.verdicts(REPORTED, runner.SparkSide(spark, data, settings), sides, str(ansi))
    finally:
        engine.close()
    assert [v for v in found if v.kind != runner.EQUAL] == []
