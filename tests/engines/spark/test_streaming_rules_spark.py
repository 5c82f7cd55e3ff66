"""soundlake's streaming verdicts equal real Spark Structured Streaming's (append mode).

Each query runs on real streaming DataFrames: every ``STREAM(...)`` input becomes a
``spark.readStream`` Parquet source registered as a temporary view, every batch input a
batch Parquet view, and ``spark.sql(query).writeStream.format("noop").outputMode("append")
.start()`` either starts (then it is stopped) or raises Spark's analyzer error, whose error
class is compared with soundlake's (``pipeline.streaming_rules``). The queries: the cases
of ``tests/pipeline/streaming_cases.py`` (whose recorded verdicts are checked too) and
every streaming SQL flow of the test suite's pipelines and the reference project.
"""

from __future__ import annotations

import itertools
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
from sqlglot import exp

from soundlake.pipeline.sql.query import READ_DIALECT, parse_query
from soundlake.pipeline.streaming_rules import StreamingRejection, streaming_rejection
from tests.pipeline.streaming_cases import CASES, CollectedFlow, collected_flows

pytestmark = pytest.mark.spark

CASE_COLUMNS = {"id": "BIGINT", "k": "STRING", "ts": "TIMESTAMP"}


@dataclass
class View:
    """One input of a query as a temporary view."""

    name: str
    streaming: bool
    alias: str | None
    columns: dict[str, str] = field(default_factory=dict)


def column_type(name: str) -> str:
    """A plausible Spark type for a column of a collected pipeline, by its name."""
    n = name.lower()
    if n.endswith("_at") or "timestamp" in n or n in ("ts", "time", "event_time"):
        return "TIMESTAMP"
    if n == "date" or n.endswith("_date") or n == "day":
        return "DATE"
    if n.startswith(("_deleted", "is_")) or n.endswith("_known") or n in ("deleted", "flag"):
        return "BOOLEAN"
    if n == "id" or n.endswith(("_id", "_key", "_sec")) or n in (
            "seconds", "listen_duration", "duration", "n", "amount", "value", "seq", "version", "qty", "x", "v"):
        return "BIGINT"
    return "STRING"


def to_spark(sql: str, fixed: dict[str, str] | None) -> tuple[str, list[View]]:
    """The query over temporary views ``__s<i>`` (streams) and ``__b<i>`` (batch inputs)."""
    tree = parse_query(sql)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    views: list[View] = []
    counter = itertools.count()

    def view_for(table: exp.Expr, streaming: bool, alias_node: exp.Expr | None) -> exp.Table:
        alias = alias_node.name if isinstance(alias_node, exp.TableAlias) and alias_node.name else None
        if alias is None and isinstance(table, exp.Table) and isinstance(table.this, exp.Identifier):
            alias = table.name
        view = View(f"__{'s' if streaming else 'b'}{next(counter)}", streaming, alias)
        views.append(view)
        new = exp.Table(this=exp.to_identifier(view.name))
        if alias:
            new.set("alias", exp.TableAlias(this=exp.to_identifier(alias)))
        if isinstance(table, exp.Expr) and table.args.get("sample") is not None:
            new.set("sample", table.args["sample"].copy())
        return new

    def replace(node: exp.Expr) -> exp.Expr:
        if isinstance(node, exp.Stream):
            inner = node.this
            alias = inner.args.get("alias")
            sample = inner.args.get("sample")
            if isinstance(inner, exp.Subquery):
                inner = inner.this
            alias = alias or inner.args.get("alias")
            new = view_for(inner, True, alias)
            if sample is not None:
                new.set("sample", sample.copy())
            return new
        if isinstance(node, exp.Table) and not (isinstance(node.this, exp.Identifier) and not node.db
                                                and node.name.lower() in ctes):
            if isinstance(node.parent, exp.Stream) or node.find_ancestor(exp.Stream) is not None:
                return node
            return view_for(node, False, node.args.get("alias"))
        return node

    tree = tree.transform(replace)
    by_name = {v.name: v for v in views}
    for select in tree.find_all(exp.Select):
        local = [t for t in _relations(select) if isinstance(t, exp.Table) and t.name in by_name]
        aliases = {(t.alias_or_name or "").lower(): by_name[t.name] for t in local}
        first = by_name[local[0].name] if local else None
        for column in _own_columns(select):
            qualifier = column.table.lower()
            target = aliases.get(qualifier) if qualifier else first
            if target is None and qualifier:
                target = next((v for v in views if (v.alias or "").lower() == qualifier), None)
            if target is not None and column.name and column.name != "_metadata":
                target.columns.setdefault(column.name, (fixed or {}).get(column.name) or column_type(column.name))
        for join in select.args.get("joins") or ():
            for ident in join.args.get("using") or ():
                for t in local:
                    by_name[t.name].columns.setdefault(ident.name, (fixed or {}).get(ident.name) or column_type(ident.name))
    for view in views:
        if fixed is not None:
            view.columns = dict(fixed)
        elif not view.columns:
            view.columns = {"id": "BIGINT"}
    return tree.sql(READ_DIALECT), views


def _relations(select: exp.Select) -> list[exp.Expr]:
    from_ = select.args.get("from_") or select.args.get("from")
    found = [from_.this] if isinstance(from_, exp.From) else []
    return found + [j.this for j in select.args.get("joins") or ()]


def _own_columns(select: exp.Select) -> list[exp.Column]:
    out: list[exp.Column] = []
    stack = [c for k, c in select.args.items() if k not in ("from_", "from", "with_", "with")]
    while stack:
        node = stack.pop()
        if isinstance(node, list):
            stack.extend(node)
            continue
        if not isinstance(node, exp.Expr) or (isinstance(node, exp.Query) and node is not select):
            continue
        if isinstance(node, exp.Column):
            out.append(node)
        if isinstance(node, exp.Join):
            stack.append(node.args.get("on"))
            continue
        stack.extend(node.iter_expressions())
    return out


@pytest.fixture(scope="module")
def empty_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("no-files")


def spark_verdict(spark: Any, sql: str, views: list[View], empty: Path, checkpoints: Path) -> tuple[str, str] | None:
    """Spark's error class and message for the streaming query, or None when it starts."""
    from pyspark.errors import PySparkException
    from pyspark.sql.types import StructType

    for view in views:
        schema = StructType.fromDDL(", ".join(f"`{c}` {t}" for c, t in view.columns.items()))
        reader = spark.readStream if view.streaming else spark.read
        reader.format("parquet").schema(schema).load(str(empty)).createOrReplaceTempView(view.name)
    try:
        query = spark.sql(sql).writeStream.format("noop").outputMode("append") \
            .option("checkpointLocation", str(checkpoints / f"c{next(_CHECKPOINTS)}")).start()
    except PySparkException as exc:
        return str(exc.getCondition()), str(exc).splitlines()[0]
    query.stop()
    return None


def batch_analysis_error(spark: Any, sql: str, views: list[View], empty: Path) -> str | None:
    """Spark's error when the query is analyzed with every input in batch (column typing), or None."""
    from pyspark.errors import PySparkException
    from pyspark.sql.types import StructType

    for view in views:
        schema = StructType.fromDDL(", ".join(f"`{c}` {t}" for c, t in view.columns.items()))
        spark.read.format("parquet").schema(schema).load(str(empty)).createOrReplaceTempView(view.name)
    try:
        spark.sql(sql).schema  # noqa: B018 - analysis only
    except PySparkException as exc:
        return str(exc).splitlines()[0]
    return None


_CHECKPOINTS = itertools.count()


def agrees(mine: StreamingRejection | None, real: tuple[str, str] | None) -> bool:
    """Same verdict: both accept, or the same error class (and, for Spark's legacy class, its message)."""
    if mine is None or real is None:
        return mine is None and real is None
    if mine.error_class != real[0]:
        return False
    return real[0] != "_LEGACY_ERROR_TEMP_3102" or real[1].startswith(mine.message)


def test_cases_verdicts_are_sparks(spark: Any, empty_dir: Path, tmp_path: Path) -> None:
    wrong: list[str] = []
    for sql, recorded in CASES:
        spark_sql, views = to_spark(sql, CASE_COLUMNS)
        assert batch_analysis_error(spark, spark_sql, views, empty_dir) is None, sql
        real = spark_verdict(spark, spark_sql, views, empty_dir, tmp_path)
        mine = streaming_rejection(sql)
        if not _same(real, recorded):
            wrong.append(f"recorded {recorded} but Spark says {real}: {sql}")
        if not agrees(mine, real):
            wrong.append(f"soundlake says {mine} but Spark says {real}: {sql}")
    assert not wrong, "\n".join(wrong)


def _same(real: tuple[str, str] | None, recorded: str | tuple[str, str] | None) -> bool:
    if real is None or recorded is None:
        return real is None and recorded is None
    if isinstance(recorded, tuple):
        return real[0] == recorded[0] and recorded[1] in real[1]
    return real[0] == recorded


def test_streaming_flows_of_the_suite_and_template_agree_with_spark(spark: Any, empty_dir: Path,
                                                                    tmp_path: Path) -> None:
    flows: list[CollectedFlow] = collected_flows()
    compared, skipped, wrong = 0, [], []
    for flow in flows:
        spark_sql, views = to_spark(flow.sql, None)
        problem = batch_analysis_error(spark, spark_sql, views, empty_dir)
        if problem is not None:  # the guessed column types do not fit: no verdict to compare
            skipped.append(f"{flow.where}: {problem[:120]}")
            continue
        real = spark_verdict(spark, spark_sql, views, empty_dir, tmp_path)
        mine = streaming_rejection(flow.sql)
        compared += 1
        if not agrees(mine, real):
            wrong.append(f"{flow.where}: soundlake {mine}, Spark {real}")
    print(f"streaming flows compared with Spark: {compared} of {len(flows)}")
    assert not wrong, "\n".join(wrong)
    assert compared >= 0.75 * len(flows), "\n".join(skipped)
    assert any("templates/spotify" in f.where for f in flows)
