"""Issue 15 definition forms on the Spark engine: the same pipeline gives the tables the
DuckDB engine gives (private/temporary datasets, deprecated DLT aliases, file reads without
``STREAM``, column comments, expectations on views, path-qualified and external reads),
and path-qualified reads give what Spark itself reads from those paths."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import pytest

from soundlake.core.errors import SoundlakeError
from tests.engines.cdc_reference import canonical
from tests.pipeline import test_language_surface as forms
from tests.pipeline.conftest import Lakehouse

pytestmark = pytest.mark.spark

PUBLISHED = (
    "pub", "py_pub", "target_a", "target_b", "legacy", "modern", "batch", "described", "py_described",
    "from_view", "from_stream_view", "from_py_view", "from_paths", "streamed_delta", "py_delta_load", "py_external",
)
PRIVATE = ("raw", "raw2", "counted", "py_raw", "py_ids", "py_count")


def _project(root: Path) -> Lakehouse:
    """Every form of tests/pipeline/test_language_surface.py in one pipeline."""
    lake = forms.path_project(root)  # PATH_SQL as p.sql, PATH_PY as q.py, external tables
    lake.sql(forms.PRIVATE_SQL, "private.sql")
    lake.sql(forms.LEGACY_FILES_SQL, "legacy.sql")
    lake.sql(forms.COMMENTS_SQL, "comments.sql")
    lake.sql(forms.VIEW_EXPECTATIONS_SQL, "views.sql")
    python = {
        "private.py": forms.PRIVATE_PY,
        "deprecated.py": forms.DEPRECATED_PY.replace('"src"', '"dep_src"').replace("def src", "def dep_src"),
        "comments.py": forms.COMMENTS_PY,
        "views.py": forms.VIEW_EXPECTATIONS_PY,
    }
    for name, text in python.items():
        (lake.root / "pipelines" / name).write_text(textwrap.dedent(text), encoding="utf-8")
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "bb"}, {"id": None, "name": "c"}])
    return lake


def test_language_surface_matches_duckdb(spark: Any, tmp_path: Path) -> None:
    lakes = {engine: _project(tmp_path / engine) for engine in ("duckdb", "spark")}
    runs = {}
    for engine, lake in lakes.items():
        result = lake.run(engine=engine)
        assert result.ok, (engine, result.errors)
        runs[engine] = result.run_id
    duck, spk = lakes["duckdb"], lakes["spark"]
    for table in PUBLISHED:
        assert canonical(spk.rows(f"SELECT * FROM {table}")) == canonical(duck.rows(f"SELECT * FROM {table}")), table
    for lake in (duck, spk):
        for name in PRIVATE:
            with pytest.raises(SoundlakeError, match=f"table main.silver.{name} does not exist"):
                lake.rows(f"SELECT * FROM {name}")
    for table in ("described", "py_described"):
        assert forms.column_comments(spk, table) == forms.column_comments(duck, table), table
    for flow in ("from_view", "from_stream_view", "from_py_view"):
        assert forms._quality(spk, runs["spark"], f"main.silver.{flow}") == forms._quality(
            duck, runs["duckdb"], f"main.silver.{flow}"
        ), flow


def test_path_qualified_reads_equal_spark_own(spark: Any, tmp_path: Path) -> None:
    lake = forms.path_project(tmp_path / "p")
    result = lake.run()
    assert result.ok, result.errors
    data = lake.root / "data"
    own = spark.sql(
        f"""SELECT p.id, p.name, d.score, j.tag, c._c1 AS csv_name
        FROM parquet.`{data}/pq/a.parquet` AS p
        JOIN delta.`{data}/ext_delta` AS d ON d.id = p.id
        JOIN json.`{data}/js` AS j ON j.id = p.id
        JOIN csv.`{data}/cs/a.csv` AS c ON CAST(c._c0 AS INT) = p.id"""
    )
    assert canonical(lake.rows("SELECT * FROM from_paths")) == canonical([r.asDict() for r in own.collect()])
    schemas = {
        fmt: spark.sql(f"SELECT * FROM {fmt}.`{data}/{path}`").schema.simpleString()
        for fmt, path in (("json", "js"), ("csv", "cs/a.csv"), ("parquet", "pq/a.parquet"))
    }
    assert schemas == {
        "json": "struct<id:bigint,tag:string>",
        "csv": "struct<_c0:string,_c1:string>",
        "parquet": "struct<id:bigint,name:string>",
    }


def test_a_flows_own_spark_settings_apply_on_spark_and_end_with_it(spark: Any, tmp_path: Path) -> None:
    """``SET spark.sql.ansi.enabled = false`` (and ``spark_conf=``) change the flows defined
    after them on the Spark engine as on DuckDB, and no other flow: Spark's session is
    restored after each flow."""
    outcome = {}
    for engine in ("duckdb", "spark"):
        lake = Lakehouse(tmp_path / engine)
        lake.config(libraries=["pipelines"])
        lake.sql("SET spark.sql.ansi.enabled = false;\n"
                 "CREATE MATERIALIZED VIEW lenient AS SELECT CAST('abc' AS INT) AS x, 1 / 0 AS y;", "a.sql")
        lake.sql("CREATE MATERIALIZED VIEW strict AS SELECT CAST('abc' AS INT) AS x;", "b.sql")
        (lake.root / "pipelines" / "c.py").write_text(textwrap.dedent("""
        from pyspark import pipelines as dp

        @dp.materialized_view(spark_conf={"spark.sql.ansi.enabled": "false"})
        def py_lenient():
            return spark.sql("SELECT CAST('x' AS INT) AS x")
        """), encoding="utf-8")
        result = lake.run(engine=engine)
        outcome[engine] = {name.rsplit(".", 1)[-1]: flow.status for name, flow in result.flows.items()}
        assert "'abc'" in str(result.errors["main.silver.strict"]), (engine, result.errors)
        assert lake.rows("SELECT * FROM lenient") == [{"x": None, "y": None}], engine
        assert lake.rows("SELECT * FROM py_lenient") == [{"x": None}], engine
    assert outcome["spark"] == outcome["duckdb"] == {"lenient": "COMPLETED", "strict": "FAILED", "py_lenient": "COMPLETED"}


def test_platform_functions_are_refused_before_anything_runs_on_spark(spark: Any, tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql("CREATE MATERIALIZED VIEW first AS SELECT 1 AS x;\n"
             "CREATE MATERIALIZED VIEW answers AS SELECT ai_query('model', 'hi') AS a;")
    with pytest.raises(SoundlakeError, match=r"pipelines/p\.sql:2 \(statement 2\): flow 'main\.silver\.answers': "
                       r"ai_query\(\) is a Databricks platform function"):
        lake.run(engine="spark")
    with pytest.raises(SoundlakeError, match="table main.silver.first does not exist"):
        lake.rows("SELECT * FROM first")  # nothing half-ran


def test_sql_range_is_one_bigint_column_id_on_both_engines(spark: Any, tmp_path: Path) -> None:
    """``FROM range(...)`` in SQL: Spark's column ``id`` (DuckDB's own range names it ``range``)."""
    tables: dict[str, dict[str, Any]] = {}
    for engine in ("duckdb", "spark"):
        lake = Lakehouse(tmp_path / engine)
        lake.sql("CREATE MATERIALIZED VIEW r AS SELECT * FROM range(3);\n"
                 "CREATE MATERIALIZED VIEW r2 AS SELECT t.id * 2 AS d FROM range(1, 10, 3, 4) AS t;\n"
                 "CREATE MATERIALIZED VIEW r3 AS SELECT range.id FROM range(2);")
        result = lake.run(engine=engine)
        assert list(result.errors) == ["main.silver.r3"], (engine, result.errors)  # an unnamed range
        tables[engine] = {t: lake.rows(f"SELECT * FROM {t} ORDER BY 1") for t in ("r", "r2")}
    assert tables["duckdb"] == tables["spark"] == {
        "r": [{"id": 0}, {"id": 1}, {"id": 2}], "r2": [{"d": 2}, {"d": 8}, {"d": 14}],
    }


def test_plain_file_reads_from_python_are_sparks_file_sources(spark: Any, tmp_path: Path) -> None:
    """``spark.read.parquet`` / ``format("csv").load`` are Spark's own readers, not Auto
    Loader: no ``_rescued_data`` column, CSV columns STRING unless inferSchema."""
    tables: dict[str, dict[str, Any]] = {}
    for engine in ("duckdb", "spark"):
        lake = Lakehouse(tmp_path / engine)
        lake.config(libraries=["pipelines"])
        (lake.root / "pipelines" / "q.py").write_text(textwrap.dedent("""
        from pyspark import pipelines as dp

        @dp.materialized_view()
        def pq():
            return spark.read.parquet("data/pq")

        @dp.materialized_view()
        def cs():
            return spark.read.format("csv").option("header", "true").load("data/cs")

        @dp.materialized_view()
        def typed():
            return spark.read.csv("data/cs", header=True, inferSchema=True)
        """), encoding="utf-8")
        lake.parquet("pq", "a.parquet", [{"id": 1, "name": "a"}])
        lake.text("cs", "a.csv", "id,name\n1,a\n")
        result = lake.run(engine=engine)
        assert result.ok, (engine, result.errors)
        tables[engine] = {t: lake.rows(f"SELECT * FROM {t}") for t in ("pq", "cs", "typed")}
    assert tables["duckdb"] == tables["spark"] == {
        "pq": [{"id": 1, "name": "a"}], "cs": [{"id": "1", "name": "a"}], "typed": [{"id": 1, "name": "a"}],
    }


SINKS_PY = forms.SINK_SOURCE + textwrap.dedent("""
    import json
    import os

    from pyspark.sql import functions as F

    dlt.create_sink("out", "delta", {"path": "exports/out"})
    dlt.create_sink("copy", "delta", {"tableName": "exports.events_copy"})

    @dlt.append_flow(target="out", name="to_out")
    def to_out():
        return spark.readStream.table("events").select("id", "name")

    @dlt.append_flow(target="copy", name="to_copy")
    def to_copy():
        return dlt.read_stream("events").select("id")

    FEED = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "feed.jsonl")

    @dlt.foreach_batch_sink(name="feed")
    def feed(df, batch_id):
        upper = df.select(F.upper(F.col("name")).alias("name")).orderBy("name")  # PySpark on Spark
        names = [r["name"] for r in upper.collect()]
        with open(FEED, "a") as out:
            out.write(json.dumps({"batch": batch_id, "names": names, "kind": type(df).__name__}) + "\\n")

    @dlt.append_flow(target="feed")
    def to_feed():
        return spark.readStream.table("events")
    """)


def test_sinks_on_spark_append_each_row_once_and_re_append_on_full_refresh(spark: Any, tmp_path: Path) -> None:
    import json

    from deltalake import DeltaTable

    lake = Lakehouse(tmp_path / "p")
    lake.config(libraries=["pipelines"])
    lake.sql(SINKS_PY, "q.py")
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    assert lake.run(engine="spark").ok
    lake.parquet("in", "b.parquet", [{"id": 3, "name": "c"}])
    second = lake.run(engine="spark")
    assert second.ok, second.errors
    assert second.flows["to_out"].num_output_rows == 1
    out = DeltaTable(str(lake.root / "exports" / "out"))
    assert sorted(r["id"] for r in out.to_pyarrow_table().to_pylist()) == [1, 2, 3]
    assert out.transaction_version("t:to_out") == 2  # Spark's txnAppId / txnVersion
    calls = [json.loads(line) for line in (lake.root / "feed.jsonl").read_text().splitlines()]
    assert calls == [
        {"batch": 0, "names": ["A", "B"], "kind": "DataFrame"},
        {"batch": 1, "names": ["C"], "kind": "DataFrame"},
    ]
    refreshed = lake.run(engine="spark", full_refresh=["copy"])
    assert refreshed.ok, refreshed.errors
    assert lake.rows("SELECT id FROM main.exports.events_copy ORDER BY id") == [
        {"id": 1}, {"id": 1}, {"id": 2}, {"id": 2}, {"id": 3}, {"id": 3},
    ]
    assert refreshed.flows["to_out"].status == "EXCLUDED"  # only the named sink refreshes
