"""The SQL front end: every statement form, ${} substitution, and located errors."""

from __future__ import annotations

import pytest

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import AutoCdcFlow, Dataset, QueryFlow
from soundlake.pipeline.sql import parse_sql_text


def parse(text: str, **configuration: str) -> list[object]:
    return parse_sql_text(text, file="p.sql", catalog="cat", schema="sch", configuration=configuration)


def tn(name: str) -> TableName:
    return TableName.parse(name, catalog="cat", schema="sch")


def test_streaming_table_with_columns_constraints_and_options() -> None:
    defs = parse(
        """
        -- leading comment; with a semicolon
        CREATE OR REFRESH STREAMING TABLE users (
          user_id INT NOT NULL COMMENT 'the id',
          name STRING,
          CONSTRAINT id_present EXPECT (user_id IS NOT NULL) ON VIOLATION DROP ROW,
          CONSTRAINT sane EXPECT (name <> 'x;y') ON VIOLATION FAIL UPDATE,
          CONSTRAINT warned EXPECT (length(name) > 1),
          CONSTRAINT q EXPECT (user_id > 0) ON VIOLATION QUARANTINE,
          CONSTRAINT pk PRIMARY KEY (user_id)
        )
        COMMENT 'users; all of them'
        TBLPROPERTIES ('pipelines.reset.allowed' = 'false', quality = 'silver', delta.x = true)
        PARTITIONED BY (name)
        AS SELECT * FROM STREAM read_files('/bronze/users', format => 'parquet')
        """
    )
    dataset, flow = defs
    assert isinstance(dataset, Dataset) and isinstance(flow, QueryFlow)
    assert dataset.name == tn("users") and dataset.kind == "streaming_table"
    assert dataset.location.line == 3 and dataset.location.statement == 1
    assert dataset.comment == "users; all of them"
    assert dataset.table_properties == {
        "pipelines.reset.allowed": "false", "quality": "silver", "delta.x": "true"
    }
    assert not dataset.reset_allowed
    assert dataset.partition_cols == ("name",)
    assert dataset.schema == "user_id INT NOT NULL COMMENT 'the id', name STRING"
    assert [(e.name, e.condition, e.action) for e in dataset.expectations] == [
        ("id_present", "user_id IS NOT NULL", "drop"),
        ("sane", "name <> 'x;y'", "fail"),
        ("warned", "length(name) > 1", "warn"),
        ("q", "user_id > 0", "quarantine"),
    ]
    assert dataset.expectations[0].location.line == 6
    assert flow.name == "cat.sch.users" and flow.target == tn("users")
    assert flow.is_default and flow.streaming and not flow.once
    assert flow.sql == "SELECT * FROM STREAM read_files('/bronze/users', format => 'parquet')"


@pytest.mark.parametrize(
    ("header", "kind"),
    [
        ("CREATE OR REFRESH STREAMING TABLE t", "streaming_table"),
        ("CREATE STREAMING TABLE t", "streaming_table"),
        ("CREATE OR REFRESH STREAMING LIVE TABLE t", "streaming_table"),
        ("CREATE INCREMENTAL LIVE TABLE t", "streaming_table"),
        ("CREATE OR REFRESH MATERIALIZED VIEW t", "materialized_view"),
        ("CREATE MATERIALIZED VIEW t", "materialized_view"),
        ("CREATE OR REFRESH LIVE TABLE t", "materialized_view"),
        ("create live table t", "materialized_view"),
        ("CREATE TEMPORARY VIEW t", "temporary_view"),
        ("CREATE TEMPORARY LIVE VIEW t", "temporary_view"),
        ("CREATE LIVE VIEW t", "temporary_view"),
        ("CREATE TEMPORARY STREAMING LIVE VIEW t", "temporary_view"),
    ],
)
def test_dataset_kinds(header: str, kind: str) -> None:
    source = "STREAM(src)" if kind == "streaming_table" else "src"
    dataset, flow = parse(f"{header} AS SELECT * FROM {source}")
    assert isinstance(dataset, Dataset) and dataset.kind == kind
    assert isinstance(flow, QueryFlow) and flow.target == tn("t")


def test_streaming_table_without_query_is_a_target_only() -> None:
    (dataset,) = parse("CREATE OR REFRESH STREAMING TABLE live.dim COMMENT 'd' CLUSTER BY (id)")
    assert isinstance(dataset, Dataset)
    assert dataset.name == tn("dim") and dataset.cluster_by == ("id",) and dataset.comment == "d"


def test_materialized_view_needs_a_query() -> None:
    with pytest.raises(DefinitionError, match=r"p\.sql:1 \(statement 1\): materialized view .* needs 'AS query'"):
        parse("CREATE MATERIALIZED VIEW m")


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE FLOW f AS INSERT INTO ONCE t BY NAME SELECT * FROM src",
        "CREATE FLOW f ONCE AS INSERT INTO t BY NAME SELECT * FROM src",
        "CREATE FLOW f COMMENT 'backfill' AS INSERT INTO ONCE t SELECT * FROM src",
    ],
)
def test_append_flow_once(statement: str) -> None:
    (flow,) = parse(statement)
    assert isinstance(flow, QueryFlow)
    assert flow.name == "f" and flow.target == tn("t") and flow.once and not flow.is_default
    assert not flow.streaming and flow.sql == "SELECT * FROM src"


def test_append_flow_streaming() -> None:
    (flow,) = parse("CREATE FLOW eu AS INSERT INTO live.events BY NAME SELECT * FROM STREAM(eu_src)")
    assert isinstance(flow, QueryFlow)
    assert flow.streaming and not flow.once and flow.target == tn("events")


def test_auto_cdc_flow_every_clause() -> None:
    (flow,) = parse(
        """CREATE FLOW users_cdc AS AUTO CDC INTO target
        FROM STREAM(cdc_data.users)
        KEYS (userId, region)
        IGNORE NULL UPDATES
        APPLY AS DELETE WHEN operation = 'DELETE'
        SEQUENCE BY struct(sequenceNum, sub_seq)
        COLUMNS * EXCEPT (operation, sequenceNum)
        STORED AS SCD TYPE 2
        TRACK HISTORY ON * EXCEPT (city)"""
    )
    assert isinstance(flow, AutoCdcFlow)
    assert flow.name == "users_cdc" and flow.target == tn("target")
    assert flow.source == TableName("cat", "cdc_data", "users") and flow.source_is_stream
    assert flow.keys == ("userId", "region")
    assert flow.ignore_null_updates
    assert flow.apply_as_deletes == "operation = 'DELETE'"
    assert flow.sequence_by == ("sequenceNum", "sub_seq")
    assert flow.except_column_list == ("operation", "sequenceNum") and flow.column_list is None
    assert flow.stored_as_scd_type == 2
    assert flow.track_history_except_column_list == ("city",)
    assert not flow.once


def test_auto_cdc_scd1_with_truncate_columns_and_once() -> None:
    (flow,) = parse(
        "CREATE FLOW f AS AUTO CDC ONCE INTO t FROM src KEYS (id) "
        "APPLY AS TRUNCATE WHEN op = 'TRUNCATE' SEQUENCE BY ts COLUMNS id, name STORED AS SCD TYPE 1"
    )
    assert isinstance(flow, AutoCdcFlow)
    assert flow.once and not flow.source_is_stream
    assert flow.apply_as_truncates == "op = 'TRUNCATE'" and flow.sequence_by == ("ts",)
    assert flow.column_list == ("id", "name") and flow.stored_as_scd_type == 1


def test_auto_cdc_track_history_columns() -> None:
    (flow,) = parse(
        "CREATE FLOW f AS AUTO CDC INTO t FROM STREAM src KEYS (id) SEQUENCE BY ts "
        "STORED AS SCD TYPE 2 TRACK HISTORY ON (name, city)"
    )
    assert isinstance(flow, AutoCdcFlow)
    assert flow.track_history_column_list == ("name", "city") and flow.source_is_stream


def test_legacy_apply_changes_is_named_after_target() -> None:
    (flow,) = parse(
        "APPLY CHANGES INTO LIVE.target FROM STREAM(LIVE.src) KEYS (id) "
        "APPLY AS DELETE WHEN op = 'D' SEQUENCE BY seq COLUMNS * EXCEPT (op) STORED AS SCD TYPE 2"
    )
    assert isinstance(flow, AutoCdcFlow)
    assert flow.name == "cat.sch.target" and flow.source == tn("src")
    assert flow.apply_as_deletes == "op = 'D'" and flow.except_column_list == ("op",)


@pytest.mark.parametrize(
    ("statement", "message"),
    [
        ("CREATE FLOW f AS AUTO CDC INTO t FROM STREAM(s) SEQUENCE BY ts", "needs KEYS"),
        ("CREATE FLOW f AS AUTO CDC INTO t FROM STREAM(s) KEYS (id)", "needs SEQUENCE BY"),
        (
            (
                "CREATE FLOW f AS AUTO CDC INTO t FROM STREAM(s) KEYS (id) SEQUENCE BY ts "
                "APPLY AS TRUNCATE WHEN x STORED AS SCD TYPE 2"
            ),
            "only allowed with SCD TYPE 1",
        ),
        (
            "CREATE FLOW f AS AUTO CDC INTO t FROM STREAM(s) KEYS (id) SEQUENCE BY ts TRACK HISTORY ON (a)",
            "needs STORED AS SCD TYPE 2",
        ),
        ("CREATE FLOW f AS AUTO CDC INTO t FROM STREAM(s) KEYS (id) SEQUENCE BY ts STORED AS SCD TYPE 3", "1 or 2"),
        ("CREATE FLOW f AS AUTO CDC INTO t FROM STREAM(s) KEYS (id) SEQUENCE BY ts BOGUS", "unexpected 'BOGUS'"),
        ("CREATE FLOW f AS AUTO CDC INTO t FROM STREAM(s) KEYS (id) SEQUENCE BY ts KEYS (x) BOGUS", "unexpected 'BOGUS'"),
    ],
)
def test_auto_cdc_errors(statement: str, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as info:
        parse(statement)
    assert "p.sql:1 (statement 1)" in str(info.value)


def test_substitution_from_configuration_also_in_strings() -> None:
    _, flow = parse(
        "CREATE STREAMING TABLE t AS SELECT * FROM STREAM read_files('${bronze}/T', format => '${fmt}')",
        bronze="/lake/bronze",
        fmt="json",
    )
    assert isinstance(flow, QueryFlow)
    assert flow.sql == "SELECT * FROM STREAM read_files('/lake/bronze/T', format => 'json')"


def test_unknown_substitution_names_file_line_and_key() -> None:
    text = "CREATE MATERIALIZED VIEW a AS SELECT 1 AS x;\n\nCREATE MATERIALIZED VIEW b AS\nSELECT * FROM ${missing}"
    with pytest.raises(DefinitionError, match=r"p\.sql:4 \(statement 2\): unknown configuration key '\$\{missing\}'"):
        parse(text, other="1")


def test_substitution_in_comment_is_ignored() -> None:
    (dataset, _flow) = parse("-- uses ${not_defined}\nCREATE MATERIALIZED VIEW a AS SELECT 1 AS x")
    assert isinstance(dataset, Dataset) and dataset.location.line == 2


def test_statement_numbers_and_lines() -> None:
    text = (
        "/* header\n   comment; with semicolon */\n"
        "CREATE MATERIALIZED VIEW a AS SELECT ';' AS x;\n"
        "CREATE MATERIALIZED VIEW b AS SELECT \"--\" AS y;  -- trailing\n"
        "\n"
        "CREATE MATERIALIZED VIEW `c` AS SELECT 1 AS z;;\n"
    )
    datasets = [d for d in parse(text) if isinstance(d, Dataset)]
    assert [(d.name.name, d.location.line, d.location.statement) for d in datasets] == [
        ("a", 3, 1), ("b", 4, 2), ("c", 6, 3)
    ]


@pytest.mark.parametrize(
    ("text", "line", "message"),
    [
        ("CREATE MATERIALIZED VIEW a AS SELECT 1 AS x;\nCREATE MATERIALIZED VIEW b AS\nSELECT * FROM WHERE",
         3, "syntax error in query"),
        ("CREATE MATERIALIZED VIEW (x) AS SELECT 1", 1, "expected a name"),
        ("DROP TABLE x", 1, "unsupported statement starting with 'DROP'"),
        ("\n  TRUNCATE TABLE x", 2, "unsupported statement starting with 'TRUNCATE'"),
        ("CREATE MATERIALIZED VIEW m LOCATION '/x' AS SELECT 1", 1, "unsupported or misplaced clause"),
        ("CREATE MATERIALIZED VIEW m AS DELETE FROM x", 1, "expected a query"),
        ("CREATE STREAMING TABLE s (\n  CONSTRAINT c EXPECT (a >) ON VIOLATION DROP ROW\n) AS SELECT 1", 2,
         "invalid expectation 'c'"),
        ("CREATE STREAMING TABLE s (\n  CONSTRAINT c EXPECT (a > 1) ON VIOLATION EXPLODE\n) AS SELECT 1", 2,
         "expected DROP ROW, FAIL UPDATE or QUARANTINE"),
        ("CREATE STREAMING TABLE s (CONSTRAINT c EXPECT (a IN (SELECT 1))) AS SELECT 1", 1, "subquery"),
        ("CREATE MATERIALIZED VIEW a.b.c.d AS SELECT 1", 1, "not a valid table name"),
        ("CREATE MATERIALIZED VIEW m AS SELECT * FROM STREAM((SELECT 1))", 1, "STREAM"),
        ("CREATE PRIVATE VIEW t AS SELECT 1", 1, "PRIVATE applies to tables and materialized views"),
        ("CREATE MATERIALIZED VIEW m AS SELECT * FROM read_files(format => 'csv')", 1, "needs a path"),
        ("CREATE MATERIALIZED VIEW m\nWITH ROW FILTER f ON (id) AS SELECT 1 AS id", 2,
         "WITH ROW FILTER is a Unity Catalog row filter, which soundlake does not enforce locally"),
        ("CREATE MATERIALIZED VIEW m SCHEDULE EVERY 1 HOUR AS SELECT 1 AS id", 1,
         "SCHEDULE is Databricks SQL's refresh schedule for tables outside pipelines"),
    ],
)
def test_errors_name_file_line_and_statement(text: str, line: int, message: str) -> None:
    with pytest.raises(DefinitionError, match=message) as info:
        parse(text)
    assert f"p.sql:{line} (statement" in str(info.value)


def test_unterminated_string_is_located() -> None:
    with pytest.raises(DefinitionError, match=r"p\.sql:2: unterminated string"):
        parse("CREATE MATERIALIZED VIEW a AS SELECT 1 AS x;\nCREATE MATERIALIZED VIEW b AS SELECT 'oops")


def test_unterminated_block_comment_is_located() -> None:
    with pytest.raises(DefinitionError, match=r"p\.sql:1: unterminated /\* comment"):
        parse("/* never closed\nCREATE MATERIALIZED VIEW a AS SELECT 1")


def test_empty_file_gives_nothing() -> None:
    assert parse("  -- only a comment\n;;\n") == []


USE_FILE = """CREATE MATERIALIZED VIEW a AS SELECT 1 AS x;
USE CATALOG cat;
CREATE MATERIALIZED VIEW b AS SELECT a.x FROM a JOIN s2.t ON true JOIN `c`.s.t3 ON true;
USE SCHEMA silver;
CREATE STREAMING TABLE c AS WITH w AS (SELECT * FROM STREAM(b)) SELECT * FROM w JOIN LIVE.a ON true;
USE main.gold;
CREATE FLOW f AS INSERT INTO c BY NAME SELECT * FROM STREAM(d);
USE DATABASE corpus;
USE bronze;
CREATE MATERIALIZED VIEW e AS SELECT * FROM delta.`/p` JOIN parquet.`/q` ON true JOIN corpus.a ON true;
"""


def test_use_sets_the_catalog_and_schema_of_the_statements_after_it() -> None:
    found = parse_sql_text(USE_FILE, file="u.sql", catalog="main", schema="corpus")
    datasets = [str(d.name) for d in found if isinstance(d, Dataset)]
    # USE CATALOG resets the schema to `default`, as on Databricks
    assert datasets == ["main.corpus.a", "cat.default.b", "cat.silver.c", "main.bronze.e"]
    sql = {f.name: f.sql for f in found if isinstance(f, QueryFlow)}
    assert sql["main.corpus.a"] == "SELECT 1 AS x"
    assert sql["cat.default.b"] == (
        "SELECT a.x FROM `cat`.`default`.a JOIN `cat`.s2.t ON true JOIN `c`.s.t3 ON true"
    )
    # a CTE name and LIVE.x stay as written
    assert sql["cat.silver.c"] == "WITH w AS (SELECT * FROM STREAM(`cat`.`silver`.b)) SELECT * FROM w JOIN LIVE.a ON true"
    flow = next(f for f in found if isinstance(f, QueryFlow) and f.name == "f")
    assert flow.target == TableName("main", "gold", "c") and flow.sql == "SELECT * FROM STREAM(`main`.`gold`.d)"
    # path references are not table names
    assert sql["main.bronze.e"] == "SELECT * FROM delta.`/p` JOIN parquet.`/q` ON true JOIN `main`.corpus.a ON true"


@pytest.mark.parametrize("statement", ["USE CATALOG a.b", "USE SCHEMA a.b.c", "USE 'x'"])
def test_an_invalid_use_names_file_and_line(statement: str) -> None:
    with pytest.raises(DefinitionError, match=r"^u\.sql:2 \(statement 2\): USE .*not a valid name"):
        parse_sql_text(f"CREATE MATERIALIZED VIEW a AS SELECT 1 AS x;\n{statement};\n", file="u.sql", catalog="m", schema="s")
