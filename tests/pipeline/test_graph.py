"""Graph building and validation: order, dependencies, and every rejected shape."""

from __future__ import annotations

import pytest

from soundlake.catalog.names import TableName
from soundlake.core.errors import GraphError
from soundlake.pipeline.definitions import (
    AutoCdcFlow,
    Dataset,
    Expectation,
    Registry,
    SnapshotCdcFlow,
    SourceLocation,
)
from soundlake.pipeline.graph import Graph, build_graph
from soundlake.pipeline.sql import parse_sql_text


def registry(*files: str) -> Registry:
    reg = Registry(catalog="cat", schema="sch")
    for number, text in enumerate(files, start=1):
        for item in parse_sql_text(text, file=f"f{number}.sql", catalog="cat", schema="sch"):
            if isinstance(item, Dataset):
                reg.add_dataset(item)
            else:
                reg.add_flow(item)
    return reg


def graph(*files: str) -> Graph:
    return build_graph(registry(*files))


def tn(name: str) -> TableName:
    return TableName.parse(name, catalog="cat", schema="sch")


CHAIN = """
CREATE OR REFRESH MATERIALIZED VIEW report AS SELECT country, count(*) AS n FROM clean GROUP BY country;
CREATE OR REFRESH STREAMING TABLE clean AS SELECT * FROM STREAM(raw) WHERE id IS NOT NULL;
CREATE OR REFRESH STREAMING TABLE raw AS SELECT * FROM STREAM read_files('/b/raw', format => 'json');
CREATE OR REFRESH STREAMING TABLE dim;
CREATE FLOW dim_cdc AS AUTO CDC INTO dim FROM STREAM(clean) KEYS (id) SEQUENCE BY ts STORED AS SCD TYPE 2;
CREATE FLOW backfill AS INSERT INTO ONCE raw BY NAME SELECT * FROM read_files('/b/old', format => 'json');
"""


def test_order_follows_dependencies_and_keeps_definition_order_on_ties() -> None:
    g = graph(CHAIN)
    assert g.order == ("cat.sch.raw", "backfill", "cat.sch.clean", "cat.sch.report", "dim_cdc")
    assert g.flows_into(tn("raw")) == ["cat.sch.raw", "backfill"]
    assert g.flows["dim_cdc"].inputs[0].table == tn("clean")
    assert g.flows["dim_cdc"].inputs[0].streaming


def test_downstream_upstream_and_readers() -> None:
    g = graph(CHAIN)
    assert g.downstream_of("cat.sch.raw") == {"cat.sch.clean", "cat.sch.report", "dim_cdc"}
    assert g.downstream_of("backfill") == {"cat.sch.clean", "cat.sch.report", "dim_cdc"}
    assert g.downstream_of("cat.sch.report") == set()
    assert g.upstream_flows("dim_cdc") == {"cat.sch.clean", "cat.sch.raw", "backfill"}
    assert g.upstream_datasets(tn("report")) == {tn("clean"), tn("raw")}
    assert g.downstream_datasets(tn("raw")) == {tn("clean"), tn("report"), tn("dim")}
    assert g.readers_of(tn("clean")) == ["cat.sch.report", "dim_cdc"]
    assert g.dataset_order()[0] == tn("raw")


def test_render_lists_datasets_flows_and_inputs() -> None:
    text = graph(CHAIN + "CREATE MATERIALIZED VIEW ext AS SELECT * FROM other.outside;").render()
    assert text.splitlines()[0] == "pipeline graph: 5 datasets, 6 flows"
    assert "cat.sch.dim  (streaming table)" in text
    assert "  <- flow dim_cdc [auto cdc, scd type 2]" in text
    assert "  <- flow backfill [append, batch, once]" in text
    assert "reads STREAM(read_files('/b/raw', format => 'json'))" in text
    assert "reads cat.other.outside  [external]" in text


def test_external_tables_need_a_qualified_name() -> None:
    g = graph("CREATE MATERIALIZED VIEW m AS SELECT * FROM other.outside JOIN c2.s2.t2 USING (id)")
    assert g.external == {TableName("cat", "other", "outside"), TableName("c2", "s2", "t2")}


@pytest.mark.parametrize("name", ["missing", "LIVE.missing", "live.missing"])
def test_unknown_one_part_or_live_name_is_an_error(name: str) -> None:
    with pytest.raises(GraphError, match=rf"f1\.sql:1 \(statement 1\): flow 'cat.sch.m' reads '{name}'"):
        graph(f"CREATE MATERIALIZED VIEW m AS SELECT * FROM {name}")


def test_unknown_auto_cdc_source_in_default_schema_is_an_error() -> None:
    with pytest.raises(GraphError, match="reads 'cat.sch.nothing'"):
        graph("CREATE STREAMING TABLE d; CREATE FLOW f AS AUTO CDC INTO d FROM STREAM(nothing) KEYS (k) SEQUENCE BY s")


def test_cycle_is_named() -> None:
    with pytest.raises(GraphError, match=r"cycle: cat\.sch\.a -> cat\.sch\.b -> cat\.sch\.a") as info:
        graph(
            "CREATE MATERIALIZED VIEW a AS SELECT * FROM b;\n"
            "CREATE MATERIALIZED VIEW b AS SELECT * FROM a;\n"
            "CREATE MATERIALIZED VIEW c AS SELECT * FROM a;"
        )
    assert "f1.sql:1" in str(info.value) and "f1.sql:2" in str(info.value)


def test_self_read_is_a_cycle() -> None:
    with pytest.raises(GraphError, match=r"cycle: cat\.sch\.s -> cat\.sch\.s"):
        graph("CREATE STREAMING TABLE s AS SELECT * FROM STREAM(s)")


def test_longer_cycle_through_a_flow() -> None:
    with pytest.raises(GraphError, match="cycle") as info:
        graph(
            "CREATE STREAMING TABLE x AS SELECT * FROM STREAM(z);"
            "CREATE STREAMING TABLE y AS SELECT * FROM STREAM(x);"
            "CREATE STREAMING TABLE z;"
            "CREATE FLOW zf AS INSERT INTO z BY NAME SELECT * FROM STREAM(y);"
        )
    message = str(info.value)
    assert all(t in message for t in ("cat.sch.x", "cat.sch.y", "cat.sch.z"))


def test_batch_query_into_streaming_table_is_an_error() -> None:
    with pytest.raises(GraphError, match=r"f1\.sql:2 .*streaming table cat\.sch\.s reads no streaming input"):
        graph("CREATE MATERIALIZED VIEW m AS SELECT 1 AS x;\nCREATE STREAMING TABLE s AS SELECT * FROM m")


def test_batch_append_flow_into_streaming_table_needs_once() -> None:
    with pytest.raises(GraphError, match="reads no streaming input"):
        graph("CREATE STREAMING TABLE s; CREATE FLOW f AS INSERT INTO s BY NAME SELECT * FROM read_files('/x')")


def test_stream_into_materialized_view_is_an_error() -> None:
    with pytest.raises(GraphError, match=r"materialized view cat\.sch\.m reads a stream \(STREAM\(cat\.sch\.s\)\)"):
        graph(
            "CREATE STREAMING TABLE s AS SELECT * FROM STREAM read_files('/x', format => 'csv');"
            "CREATE MATERIALIZED VIEW m AS SELECT * FROM STREAM(s)"
        )


def test_duplicate_dataset_names_both_locations() -> None:
    with pytest.raises(GraphError, match=r"dataset cat\.sch\.m is defined twice: at f1\.sql:1 \(statement 1\) and at f2\.sql:2"):
        graph("CREATE MATERIALIZED VIEW m AS SELECT 1 AS x", "\nCREATE MATERIALIZED VIEW sch.m AS SELECT 2 AS x")


def test_duplicate_flow_names_both_locations() -> None:
    with pytest.raises(GraphError, match=r"flow 'f' is defined twice: at f1\.sql:1 .* and at f1\.sql:1"):
        graph(
            "CREATE STREAMING TABLE s; "
            "CREATE FLOW f AS INSERT INTO s BY NAME SELECT * FROM STREAM(read_files('/a'));"
            "CREATE FLOW f AS INSERT INTO s BY NAME SELECT * FROM STREAM(read_files('/b'))"
        )


def test_flow_into_undefined_target() -> None:
    with pytest.raises(GraphError, match=r"flow 'f' writes cat\.sch\.nowhere, which the pipeline does not define"):
        graph("CREATE FLOW f AS INSERT INTO nowhere BY NAME SELECT * FROM STREAM(read_files('/a'))")


def test_auto_cdc_into_materialized_view() -> None:
    with pytest.raises(GraphError, match="AUTO CDC flow 'f' writes cat.sch.m, a materialized view"):
        graph(
            "CREATE STREAMING TABLE s AS SELECT * FROM STREAM(read_files('/a'));"
            "CREATE MATERIALIZED VIEW m AS SELECT 1 AS x;"
            "CREATE FLOW f AS AUTO CDC INTO m FROM STREAM(s) KEYS (k) SEQUENCE BY q"
        )


def test_append_flow_into_materialized_view() -> None:
    with pytest.raises(GraphError, match="append flow 'f' writes cat.sch.m, a materialized view"):
        graph(
            "CREATE MATERIALIZED VIEW m AS SELECT 1 AS x;"
            "CREATE FLOW f AS INSERT INTO m BY NAME SELECT * FROM STREAM(read_files('/a'))"
        )


def test_streaming_table_without_flows() -> None:
    with pytest.raises(GraphError, match=r"f1\.sql:1 \(statement 1\): streaming table cat\.sch\.lonely has no flow"):
        graph("CREATE STREAMING TABLE lonely")


def test_duplicate_expectation_names() -> None:
    loc = SourceLocation("x.py", 3)
    reg = Registry(catalog="cat", schema="sch")
    rule = Expectation("r", "a > 0", "warn", loc)
    reg.add_dataset(Dataset(tn("t"), "materialized_view", loc, expectations=(rule, rule)))
    with pytest.raises(GraphError, match="expectation 'r' is defined twice on cat.sch.t"):
        build_graph(reg)


def test_snapshot_flow_and_python_function_flows() -> None:
    loc = SourceLocation("x.py", 3)
    reg = registry("CREATE MATERIALIZED VIEW snap AS SELECT 1 AS id; CREATE STREAMING TABLE d;")
    reg.add_flow(SnapshotCdcFlow(name="d_snap", target=tn("d"), keys=("id",), location=loc, source=tn("snap")))
    g = build_graph(reg)
    assert g.order == ("cat.sch.snap", "d_snap")
    assert g.flows["d_snap"].reads == (tn("snap"),)
    assert "auto cdc from snapshot" in g.render()


def test_auto_cdc_target_of_wrong_kind_for_snapshot_flow() -> None:
    loc = SourceLocation("x.py", 3)
    reg = registry("CREATE MATERIALIZED VIEW snap AS SELECT 1 AS id;")
    reg.add_flow(SnapshotCdcFlow(name="s", target=tn("snap"), keys=("id",), location=loc, source=None))
    with pytest.raises(GraphError, match="its target must be a streaming table"):
        build_graph(reg)


def test_external_auto_cdc_source_in_another_schema_is_allowed() -> None:
    g = graph("CREATE STREAMING TABLE d; APPLY CHANGES INTO d FROM STREAM(raw.changes) KEYS (k) SEQUENCE BY s")
    assert g.external == {TableName("cat", "raw", "changes")}
    assert isinstance(g.flows["cat.sch.d"].flow, AutoCdcFlow)


def test_streaming_from_a_materialized_view_is_an_error() -> None:
    with pytest.raises(GraphError, match=r"streams from materialized view cat\.sch\.m \(defined at f1\.sql:1"):
        graph("CREATE MATERIALIZED VIEW m AS SELECT 1 AS x;\nCREATE STREAMING TABLE s AS SELECT * FROM STREAM(m)")


def test_unknown_name_suggests_a_close_dataset() -> None:
    with pytest.raises(GraphError, match=r"did you mean cat\.sch\.users\?"):
        graph("CREATE MATERIALIZED VIEW users AS SELECT 1 AS x;\nCREATE MATERIALIZED VIEW m AS SELECT * FROM userz")
