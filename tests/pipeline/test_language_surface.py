"""Issue 15 definition forms on the DuckDB engine: private / temporary datasets, deprecated
DLT aliases, and legacy file reads without ``STREAM`` in streaming tables."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from soundlake.core.errors import SoundlakeError
from tests.pipeline.conftest import Lakehouse, statuses

PRIVATE_SQL = """
CREATE TEMPORARY STREAMING TABLE raw AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
CREATE PRIVATE STREAMING TABLE raw2 AS SELECT id FROM STREAM(raw);
CREATE PRIVATE MATERIALIZED VIEW counted AS SELECT count(*) AS n FROM raw2;
CREATE OR REFRESH MATERIALIZED VIEW pub AS SELECT n FROM counted;
"""

PRIVATE_PY = """
import dlt
from pyspark import pipelines as dp

@dlt.table(temporary=True)
def py_raw():
    return spark.readStream.format("cloudFiles").option("cloudFiles.format", "parquet").load("data/in")

@dp.table(private=True)
def py_ids():
    return spark.read.table("py_raw").select("id")

@dp.materialized_view(private=True)
def py_count():
    return spark.read.table("py_ids").groupBy().count()

@dp.materialized_view()
def py_pub():
    return spark.read.table("py_count")
"""


def _private_project(root: Path) -> Lakehouse:
    lake = Lakehouse(root)
    lake.config(libraries=["pipelines"])
    lake.sql(PRIVATE_SQL)
    (lake.root / "pipelines" / "q.py").write_text(textwrap.dedent(PRIVATE_PY), encoding="utf-8")
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"}])
    return lake


def test_private_and_temporary_datasets_run_but_are_not_published(tmp_path: Path) -> None:
    lake = _private_project(tmp_path / "p")
    result = lake.run()
    assert result.ok, result.errors
    assert set(statuses(result).values()) == {"COMPLETED"}
    assert lake.rows("SELECT n FROM pub") == [{"n": 3}]
    assert lake.rows("SELECT count AS n FROM py_pub") == [{"n": 3}]
    for name in ("raw", "raw2", "counted", "py_raw", "py_ids", "py_count"):
        with pytest.raises(SoundlakeError, match=f"table main.silver.{name} does not exist"):
            lake.rows(f"SELECT * FROM {name}")
        assert not (lake.root / "lake" / "main" / "silver" / name).exists()
        assert (lake.root / "lake" / "_soundlake" / "pipelines" / "t" / "private" / "main" / "silver" / name).is_dir()
    # a second update streams only what is new into the private streaming tables
    lake.parquet("in", "b.parquet", [{"id": 4, "name": "d"}])
    result = lake.run()
    assert result.ok, result.errors
    assert lake.rows("SELECT n FROM pub") == [{"n": 4}]
    assert lake.rows("SELECT count AS n FROM py_pub") == [{"n": 4}]


def test_private_view_is_an_error_naming_file_and_line(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql("CREATE MATERIALIZED VIEW a AS SELECT 1 AS x;\n\nCREATE PRIVATE VIEW v AS SELECT 1 AS x;")
    with pytest.raises(SoundlakeError, match=r"pipelines/p\.sql:3 \(statement 2\): PRIVATE applies to tables"):
        lake.run()


DEPRECATED_PY = """
import dlt

dlt.create_target_table("target_a")
dlt.create_streaming_live_table("target_b", comment="b")

@dlt.append_flow(target="target_a")
def into_a():
    return dlt.read_stream("src")

@dlt.append_flow(target="target_b")
def into_b():
    return dlt.read_stream("src")

@dlt.table()
def src():
    return spark.readStream.format("cloudFiles").option("cloudFiles.format", "parquet").load("data/in")
"""


def test_deprecated_create_target_table_aliases(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.config(libraries=["pipelines/*.py"])
    (lake.root / "pipelines" / "q.py").write_text(textwrap.dedent(DEPRECATED_PY), encoding="utf-8")
    lake.parquet("in", "a.parquet", [{"id": 1}, {"id": 2}])
    result = lake.run()
    assert result.ok, result.errors
    assert lake.rows("SELECT id FROM target_a ORDER BY id") == [{"id": 1}, {"id": 2}]
    assert lake.rows("SELECT id FROM target_b ORDER BY id") == [{"id": 1}, {"id": 2}]


def test_soundlake_dlt_module_exports_the_deprecated_names() -> None:
    from soundlake import dlt

    assert dlt.create_target_table is dlt.create_streaming_table
    assert dlt.create_streaming_live_table is dlt.create_streaming_table


LEGACY_FILES_SQL = """
CREATE OR REFRESH STREAMING LIVE TABLE legacy AS SELECT id FROM cloud_files('${data}/in', 'parquet');
CREATE OR REFRESH STREAMING TABLE modern AS SELECT id FROM read_files('${data}/in', format => 'parquet');
CREATE OR REFRESH MATERIALIZED VIEW batch AS SELECT count(*) AS n FROM cloud_files('${data}/in', 'parquet');
"""


def test_file_reads_without_stream_in_a_streaming_table_stream(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql(LEGACY_FILES_SQL)
    lake.parquet("in", "a.parquet", [{"id": 1}, {"id": 2}])
    result = lake.run()
    assert result.ok, result.errors
    lake.parquet("in", "b.parquet", [{"id": 3}])
    result = lake.run()
    assert result.ok, result.errors
    assert lake.progress(result.run_id, "main.silver.legacy")["metrics"]["num_output_rows"] == 1
    for table in ("legacy", "modern"):
        assert lake.rows(f"SELECT id FROM {table} ORDER BY id") == [{"id": 1}, {"id": 2}, {"id": 3}]
    assert lake.rows("SELECT n FROM batch") == [{"n": 3}]


COMMENTS_SQL = """
CREATE OR REFRESH MATERIALIZED VIEW described (
  id INT COMMENT 'the id', name STRING, score DOUBLE NOT NULL COMMENT 'it''s a score'
) AS SELECT 'x' AS name, 1.5D AS score, 7 AS id;
"""

COMMENTS_PY = """
from pyspark import pipelines as dp

@dp.materialized_view(schema="id INT COMMENT 'py id', name STRING")
def py_described():
    return spark.sql("SELECT 'y' AS name, 8 AS id")
"""


def column_comments(lake: Lakehouse, table: str) -> list[tuple[str, str | None]]:
    """(column, Delta column metadata ``comment``) in column order, from the Delta log."""
    from deltalake import DeltaTable

    fields = DeltaTable(str(lake.root / "lake" / "main" / "silver" / table)).schema().fields
    return [(f.name, f.metadata.get("comment")) for f in fields]


def test_declared_column_comments_are_delta_column_metadata(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.config(libraries=["pipelines"])
    lake.sql(COMMENTS_SQL)
    (lake.root / "pipelines" / "q.py").write_text(textwrap.dedent(COMMENTS_PY), encoding="utf-8")
    result = lake.run()
    assert result.ok, result.errors
    assert column_comments(lake, "described") == [("id", "the id"), ("name", None), ("score", "it's a score")]
    assert column_comments(lake, "py_described") == [("id", "py id"), ("name", None)]
    assert lake.rows("SELECT * FROM described") == [{"id": 7, "name": "x", "score": 1.5}]


VIEW_EXPECTATIONS_SQL = """
CREATE OR REFRESH STREAMING TABLE src AS SELECT * FROM STREAM read_files('${data}/in', format => 'parquet');
CREATE TEMPORARY VIEW v (
  CONSTRAINT has_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW,
  CONSTRAINT short EXPECT (length(name) < 2)
) AS SELECT * FROM src;
CREATE OR REFRESH MATERIALIZED VIEW from_view AS SELECT id, name FROM v;
CREATE TEMPORARY LIVE VIEW sv (CONSTRAINT has_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW)
AS SELECT * FROM STREAM(src);
CREATE OR REFRESH STREAMING TABLE from_stream_view AS SELECT id FROM STREAM(sv);
"""

VIEW_EXPECTATIONS_PY = """
import dlt

@dlt.view()
@dlt.expect_or_drop("has_id", "id IS NOT NULL")
@dlt.expect("short", "length(name) < 2")
def py_v():
    return spark.read.table("src")

@dlt.table()
def from_py_view():
    return spark.read.table("py_v").select("id", "name")
"""


def _quality(lake: Lakehouse, run_id: str, flow: str) -> dict[tuple[str, str], tuple[int, int]]:
    quality = lake.progress(run_id, flow)["data_quality"]
    return {(e["dataset"], e["name"]): (e["passed_records"], e["failed_records"]) for e in quality["expectations"]}


def test_expectations_on_temporary_views_drop_and_are_counted(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.config(libraries=["pipelines"])
    lake.sql(VIEW_EXPECTATIONS_SQL)
    (lake.root / "pipelines" / "q.py").write_text(textwrap.dedent(VIEW_EXPECTATIONS_PY), encoding="utf-8")
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "bb"}, {"id": None, "name": "c"}])
    result = lake.run()
    assert result.ok, result.errors
    rows = [{"id": 1, "name": "a"}, {"id": 2, "name": "bb"}]
    assert lake.rows("SELECT * FROM from_view ORDER BY id") == rows
    assert lake.rows("SELECT * FROM from_py_view ORDER BY id") == rows
    assert lake.rows("SELECT * FROM from_stream_view ORDER BY id") == [{"id": 1}, {"id": 2}]
    assert _quality(lake, result.run_id, "main.silver.from_view") == {
        ("main.silver.v", "has_id"): (2, 1), ("main.silver.v", "short"): (2, 1),
    }
    assert _quality(lake, result.run_id, "main.silver.from_py_view") == {
        ("main.silver.py_v", "has_id"): (2, 1), ("main.silver.py_v", "short"): (2, 1),
    }
    assert _quality(lake, result.run_id, "main.silver.from_stream_view") == {("main.silver.sv", "has_id"): (2, 1)}


def test_fail_expectation_on_a_view_fails_the_reading_flow(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql("""
    CREATE OR REFRESH MATERIALIZED VIEW src AS SELECT * FROM VALUES (1), (NULL) AS t(id);
    CREATE TEMPORARY VIEW v (CONSTRAINT has_id EXPECT (id IS NOT NULL) ON VIOLATION FAIL UPDATE) AS SELECT * FROM src;
    CREATE OR REFRESH MATERIALIZED VIEW out AS SELECT * FROM v;
    """)
    result = lake.run()
    assert statuses(result)["out"] == "FAILED"
    message = str(result.errors["main.silver.out"])
    assert "expectation 'has_id' (ON VIOLATION FAIL UPDATE) failed on dataset main.silver.v" in message
    assert "pipelines/p.sql:3" in message and "\n" not in message


PATH_SQL = """
CREATE OR REFRESH MATERIALIZED VIEW from_paths AS
SELECT p.id, p.name, d.score, j.tag, c._c1 AS csv_name
FROM parquet.`${data}/pq/a.parquet` AS p
JOIN delta.`${data}/ext_delta` AS d ON d.id = p.id
JOIN json.`${data}/js` AS j ON j.id = p.id
JOIN csv.`${data}/cs/a.csv` AS c ON CAST(c._c0 AS INT) = p.id;
CREATE OR REFRESH STREAMING TABLE streamed_delta AS SELECT id, score FROM STREAM(delta.`${data}/ext_delta`);
"""

PATH_PY = """
from pyspark import pipelines as dp

@dp.materialized_view()
def py_delta_load():
    return spark.read.format("delta").load("data/ext_delta").select("id", "score")

@dp.materialized_view()
def py_external():
    return spark.read.table("ext").join(spark.table("silver.ext").select("id"), "id").select("id", "v")
"""


def _external_tables(lake: Lakehouse) -> None:
    """A Delta table at a path outside the lake, and a table in the lake no flow writes."""
    import pyarrow as pa

    from soundlake.lake import delta

    delta.write_table(str(lake.root / "data" / "ext_delta"),
                      pa.table({"id": [1, 2], "score": [1.5, 2.5]}).to_reader(), mode="overwrite")
    delta.write_table(lake.project.lake.uri("main", "silver", "ext"),
                      pa.table({"id": [1, 2], "v": ["x", "y"]}).to_reader(), mode="overwrite")


def path_project(root: Path) -> Lakehouse:
    lake = Lakehouse(root)
    lake.config(libraries=["pipelines"])
    lake.sql(PATH_SQL)
    (lake.root / "pipelines" / "q.py").write_text(textwrap.dedent(PATH_PY), encoding="utf-8")
    lake.parquet("pq", "a.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    lake.text("js", "a.json", '{"id": 1, "tag": "t1"}\n{"id": 2, "tag": "t2"}\n')
    lake.text("cs", "a.csv", "1,a\n2,b\n")
    _external_tables(lake)
    return lake


def test_path_qualified_references_and_external_reads(tmp_path: Path) -> None:
    lake = path_project(tmp_path / "p")
    result = lake.run()
    assert result.ok, result.errors
    assert lake.rows("SELECT * FROM from_paths ORDER BY id") == [
        {"id": 1, "name": "a", "score": 1.5, "tag": "t1", "csv_name": "a"},
        {"id": 2, "name": "b", "score": 2.5, "tag": "t2", "csv_name": "b"},
    ]
    assert lake.rows("SELECT * FROM streamed_delta ORDER BY id") == [{"id": 1, "score": 1.5}, {"id": 2, "score": 2.5}]
    assert lake.rows("SELECT * FROM py_delta_load ORDER BY id") == [{"id": 1, "score": 1.5}, {"id": 2, "score": 2.5}]
    assert lake.rows("SELECT * FROM py_external ORDER BY id") == [{"id": 1, "v": "x"}, {"id": 2, "v": "y"}]


def test_missing_external_table_read_from_python_is_one_line_naming_it(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.config(libraries=["pipelines/*.py"])
    (lake.root / "pipelines" / "q.py").write_text(textwrap.dedent("""
    from pyspark import pipelines as dp

    @dp.materialized_view()
    def reads_missing():
        return spark.read.table("nowhere")
    """), encoding="utf-8")
    with pytest.raises(SoundlakeError, match=r"pipelines/q\.py:4: flow '.*reads_missing' reads 'nowhere', which is "
                       r"neither a dataset of this pipeline nor an existing table \(no Delta table main\.silver\.nowhere"):
        lake.run()


def test_missing_delta_path_fails_the_flow_naming_the_path(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql("CREATE OR REFRESH MATERIALIZED VIEW m AS SELECT * FROM delta.`${data}/none`;")
    result = lake.run()
    assert statuses(result) == {"m": "FAILED"}
    assert "delta.`data/none`: no Delta table at" in str(result.errors["main.silver.m"])


def test_views_over_file_reads_with_and_without_expectations(tmp_path: Path) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.sql("""
    CREATE TEMPORARY VIEW plain AS SELECT * FROM read_files('${data}/in', format => 'parquet');
    CREATE TEMPORARY VIEW checked (CONSTRAINT has_id EXPECT (id IS NOT NULL) ON VIOLATION DROP ROW)
    AS SELECT * FROM read_files('${data}/in', format => 'parquet');
    CREATE OR REFRESH MATERIALIZED VIEW from_plain AS SELECT id, name FROM plain;
    CREATE OR REFRESH MATERIALIZED VIEW from_checked AS SELECT id, name FROM checked;
    """)
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}, {"id": None, "name": "c"}])
    result = lake.run()
    assert result.ok, result.errors
    assert lake.rows("SELECT * FROM from_plain ORDER BY id NULLS LAST") == [
        {"id": 1, "name": "a"}, {"id": None, "name": "c"},
    ]
    assert lake.rows("SELECT * FROM from_checked") == [{"id": 1, "name": "a"}]
    assert _quality(lake, result.run_id, "main.silver.from_checked") == {("main.silver.checked", "has_id"): (1, 1)}


@pytest.mark.parametrize(("file", "text", "message"), [
    ("pipelines/p.sql",
     ("CREATE MATERIALIZED VIEW ok AS SELECT 1 AS x;\n"
     "CREATE STREAMING TABLE ev AS SELECT * FROM STREAM read_kafka(bootstrapServers => 'h:9092', subscribe => 't');"),
     (r"pipelines/p\.sql:2 \(statement 2\): read_kafka\(\.\.\.\) reads Apache Kafka, which soundlake cannot reach "
     r"locally \(hint: land the events as files")),
    ("pipelines/p.sql", "CREATE MATERIALIZED VIEW m AS SELECT * FROM read_kinesis(streamName => 's');",
     r"pipelines/p\.sql:1 \(statement 1\): read_kinesis\(\.\.\.\) reads Amazon Kinesis"),
    ("pipelines/q.py",
     ("import dlt\n\n@dlt.table\ndef ev():\n"
     "    return spark.readStream.format('kafka').option('subscribe', 't').load()\n"),
     r"pipelines/q\.py:5: format\('kafka'\) reads Apache Kafka, which soundlake cannot reach locally"),
])
def test_message_bus_sources_are_refused_at_dry_run_naming_file_and_line(
    tmp_path: Path, file: str, text: str, message: str
) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.config(libraries=["pipelines"])
    (lake.root / file).parent.mkdir(parents=True, exist_ok=True)
    (lake.root / file).write_text(text, encoding="utf-8")
    with pytest.raises(SoundlakeError, match=message):
        lake.run()


# --- sinks (create_sink, foreach_batch_sink) -------------------------------------------------

SINK_SOURCE = """
import dlt

@dlt.table
def events():
    return spark.readStream.format("cloudFiles").option("cloudFiles.format", "parquet").load("data/in")

"""


def _sink_lake(tmp_path: Path, body: str) -> Lakehouse:
    lake = Lakehouse(tmp_path / "p")
    lake.config(libraries=["pipelines"])
    lake.sql(SINK_SOURCE + textwrap.dedent(body), "q.py")
    return lake


def _delta_rows(path: Path) -> list[dict[str, object]]:
    from deltalake import DeltaTable

    return sorted(DeltaTable(str(path)).to_pyarrow_table().to_pylist(), key=lambda r: str(sorted(r.items())))


@pytest.mark.parametrize(("line", "service"), [
    ('dlt.create_sink("bus", "kafka", {"kafka.bootstrap.servers": "h:9092", "topic": "t"})', "Apache Kafka"),
    ('dlt.create_sink(name="hub", format="eventhubs", options={"eventhubs.connectionString": "x"})', "Azure Event Hubs"),
])
def test_kafka_and_eventhubs_sinks_are_refused_at_load_naming_file_and_line(
    tmp_path: Path, line: str, service: str
) -> None:
    lake = Lakehouse(tmp_path / "p")
    lake.config(libraries=["pipelines"])
    lake.sql(f"import dlt\n\n{line}\n", "q.py")
    call = r"create_sink\('(bus|hub)', format='(kafka|eventhubs)'\)"
    with pytest.raises(SoundlakeError, match=rf"pipelines/q\.py:3: {call}: a \w+ sink writes to {service}, which "
                       "soundlake cannot reach locally"):
        lake.run()
    from soundlake.project.pipeline_ops import dry_run

    with pytest.raises(SoundlakeError, match=rf"pipelines/q\.py:3: {call}"):
        dry_run(lake.project)
    assert not (lake.root / "lake" / "main").exists()


def test_a_delta_sink_by_path_appends_each_row_once_across_updates(tmp_path: Path) -> None:
    lake = _sink_lake(tmp_path, """
        dlt.create_sink("out", "delta", {"path": "exports/out"})

        @dlt.append_flow(target="out", name="to_out")
        def to_out():
            return spark.readStream.table("events").select("id", "name")
        """)
    from soundlake.project.pipeline_ops import dry_run

    shown = dry_run(lake.project).graph.render()
    assert "main.silver.out  (sink; delta path " in shown and "<- flow to_out [append, streaming]" in shown
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    first = lake.run()
    assert first.ok, first.errors
    assert first.flows["to_out"].num_output_rows == 2
    lake.parquet("in", "b.parquet", [{"id": 3, "name": "c"}])
    second = lake.run()
    assert second.ok, second.errors
    assert second.flows["to_out"].num_output_rows == 1
    assert lake.run().flows["to_out"].status == "IDLE"
    assert _delta_rows(lake.root / "exports" / "out") == [
        {"id": 1, "name": "a"}, {"id": 2, "name": "b"}, {"id": 3, "name": "c"},
    ]
    # the sink's commits carry the flow's app transaction (pipeline:flow, batch)
    from deltalake import DeltaTable

    assert DeltaTable(str(lake.root / "exports" / "out")).transaction_version("t:to_out") == 2


def test_a_delta_sink_by_table_name_writes_the_lake_table_and_full_refresh_re_appends(tmp_path: Path) -> None:
    lake = _sink_lake(tmp_path, """
        dlt.create_sink(name="out", format="delta", options={"tableName": "exports.events_copy"})

        @dlt.append_flow(target="out")
        def to_out():
            return dlt.read_stream("events").select("id")
        """)
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    assert lake.run().ok
    assert lake.rows("SELECT id FROM main.exports.events_copy ORDER BY id") == [{"id": 1}, {"id": 2}]
    # Databricks does not clear a sink on full refresh: the flow's checkpoint is reset and
    # the source is appended again
    refreshed = lake.run(full_refresh=["out"])
    assert refreshed.ok, refreshed.errors
    assert refreshed.flows["to_out"].num_output_rows == 2
    assert lake.rows("SELECT id FROM main.exports.events_copy ORDER BY id") == [
        {"id": 1}, {"id": 1}, {"id": 2}, {"id": 2},
    ]
    assert lake.run().flows["to_out"].status == "IDLE"
    assert lake.run(full_refresh_all=True).ok  # every dataset: events rebuilt, sink re-appended
    assert lake.rows("SELECT count(*) AS n FROM main.exports.events_copy") == [{"n": 6}]


def test_a_foreach_batch_sink_is_called_once_per_batch_with_its_rows(tmp_path: Path) -> None:
    lake = _sink_lake(tmp_path, """
        import json

        @dlt.foreach_batch_sink(name="feed")
        def feed(df, batch_id):
            rows = sorted((r.asDict() for r in df.collect()), key=lambda r: r["id"])
            with open("calls.jsonl", "a") as out:
                out.write(json.dumps({"batch": batch_id, "count": df.count(), "columns": df.columns, "rows": rows}) + "\\n")

        @dlt.append_flow(target="feed")
        def to_feed():
            return spark.readStream.table("events").select("id", "name")
        """)
    import json
    import os

    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    cwd = os.getcwd()
    os.chdir(lake.root)
    try:
        assert lake.run().ok
        assert lake.run().flows["to_feed"].status == "IDLE"  # nothing new: not called
        lake.parquet("in", "b.parquet", [{"id": 3, "name": "c"}])
        result = lake.run()
    finally:
        os.chdir(cwd)
    assert result.ok, result.errors
    calls = [json.loads(line) for line in (lake.root / "calls.jsonl").read_text().splitlines()]
    assert calls == [
        {"batch": 0, "count": 2, "columns": ["id", "name"], "rows": [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}]},
        {"batch": 1, "count": 1, "columns": ["id", "name"], "rows": [{"id": 3, "name": "c"}]},
    ]
    assert result.flows["to_feed"].num_output_rows == 1


def test_a_failing_foreach_batch_function_fails_the_flow_and_is_called_again(tmp_path: Path) -> None:
    lake = _sink_lake(tmp_path, """
        import os

        @dlt.foreach_batch_sink
        def feed(df, batch_id):
            if os.environ.get("SINK_FAIL"):
                raise RuntimeError("service down")
            os.environ["SINK_SEEN"] = os.environ.get("SINK_SEEN", "") + f"{batch_id}:{df.count()};"

        @dlt.append_flow(target="feed")
        def to_feed():
            return spark.readStream.table("events")
        """)
    import os

    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}])
    os.environ["SINK_FAIL"] = "1"
    try:
        failed = lake.run()
    finally:
        del os.environ["SINK_FAIL"]
    assert not failed.ok
    assert "foreach_batch_sink 'feed' failed in batch 0: RuntimeError: service down" in failed.errors["to_feed"]
    try:
        assert lake.run().ok
        assert os.environ["SINK_SEEN"] == "0:1;"  # the batch was not recorded: called again, once
    finally:
        os.environ.pop("SINK_SEEN", None)


@pytest.mark.parametrize(("body", "message"), [
    ("""
     dlt.create_sink("out", "delta", {"path": "exports/out"})

     @dlt.append_flow(target="out")
     def to_out():
         return spark.readStream.table("events")

     @dlt.table
     def reads_sink():
         return dlt.read("out")
     """, (r"flow 'main\.silver\.reads_sink' reads 'out', a sink \(defined at pipelines/q\.py:\d+\); a sink is "
         "written by append flows and cannot be read")),
    ("""
     dlt.create_sink("out", "delta", {"path": "exports/out"})

     @dlt.append_flow(target="out")
     def to_out():
         return spark.readStream.table("events")

     @dlt.table
     def streams_sink():
         return spark.readStream.table("out")
     """, r"reads 'out', a sink"),
    ("""
     dlt.create_sink("out", "delta", {"path": "exports/out"})

     @dlt.append_flow(target="out")
     @dlt.expect_or_drop("has_id", "id IS NOT NULL")
     def to_out():
         return spark.readStream.table("events")
     """, (r"pipelines/q\.py:\d+: append flow 'to_out' writes sink main\.silver\.out: expectations on a sink are "
         "not supported")),
    ("""
     @dlt.foreach_batch_sink(name="feed")
     @dlt.expect("has_id", "id IS NOT NULL")
     def feed(df, batch_id):
         pass
     """, r"foreach_batch_sink 'feed': expectations on a sink are not supported"),
    ("""
     dlt.create_sink("out", "delta", {"path": "exports/out"})

     @dlt.append_flow(target="out")
     def to_out():
         return spark.read.table("events")
     """, (r"flow 'to_out' writes sink main\.silver\.out .*: the flow reads no stream \(a batch flow\), and a sink "
         "takes only streaming flows")),
    ("""
     dlt.create_sink("out", "delta", {"path": "exports/out"})

     @dlt.append_flow(target="out", once=True)
     def to_out():
         return spark.read.table("events")
     """, r"a once flow is a batch query, and a sink takes only streaming flows"),
    ("""
     dlt.create_sink("out", "delta", {"path": "exports/out", "tableName": "x.y"})
     """, r"pipelines/q\.py:\d+: create_sink\('out', format='delta'\): a delta sink needs one of options"),
    ("""
     dlt.create_sink("out", "delta", {"path": "exports/out", "mergeSchema": "true"})
     """, r"unknown option\(s\) mergeSchema"),
    ("""
     dlt.create_sink("out", "delta", {"path": "exports/out"})
     """, r"sink main\.silver\.out has no flow"),
    ("""
     dlt.create_sink("out", "delta", {"tableName": "events"})

     @dlt.append_flow(target="out")
     def to_out():
         return spark.readStream.table("events")
     """, r"sink main\.silver\.out writes table main\.silver\.events, a dataset of this pipeline"),
])
def test_misused_sinks_fail_before_anything_runs(tmp_path: Path, body: str, message: str) -> None:
    lake = _sink_lake(tmp_path, body)
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}])
    from soundlake.project.pipeline_ops import dry_run

    with pytest.raises(SoundlakeError, match=message):
        dry_run(lake.project)
    with pytest.raises(SoundlakeError, match=message):
        lake.run()
    assert not (lake.root / "exports").exists()


def test_sql_reading_a_sink_fails_clearly(tmp_path: Path) -> None:
    lake = _sink_lake(tmp_path, """
        dlt.create_sink("out", "delta", {"path": "exports/out"})

        @dlt.append_flow(target="out")
        def to_out():
            return spark.readStream.table("events")
        """)
    lake.sql("CREATE OR REFRESH MATERIALIZED VIEW from_sink AS SELECT * FROM out;", "r.sql")
    with pytest.raises(SoundlakeError, match=r"pipelines/r\.sql:1 \(statement 1\): flow 'main\.silver\.from_sink' "
                       r"reads 'out', a sink"):
        lake.run()


def _run_killed(root: Path, fault: str | None) -> int:
    import os
    import subprocess
    import sys

    from tests.conftest import REPO

    env = dict(os.environ)
    env.pop("SOUNDLAKE_FAULT", None)
    if fault:
        env["SOUNDLAKE_FAULT"] = fault
    code = (
        "from soundlake.project.context import Project; from soundlake.project.pipeline_ops import run;"
        f"import sys; sys.exit(0 if run(Project.open({str(root)!r})).ok else 1)"
    )
    return subprocess.run([sys.executable, "-c", code], env=env, cwd=REPO, check=False).returncode


@pytest.mark.parametrize("step", ["after_plan", "after_target_commit", "before_checkpoint", "after_checkpoint"])
def test_a_crash_between_the_sink_commit_and_the_checkpoint_appends_nothing_twice(tmp_path: Path, step: str) -> None:
    lake = _sink_lake(tmp_path, """
        dlt.create_sink("out", "delta", {"path": "exports/out"})

        @dlt.append_flow(target="out", name="to_out")
        def to_out():
            return spark.readStream.table("events").select("id")
        """)
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}, {"id": 2, "name": "b"}])
    assert lake.run().ok
    lake.parquet("in", "b.parquet", [{"id": 3, "name": "c"}])
    assert _run_killed(lake.root, f"{step}:to_out") == 97  # killed while appending batch 2
    lake.parquet("in", "c.parquet", [{"id": 4, "name": "d"}])
    again = lake.run()
    assert again.ok, again.errors
    assert lake.run().flows["to_out"].status == "IDLE"
    assert _delta_rows(lake.root / "exports" / "out") == [{"id": 1}, {"id": 2}, {"id": 3}, {"id": 4}]


def test_a_crash_after_a_foreach_batch_call_calls_it_again_with_the_same_batch(tmp_path: Path) -> None:
    import json

    lake = _sink_lake(tmp_path, """
        import json
        import os

        CALLS = os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "calls.jsonl")

        @dlt.foreach_batch_sink(name="feed")
        def feed(df, batch_id):
            with open(CALLS, "a") as out:
                out.write(json.dumps({"batch": batch_id, "ids": sorted(r.id for r in df.collect())}) + "\\n")

        @dlt.append_flow(target="feed", name="to_feed")
        def to_feed():
            return spark.readStream.table("events")
        """)
    lake.parquet("in", "a.parquet", [{"id": 1, "name": "a"}])
    assert _run_killed(lake.root, "before_checkpoint:to_feed") == 97  # the function returned, then the crash
    assert lake.run().ok
    assert lake.run().flows["to_feed"].status == "IDLE"
    calls = [json.loads(line) for line in (lake.root / "calls.jsonl").read_text().splitlines()]
    assert calls == [{"batch": 0, "ids": [1]}, {"batch": 0, "ids": [1]}]  # at least once, as on Databricks
