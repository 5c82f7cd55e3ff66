"""Streaming flows are refused as Spark Structured Streaming refuses them (pipeline.streaming_rules).

The verdicts in ``tests/pipeline/streaming_cases.py`` are Spark's, proven by
``tests/engines/spark/test_streaming_rules_spark.py``.
"""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from soundlake.core.errors import DefinitionError, SoundlakeError
from soundlake.pipeline.streaming_rules import StreamingRejection, streaming_rejection
from tests.cli import soundlake
from tests.pipeline.conftest import Lakehouse
from tests.pipeline.streaming_cases import CASES, LEGACY, collected_flows


def verdict_matches(found: StreamingRejection | None, want: str | tuple[str, str] | None) -> bool:
    """soundlake's rejection agrees with Spark's verdict (class; message start for the legacy class)."""
    if want is None or found is None:
        return want is None and found is None
    if isinstance(want, tuple):
        return found.error_class == want[0] and found.message.startswith(want[1])
    return found.error_class == want and want != LEGACY


@pytest.mark.parametrize(("sql", "want"), CASES, ids=[f"case{i}" for i in range(len(CASES))])
def test_verdict_is_sparks(sql: str, want: str | tuple[str, str] | None) -> None:
    assert verdict_matches(streaming_rejection(sql), want), (sql, streaming_rejection(sql), want)


def test_every_streaming_flow_of_the_test_suite_and_template_is_accepted() -> None:
    flows = collected_flows()
    assert len(flows) >= 30
    refused = [(f.where, r.describe()) for f in flows if (r := streaming_rejection(f.sql)) is not None]
    assert refused == []
    assert any("templates/spotify/pipelines/silver" in f.where for f in flows)
    assert any(f.where.startswith("bundle of the template") and "_quarantine" in f.where for f in flows)


def test_dataframe_deduplication_is_streaming_deduplication() -> None:
    dedup = "SELECT * FROM STREAM(s) QUALIFY row_number() OVER (PARTITION BY k ORDER BY k NULLS FIRST) = 1"
    assert streaming_rejection(dedup, dataframe=True) is None  # df.dropDuplicates(["k"])
    assert streaming_rejection("SELECT DISTINCT * FROM STREAM(s)", dataframe=True) is None  # df.distinct()
    ranked = "SELECT * FROM STREAM(s) QUALIFY row_number() OVER (PARTITION BY k ORDER BY ts) = 1"
    found = streaming_rejection(ranked, dataframe=True)
    assert found is not None and found.error_class == "NON_TIME_WINDOW_NOT_SUPPORTED_IN_STREAMING"
    found = streaming_rejection("SELECT * FROM STREAM(s) ORDER BY id", dataframe=True)
    assert found is not None and found.message.startswith("Sorting is not supported")


def test_dataframe_aggregations_over_a_stream_are_refused_with_or_without_a_watermark() -> None:
    # df.groupBy("k").agg(F.count("*")) over spark.readStream: Spark refuses it in append mode
    # without a watermark, and with withWatermark emits each group only once the watermark
    # passes it; soundlake would append each micro-batch's partial counts instead
    found = streaming_rejection("SELECT k, count(*) AS n FROM STREAM(s) GROUP BY k", dataframe=True)
    assert found is not None and found.error_class == "STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION"
    assert "With withWatermark, Spark emits each group once the watermark passes it" in found.message
    found = streaming_rejection("SELECT count(*) AS n FROM STREAM(s)", dataframe=True)
    assert found is not None and found.error_class == "STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION"


def python_pipeline(root: Path, name: str, text: str) -> Lakehouse:
    """A project whose ``pipelines/`` holds the Python file ``name``."""
    lake = Lakehouse(root)
    lake.config(libraries=["pipelines"])
    lake.sql(text, name)
    return lake


def test_a_python_streaming_aggregation_fails_dry_run_naming_the_line(tmp_path: Path) -> None:
    lake = python_pipeline(tmp_path / "p", "agg.py", """
    import dlt
    from pyspark.sql import functions as F

    @dlt.table
    def per_user():
        return (spark.readStream.format("cloudFiles").option("cloudFiles.format", "parquet").load("data/in")
                .withWatermark("ts", "10 minutes").groupBy("user_id").agg(F.count("*").alias("n")))
    """)
    with pytest.raises(SoundlakeError, match=r"pipelines/agg\.py:5: flow 'main\.silver\.per_user' reads a stream, "
                       r"and Spark Structured Streaming refuses its query in append mode"):
        lake.run()


def test_a_python_streaming_deduplication_is_a_plan_warning(tmp_path: Path) -> None:
    from soundlake.project.pipeline_ops import dry_run

    lake = python_pipeline(tmp_path / "p", "dedup.py", """
    import dlt

    @dlt.table
    def users():
        return spark.readStream.format("cloudFiles").option("cloudFiles.format", "parquet").load("data/in") \\
            .dropDuplicates(["user_id"])

    @dlt.materialized_view
    def batch_users():
        return spark.read.table("users").dropDuplicates(["user_id"])
    """)
    warnings = dry_run(lake.project).plan.warnings
    assert [w.split(": flow ")[1].split(":")[0] for w in warnings] == ["'main.silver.users'"]
    assert "de-duplicates each micro-batch here; Spark keeps every key it has seen" in warnings[0]


def test_batch_queries_are_not_checked() -> None:
    assert streaming_rejection("SELECT k, count(*) AS n FROM b GROUP BY k ORDER BY k") is None


PIPELINE = """
CREATE OR REFRESH STREAMING TABLE plays AS SELECT * FROM STREAM read_files('${data}/plays', format => 'parquet');

CREATE OR REFRESH STREAMING TABLE latest
COMMENT 'latest play per user'
AS SELECT *
FROM STREAM(plays)
QUALIFY row_number() OVER (PARTITION BY user_id ORDER BY ts DESC) = 1;
"""


@pytest.mark.parametrize("engine", ["duckdb", "spark"])
def test_dry_run_names_the_spark_error_class_flow_file_and_line(tmp_path: Path, engine: str) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.config(engine=engine)
    lake.sql(PIPELINE)
    from soundlake.project.pipeline_ops import dry_run

    with pytest.raises(DefinitionError) as caught:
        dry_run(lake.project)
    message = caught.value.message
    assert message.startswith("pipelines/p.sql:4 (statement 2): flow 'main.silver.latest'"), message
    assert "[NON_TIME_WINDOW_NOT_SUPPORTED_IN_STREAMING]" in message
    assert "ROW_NUMBER() OVER (PARTITION BY user_id ORDER BY ts DESC)" in message


def test_cli_dry_run_refuses_on_one_line(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql(textwrap.dedent("""
        CREATE OR REFRESH STREAMING TABLE plays AS SELECT * FROM STREAM read_files('${data}/plays', format => 'parquet');
        CREATE OR REFRESH STREAMING TABLE sorted_plays AS SELECT * FROM STREAM(plays) ORDER BY ts;
    """))
    out = soundlake("dry-run", project=lake.root)
    assert out.returncode != 0
    assert "_LEGACY_ERROR_TEMP_3102" in out.stderr + out.stdout
    assert "Sorting is not supported on streaming DataFrames/Datasets" in out.stderr + out.stdout
    assert "Traceback" not in out.stderr


def test_the_reference_project_passes(tmp_path: Path) -> None:
    from soundlake.project.context import Project
    from soundlake.project.pipeline_ops import load_graph
    from soundlake.project.scaffold import init_project

    init_project(tmp_path / "ref")
    graph = load_graph(Project.open(tmp_path / "ref"))
    assert "spotify_catalog.silver.dimuser" in graph.flows
