"""The Python front end: every decorator and parameter, errors, and mixed projects."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import (
    AutoCdcFlow,
    Dataset,
    QueryFlow,
    Registry,
    SnapshotCdcFlow,
)
from soundlake.pipeline.graph import build_graph
from soundlake.pipeline.loader import load_definitions

TEMPLATE = Path(__file__).resolve().parents[2] / "src" / "soundlake" / "project" / "templates" / "spotify"
HEADER = "from soundlake import pipelines as dp\nfrom soundlake.pipelines import functions as F\n"


def load(tmp_path: Path, code: str, *, name: str = "defs.py", header: str = HEADER, **conf: str) -> Registry:
    (tmp_path / name).write_text(header + textwrap.dedent(code).lstrip("\n"), encoding="utf-8")
    return load_definitions(tmp_path, [name], catalog="cat", schema="sch", configuration=conf)


def tn(name: str) -> TableName:
    return TableName.parse(name, catalog="cat", schema="sch")


def only_flow(reg: Registry, name: str) -> QueryFlow:
    (flow,) = [f for f in reg.flows if f.name == name]
    assert isinstance(flow, QueryFlow)
    return flow


def test_table_streaming_and_batch_kinds_with_every_parameter(tmp_path: Path) -> None:
    reg = load(tmp_path, """
        StructType, StructField, IntegerType, StringType = (
            dp.types.StructType, dp.types.StructField, dp.types.IntegerType, dp.types.StringType)
        @dp.table(name="silver.users", comment="users", spark_conf={"a": "1"},
                  table_properties={"pipelines.reset.allowed": "false"}, partition_cols=["country"],
                  cluster_by=None, schema="id INT, country STRING", temporary=False, private=False)
        def users():
            return spark.readStream.table("bronze.users")

        @dp.table(cluster_by=["id"], schema=StructType([StructField("id", IntegerType(), False),
                                                        StructField("n", StringType())]))
        def counts():
            return spark.read.table("silver.users").groupBy("id").agg(F.count("*").alias("n"))
    """)
    users, counts = reg.datasets
    assert (users.name, users.kind, users.comment) == (TableName("cat", "silver", "users"), "streaming_table", "users")
    assert users.table_properties == {"pipelines.reset.allowed": "false"} and not users.reset_allowed
    assert users.partition_cols == ("country",) and users.schema == "id INT, country STRING"
    assert users.location.file == "defs.py" and users.location.line == 5
    assert (counts.name, counts.kind, counts.cluster_by) == (tn("counts"), "materialized_view", ("id",))
    assert counts.schema == "id INT NOT NULL, n STRING"
    flow = only_flow(reg, "cat.silver.users")
    assert flow.is_default and flow.streaming and flow.spark_conf == {"a": "1"}
    assert flow.sql == "SELECT * FROM STREAM (bronze.users)"
    assert not only_flow(reg, "cat.sch.counts").streaming


def test_table_without_parentheses_and_sql_string_result(tmp_path: Path) -> None:
    reg = load(tmp_path, """
        @dp.table
        def events():
            return "SELECT * FROM STREAM read_files('${data}/events', format => 'json');"
    """, data="/d")
    (dataset,) = reg.datasets
    assert dataset.kind == "streaming_table"
    assert only_flow(reg, "cat.sch.events").sql == "SELECT * FROM STREAM read_files('${data}/events', format => 'json')"


def test_materialized_view_and_temporary_views(tmp_path: Path) -> None:
    reg = load(tmp_path, """
        @dp.temporary_view(comment="staging")
        def staged():
            return spark.readStream.table("raw.events")

        @dp.view(name="legacy_view")
        def legacy():
            return spark.read.table("raw.events")

        @dp.materialized_view(name="gold.daily", table_properties={"quality": "gold"})
        def daily():
            return spark.read.table("raw.events").groupBy("day").count()
    """)
    assert [(d.name.name, d.kind) for d in reg.datasets] == [
        ("staged", "temporary_view"), ("legacy_view", "temporary_view"), ("daily", "materialized_view")
    ]
    assert reg.datasets[2].table_properties == {"quality": "gold"}
    assert only_flow(reg, "cat.sch.staged").streaming


def test_expectation_decorators_in_written_order_above_and_below_table(tmp_path: Path) -> None:
    reg = load(tmp_path, """
        @dp.expect("top", "a > 0")
        @dp.table
        @dp.expect_or_drop("drop_me", "b IS NOT NULL")
        @dp.expect_or_fail("fail_me", "c <> 'x'")
        @dp.expect_or_quarantine("quarantine_me", "d BETWEEN 1 AND 9")
        @dp.expect_all({"w1": "e > 1", "w2": "e < 9"})
        @dp.expect_all_or_drop({"d1": "f IS NOT NULL"})
        @dp.expect_all_or_fail({"f1": "g >= 0"})
        @dp.expect_all_or_quarantine({"q1": "h = 1"})
        def checked():
            return spark.readStream.table("raw.t")
    """)
    (dataset,) = reg.datasets
    assert [(e.name, e.action) for e in dataset.expectations] == [
        ("top", "warn"), ("drop_me", "drop"), ("fail_me", "fail"), ("quarantine_me", "quarantine"),
        ("w1", "warn"), ("w2", "warn"), ("d1", "drop"), ("f1", "fail"), ("q1", "quarantine"),
    ]
    assert dataset.expectations[1].condition == "b IS NOT NULL"
    assert dataset.expectations[0].location.line == 3


def test_invalid_expectation_condition(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"defs\.py:3: invalid expectation 'bad'"):
        load(tmp_path, """
            @dp.expect_or_drop("bad", "a >")
            @dp.table
            def t():
                return spark.readStream.table("raw.t")
        """)


def test_create_streaming_table_append_flows_and_once(tmp_path: Path) -> None:
    reg = load(tmp_path, """
        dp.create_streaming_table("events", comment="all events", table_properties={"k": "v"},
                                  partition_cols=["day"], cluster_by=None, schema="id INT, day DATE",
                                  expect_all={"w": "id > 0"}, expect_all_or_drop={"d": "id IS NOT NULL"},
                                  expect_all_or_fail={"f": "day IS NOT NULL"},
                                  expect_all_or_quarantine={"q": "id < 100"})

        @dp.append_flow(target="events")
        def eu():
            return spark.readStream.table("raw.eu")

        @dp.append_flow(target="events", name="backfill", once=True, spark_conf={"x": "y"})
        def old_events():
            return spark.read.format("parquet").load("/archive")
    """)
    (events,) = reg.datasets
    assert events.kind == "streaming_table" and events.comment == "all events"
    assert [(e.name, e.action) for e in events.expectations] == [
        ("w", "warn"), ("d", "drop"), ("f", "fail"), ("q", "quarantine")
    ]
    assert events.location.line == 3
    eu = only_flow(reg, "eu")
    assert eu.target == tn("events") and eu.streaming and not eu.once and not eu.is_default
    backfill = only_flow(reg, "backfill")
    assert backfill.once and not backfill.streaming and backfill.spark_conf == {"x": "y"}
    # Spark's own parquet source (not Auto Loader): no rescued-data column, no evolution
    assert backfill.sql == "SELECT * FROM READ_FILES('/archive', format => 'parquet', schemaEvolutionMode => 'none')"
    graph = build_graph(reg)
    assert graph.flows_into(tn("events")) == ["eu", "backfill"]


def test_create_auto_cdc_flow_every_parameter(tmp_path: Path) -> None:
    reg = load(tmp_path, """
        dp.create_streaming_table("target")
        dp.create_auto_cdc_flow(
            target="target", source="cdc.users", keys=["userId", F.col("region")],
            sequence_by=F.struct("sequenceNum", "sub"), ignore_null_updates=True,
            apply_as_deletes=F.expr("operation = 'DELETE'"), apply_as_truncates=None,
            column_list=None, except_column_list=["operation", F.col("sequenceNum")],
            stored_as_scd_type="2", track_history_column_list=None,
            track_history_except_column_list=["city"], name="users_cdc", once=False,
        )
        dp.apply_changes(target="target", source="cdc.more", keys=["id"], sequence_by="ts",
                         apply_as_truncates="op = 'TRUNCATE'", column_list=["id", "v"], once=True)
    """)
    first, second = reg.flows
    assert isinstance(first, AutoCdcFlow) and isinstance(second, AutoCdcFlow)
    assert first.name == "users_cdc" and first.source == TableName("cat", "cdc", "users")
    assert first.keys == ("userId", "region") and first.sequence_by == ("sequenceNum", "sub")
    assert first.ignore_null_updates and first.apply_as_deletes == "operation = 'DELETE'"
    assert first.except_column_list == ("operation", "sequenceNum") and first.stored_as_scd_type == 2
    assert first.track_history_except_column_list == ("city",) and first.source_is_stream
    assert first.location.line == 4
    assert second.name == "cat.sch.target" and second.once and not second.source_is_stream
    assert second.apply_as_truncates == "op = 'TRUNCATE'" and second.column_list == ("id", "v")
    assert second.sequence_by == ("ts",) and second.stored_as_scd_type == 1


@pytest.mark.parametrize(
    ("call", "message"),
    [
        ("stored_as_scd_type=3", "stored_as_scd_type must be 1 or 2"),
        ("stored_as_scd_type=1, track_history_column_list=['a']", "needs stored_as_scd_type=2"),
        ("stored_as_scd_type=2, apply_as_truncates='x'", "only allowed with SCD type 1"),
        ("column_list=['a'], except_column_list=['b']", "not both"),
        ("apply_as_deletes='op ='", "invalid apply_as_deletes"),
    ],
)
def test_auto_cdc_flow_errors(tmp_path: Path, call: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as info:
        load(tmp_path, f"""
            dp.create_streaming_table("t")
            dp.create_auto_cdc_flow(target="t", source="s.x", keys=["id"], sequence_by="ts", {call})
        """)
    assert "defs.py:4" in str(info.value)


def test_snapshot_flows_from_table_and_function(tmp_path: Path) -> None:
    reg = load(tmp_path, """
        dp.create_streaming_table("dim")
        dp.create_auto_cdc_from_snapshot_flow(target="dim", source="raw.snapshot", keys=["id"],
                                              stored_as_scd_type=2, track_history_column_list=["v"])

        def next_snapshot(latest_version):
            return None

        dp.create_streaming_table("dim2")
        dp.apply_changes_from_snapshot(target="dim2", source=next_snapshot, keys=["id"], name="snap2")
    """)
    first, second = reg.flows
    assert isinstance(first, SnapshotCdcFlow) and isinstance(second, SnapshotCdcFlow)
    assert first.source == TableName("cat", "raw", "snapshot") and first.stored_as_scd_type == 2
    assert first.track_history_column_list == ("v",) and first.source_function is None
    assert second.name == "snap2" and second.source is None and callable(second.source_function)


def test_spark_conf_get_reads_configuration(tmp_path: Path) -> None:
    reg = load(tmp_path, """
        bronze = spark.conf.get("bronze_path")

        @dp.table
        def users():
            fmt = spark.conf.get("fmt", "parquet")
            return (spark.readStream.format("cloudFiles")
                    .option("cloudFiles.format", fmt)
                    .option("cloudFiles.schemaEvolutionMode", "rescue")
                    .option("cloudFiles.schemaHints", "id BIGINT")
                    .load(f"{bronze}/users"))
    """, bronze_path="/lake/bronze")
    graph = build_graph(reg)
    (item,) = graph.flows["cat.sch.users"].inputs
    assert item.kind == "files" and item.streaming and item.path == "/lake/bronze/users"
    assert item.options == {"format": "parquet", "schemaEvolutionMode": "rescue", "schemaHints": "id BIGINT"}


def test_unknown_configuration_key(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"defs\.py:3: spark\.conf\.get\('missing'\): no such configuration key"):
        load(tmp_path, "\nx = spark.conf.get('missing')\n", other="1")


@pytest.mark.parametrize(
    "action", ["collect()", "toPandas()", "count()", "show()", "write.saveAsTable('x')",
               "writeStream.toTable('x')", "createOrReplaceTempView('v')"],
)
def test_side_effects_in_dataset_functions_are_rejected(tmp_path: Path, action: str) -> None:
    name = action.split("(")[0].split(".")[0]
    with pytest.raises(DefinitionError, match=rf"defs\.py:6: DataFrame\.{name}\(\) in a dataset function"):
        load(tmp_path, f"""
            @dp.table
            def t():
                df = spark.readStream.table("raw.t")
                df.{action}
                return df
        """)


@pytest.mark.parametrize(
    ("code", "call"),
    [
        ("spark.read.table('raw.t').sample(0.1)", "DataFrame.sample"),
        ("spark.read.table('raw.t').select(F.no_such_function('a'))", "functions.no_such_function"),
        ("spark.createDataFrame([(1,)])", "spark.createDataFrame"),
        ("spark.read.table('raw.t').groupBy('a').pivot('b')", "GroupedData.pivot"),
        ("spark.readStream.option('skipChangeCommits', 'true').table('raw.t')", "reader options"),
    ],
)
def test_unsupported_calls_name_the_call_and_file(tmp_path: Path, code: str, call: str) -> None:
    with pytest.raises(DefinitionError, match=rf"defs\.py:5: unsupported call '{call}") as info:
        load(tmp_path, f"""
            @dp.materialized_view
            def t():
                return {code}
        """)
    assert "dataset function" in str(info.value)


def test_dataset_function_exception_and_bad_return(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"defs\.py:3: dataset function 'broken' failed: ZeroDivisionError"):
        load(tmp_path, """
            @dp.table
            def broken():
                return 1 / 0
        """)
    with pytest.raises(DefinitionError, match="returned int; it must return a DataFrame or a SQL query string"):
        load(tmp_path, """
            @dp.table
            def bad():
                return 42
        """)


def test_syntax_error_and_module_error_are_located(tmp_path: Path) -> None:
    with pytest.raises(DefinitionError, match=r"defs\.py:4: syntax error"):
        load(tmp_path, "\n\ndef broken(:\n    pass\n".replace("\n\n", "x = 1\n", 1))
    with pytest.raises(DefinitionError, match=r"defs\.py:5: NameError"):
        load(tmp_path, "x = 1\n\nundefined_name\n")


def test_decorators_outside_a_pipeline_load_are_rejected() -> None:
    from soundlake import pipelines as dp

    with pytest.raises(DefinitionError, match="can only be used in a pipeline file"):
        dp.create_streaming_table("x")


def test_pyspark_imports_and_legacy_dlt_module(tmp_path: Path) -> None:
    header = (
        "import soundlake.dlt as dlt\n"
        "from pyspark import pipelines as dp\n"
        "from pyspark.sql.functions import *\n"
        "from pyspark.sql.types import StringType\n"
        "from pyspark.sql.window import Window\n"
    )
    reg = load(tmp_path, """
        @dlt.view
        def src():
            return dlt.read_stream("raw_events")

        @dp.table(name="clean")
        def clean():
            w = Window.partitionBy("id").orderBy(col("ts").desc())
            return (dlt.read_stream("src")
                    .withColumn("name", upper(col("name")).cast(StringType()))
                    .withColumn("rn", row_number().over(w)))

        @dlt.table
        def batch_copy():
            return dlt.read("clean")
    """, header=header)
    assert [(d.name.name, d.kind) for d in reg.datasets] == [
        ("src", "temporary_view"), ("clean", "streaming_table"), ("batch_copy", "materialized_view")
    ]
    assert "ROW_NUMBER() OVER (PARTITION BY id ORDER BY ts DESC)" in only_flow(reg, "cat.sch.clean").sql


def test_definitions_keep_file_order_with_python_and_sql(tmp_path: Path) -> None:
    (tmp_path / "a.sql").write_text("CREATE MATERIALIZED VIEW first AS SELECT 1 AS id", encoding="utf-8")
    (tmp_path / "b.py").write_text(HEADER + textwrap.dedent("""
        @dp.materialized_view
        def second():
            return spark.read.table("first")

        dp.create_streaming_table("third")

        @dp.append_flow(target="third")
        def third_flow():
            return spark.readStream.table("raw.x")
    """), encoding="utf-8")
    reg = load_definitions(tmp_path, ["*.sql", "*.py"], catalog="cat", schema="sch", configuration={})
    assert [d.name.name for d in reg.datasets] == ["first", "second", "third"]
    assert [f.name for f in reg.flows] == ["cat.sch.first", "cat.sch.second", "third_flow"]
    assert build_graph(reg).order == ("cat.sch.first", "cat.sch.second", "third_flow")


def test_reference_project_mixed_sql_and_python() -> None:
    reg = load_definitions(
        TEMPLATE, ["pipelines/**/*.sql", "pipelines/**/*.py"], catalog="spotify_catalog", schema="silver",
        configuration={"bronze_path": "lake/bronze", "refresh_lookback": "35 days"},
    )
    graph = build_graph(reg)
    assert graph.external == frozenset()
    staging = TableName("spotify_catalog", "gold", "dimuser_stg")
    dataset = graph.datasets[staging]
    assert isinstance(dataset, Dataset) and dataset.kind == "streaming_table"
    assert [(e.name, e.action) for e in dataset.expectations] == [("user_id_not_null", "drop")]
    cdc = graph.flows["spotify_catalog.gold.dim_user"].flow
    assert isinstance(cdc, AutoCdcFlow) and cdc.source == staging and cdc.stored_as_scd_type == 2
    order = graph.order
    assert order.index("spotify_catalog.silver.dimuser") < order.index("spotify_catalog.gold.dimuser_stg")
    assert order.index("spotify_catalog.gold.dim_user") < order.index("spotify_catalog.gold.mart_daily_listening")


def test_pyspark_shims_replace_real_pyspark_only_while_loading(tmp_path: Path) -> None:
    import sys

    real = pytest.importorskip("pyspark.sql.functions")
    reg = load(tmp_path, """
        from pyspark.sql import functions as G

        @dp.table
        def t():
            return spark.readStream.table("raw.t").withColumn("u", G.upper("name"))
    """)
    assert "UPPER(name) AS u" in only_flow(reg, "cat.sch.t").sql
    assert sys.modules["pyspark.sql.functions"] is real
