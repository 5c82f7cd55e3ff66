"""Query analysis and binding: inputs found, placeholders bound, queries run on DuckDB."""

from __future__ import annotations

import duckdb
import pyarrow as pa
import pytest

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql import FlowInput, analyze_query, bind_query, transpile_expression

LOC = SourceLocation("q.sql", 10, 2)


def analyze(sql: str) -> tuple[FlowInput, ...]:
    return analyze_query(sql, catalog="cat", schema="sch", location=LOC)


def bind(sql: str, dialect: str = "duckdb") -> str:
    return bind_query(sql, analyze(sql), catalog="cat", schema="sch", dialect=dialect)


def test_table_and_stream_inputs_resolve_names() -> None:
    inputs = analyze("SELECT u.a, x.b FROM STREAM(LIVE.users) u JOIN other.dims x ON u.id = x.id")
    assert [(i.kind, i.streaming, i.table, i.placeholder, i.written) for i in inputs] == [
        ("table", True, TableName("cat", "sch", "users"), "__sl_in_0", "LIVE.users"),
        ("table", False, TableName("cat", "other", "dims"), "__sl_in_1", "other.dims"),
    ]


@pytest.mark.parametrize(
    "source",
    ["STREAM(t)", "STREAM t", "STREAM(live.t)", "STREAM(cat.sch.t)", "STREAM(`cat`.`sch`.`t`)"],
)
def test_stream_spellings(source: str) -> None:
    (item,) = analyze(f"SELECT * FROM {source}")
    assert item.streaming and item.table == TableName("cat", "sch", "t")


def test_read_files_stream_and_batch_with_options() -> None:
    inputs = analyze(
        "SELECT * FROM STREAM read_files('/b/users', format => 'parquet', "
        "schemaHints => 'id BIGINT', schemaEvolutionMode => 'rescue', inferColumnTypes => true) "
        "UNION ALL SELECT * FROM read_files('/b/more', format => 'csv', header => 'true')"
    )
    assert [(i.kind, i.streaming, i.path, dict(i.options)) for i in inputs] == [
        ("files", True, "/b/users", {
            "format": "parquet", "schemaHints": "id BIGINT", "schemaEvolutionMode": "rescue",
            "inferColumnTypes": "true",
        }),
        ("files", False, "/b/more", {"format": "csv", "header": "true"}),
    ]


def test_stream_of_read_files_in_parentheses() -> None:
    (item,) = analyze("SELECT * FROM STREAM(read_files('/p', format => 'json'))")
    assert item.kind == "files" and item.streaming and item.options == {"format": "json"}


def test_legacy_cloud_files() -> None:
    (item,) = analyze("SELECT * FROM STREAM(cloud_files('/p', 'json', map('cloudFiles.inferColumnTypes', 'true')))")
    assert item.kind == "files" and item.streaming and item.path == "/p"
    assert item.options == {"format": "json", "cloudFiles.inferColumnTypes": "true"}


def test_ctes_and_table_functions_are_not_inputs_and_repeats_share_a_placeholder() -> None:
    inputs = analyze(
        "WITH c AS (SELECT * FROM t) SELECT * FROM c JOIN t AS t2 ON c.a = t2.a "
        "JOIN range(3) r ON true WHERE c.a IN (SELECT a FROM t)"
    )
    assert [(i.table, i.placeholder) for i in inputs] == [(TableName("cat", "sch", "t"), "__sl_in_0")]


def test_stream_and_batch_reads_of_one_table_are_two_inputs() -> None:
    inputs = analyze("SELECT * FROM STREAM(t) s JOIN t b ON s.id = b.id")
    assert [(i.streaming, i.placeholder) for i in inputs] == [(True, "__sl_in_0"), (False, "__sl_in_1")]


def test_bind_keeps_aliases_and_adds_the_written_name() -> None:
    sql = bind("SELECT t.a, o.b FROM STREAM(live.t) JOIN x.y.other o ON t.id = o.id")
    assert sql == "SELECT t.a, o.b FROM __sl_in_0 AS t JOIN __sl_in_1 AS o ON t.id = o.id"


def test_bind_to_spark_keeps_spark_functions() -> None:
    sql = bind("SELECT date_format(ts, 'yyyy-MM') AS m FROM STREAM read_files('/p', format => 'parquet')", "spark")
    assert sql == "SELECT DATE_FORMAT(ts, 'yyyy-MM') AS m FROM __sl_in_0"


def test_bound_query_runs_on_duckdb_with_placeholders_registered() -> None:
    sql = (
        "WITH latest AS (SELECT * FROM STREAM(live.users) "
        "QUALIFY row_number() OVER (PARTITION BY id ORDER BY ts DESC) = 1) "
        "SELECT l.id, upper(l.name) AS name, c.country, date_format(l.ts, 'yyyyMMdd') AS d "
        "FROM latest l LEFT JOIN ref.countries c ON l.id = c.id ORDER BY l.id"
    )
    inputs = analyze(sql)
    bound = bind_query(sql, inputs, catalog="cat", schema="sch", dialect="duckdb")
    con = duckdb.connect()
    users = pa.table({
        "id": [1, 1, 2],
        "name": ["a", "b", "c"],
        "ts": pa.array([1_700_000_000, 1_800_000_000, 1_700_000_000], pa.timestamp("s")),
    })
    countries = pa.table({"id": [1], "country": ["SE"]})
    con.register(inputs[0].placeholder, users)
    con.register(inputs[1].placeholder, countries)
    rows = con.execute(bound).fetchall()
    assert rows == [(1, "B", "SE", "20270115"), (2, "C", None, "20231114")]


def test_bind_rejects_reads_not_among_inputs() -> None:
    with pytest.raises(DefinitionError, match="not among its bound inputs"):
        bind_query("SELECT * FROM a JOIN b ON true", analyze("SELECT * FROM a"),
                   catalog="cat", schema="sch", dialect="duckdb")


def test_syntax_error_is_located_at_the_query_line() -> None:
    with pytest.raises(DefinitionError, match=r"q\.sql:11 \(statement 2\): syntax error in query"):
        analyze("SELECT a\nFROM WHERE")


def test_non_query_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="expected a query"):
        analyze("INSERT INTO t SELECT 1")


def test_unknown_dialect_is_rejected() -> None:
    with pytest.raises(DefinitionError, match="unsupported SQL dialect"):
        bind_query("SELECT 1", (), catalog="c", schema="s", dialect="oracle")


@pytest.mark.parametrize(
    ("expr", "duck"),
    [
        ("user_id IS NOT NULL", "NOT user_id IS NULL"),
        ("operation = 'DELETE'", "operation = 'DELETE'"),
        ("date_key = CAST(date_format(ts, 'yyyyMMdd') AS INT)",
         "date_key = CAST(STRFTIME(CAST(ts AS TIMESTAMP), '%Y%m%d') AS INT)"),
    ],
)
def test_transpile_expression(expr: str, duck: str) -> None:
    assert transpile_expression(expr, dialect="duckdb") == duck


def test_transpile_expression_error() -> None:
    with pytest.raises(DefinitionError, match="invalid SQL expression"):
        transpile_expression("a >", dialect="duckdb")


def test_unaliased_expressions_get_sparks_column_names() -> None:
    from soundlake.pipeline.definitions import SourceLocation
    from soundlake.pipeline.sql.query import analyze_query, bind_query

    sql = "SELECT count(*), sum(x) AS s, upper(n), x + 1, round(y), x FROM t"
    inputs = analyze_query(sql, catalog="c", schema="s", location=SourceLocation("<test>"))
    bound = bind_query(sql, inputs, catalog="c", schema="s", dialect="duckdb")
    assert '"count(1)"' in bound and '"upper(n)"' in bound and '"(x + 1)"' in bound and '"round(y, 0)"' in bound
    spark = bind_query(sql, inputs, catalog="c", schema="s", dialect="spark")
    assert "AS s" in bound and "count(1)" not in spark  # Spark names them itself
