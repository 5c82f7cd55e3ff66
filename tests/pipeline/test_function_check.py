"""Dry-run refusal of functions the DuckDB engine does not compute like Spark."""

from __future__ import annotations

import textwrap
from pathlib import Path

import pytest

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql.functions import calls, check_sql, registry
from tests.pipeline.conftest import Lakehouse

HERE = SourceLocation("pipelines/gold.sql", 10, 2)


def _status(status: str) -> str:
    return next(name for name, entry in sorted(registry().items()) if entry.status == status and name.isidentifier())


def test_calls_are_found_with_their_lines() -> None:
    sql = "SELECT upper(s),\n  CAST(x AS DECIMAL(10, 2)), left(s, 2)\nFROM t WHERE x IN (1, 2) AND EXISTS (SELECT 1)"
    found = [(c.name, c.line) for c in calls(sql)]
    assert found == [("upper", 1), ("cast", 2), ("left", 2)]


def test_platform_function_is_refused_naming_file_and_line() -> None:
    with pytest.raises(DefinitionError) as err:
        check_sql("SELECT id,\n  ai_query('model', text) AS answer FROM t", HERE, what="flow 'gold'")
    message = str(err.value)
    assert "pipelines/gold.sql:11 (statement 2)" in message
    assert "ai_query() is a Databricks platform function" in message
    assert "deployed to Databricks (soundlake bundle)" in message and "--engine spark" not in message


def test_engines_that_run_spark_refuse_only_platform_functions() -> None:
    check_sql("SELECT date_format(ts, 'dd/MM/yy ''at'' HH') AS d FROM t", HERE, platform_only=True)
    with pytest.raises(DefinitionError, match=r"event_log\(\) is a Databricks platform function"):
        check_sql("SELECT * FROM event_log(TABLE(c.s.t))", HERE, platform_only=True)


def test_refused_function_names_the_function_and_suggests_spark() -> None:
    name = _status("refused")
    with pytest.raises(DefinitionError) as err:
        check_sql(f"SELECT {name}(x) AS y FROM t", HERE)
    assert f"{name}()" in str(err.value)
    assert "--engine spark" in str(err.value)


def test_equal_function_passes() -> None:
    name = _status("equal")
    check_sql(f"SELECT {name}(x) AS y FROM t", HERE)


def test_user_functions_and_struct_fields_are_not_checked() -> None:
    check_sql("SELECT my_udf(x), s.upper(x) FROM t", HERE)


def test_unaliased_columns_with_unproven_names_are_listed() -> None:
    from soundlake.pipeline.sql.functions import unnamed_columns

    unproven = next(name for name, entry in sorted(registry().items()) if not entry.names and name.isidentifier())
    sql = f"SELECT id, count(*), upper(s) AS u, {unproven}(x), t.* FROM t"
    listed = unnamed_columns(sql)
    assert len(listed) == 1 and listed[0].lower().startswith(f"{unproven}(")
    assert unnamed_columns("SELECT id, x + 1 AS y FROM t") == []


def _python_flow(tmp_path: Path, body: str) -> Lakehouse:
    lake = Lakehouse(tmp_path / "p")
    lake.parquet("src", "a.parquet", [{"s": "a", "i": 1}])
    lake.config(libraries=["pipelines/*.py"])
    (lake.root / "pipelines" / "gold.py").write_text(textwrap.dedent(body), encoding="utf-8")
    return lake


def test_dataframe_call_of_a_refused_function_is_refused_at_the_line_of_the_call(tmp_path: Path) -> None:
    from soundlake.pipeline.python.frame import functions as F
    from soundlake.project.pipeline_ops import dry_run

    name = next(n for n in sorted(F._SIGNATURES) if F._SIGNATURES[n] == "c" and registry()[n].status == "refused")
    lake = _python_flow(tmp_path, f"""
        from soundlake import pipelines as dp
        from pyspark.sql import functions as F

        @dp.materialized_view
        def gold():
            df = spark.read.format("parquet").load("data/src")
            df = df.withColumn("u", F.upper("s"))
            return df.withColumn("y",
                F.{name}("i"))
    """)
    with pytest.raises(DefinitionError) as err:
        dry_run(lake.project)
    message = str(err.value)
    assert message.startswith(f"pipelines/gold.py:10: flow 'main.silver.gold': {name}() does not give Spark's result")
    assert "--engine spark" in message and "\n" not in err.value.message


def test_dataframe_expression_text_is_checked_at_the_line_of_the_call(tmp_path: Path) -> None:
    from soundlake.project.pipeline_ops import dry_run

    lake = _python_flow(tmp_path, """
        from soundlake import pipelines as dp
        from pyspark.sql import functions as F

        @dp.materialized_view
        def gold():
            df = spark.read.format("parquet").load("data/src")
            return df.select("s", F.expr("ai_query('model', s)").alias("answer"))
    """)
    with pytest.raises(DefinitionError, match=r"^pipelines/gold\.py:8: flow 'main\.silver\.gold': ai_query\(\) is a Databricks"):
        dry_run(lake.project)
