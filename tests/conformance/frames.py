"""The PySpark-style DataFrame API, case by case, on real PySpark and on soundlake's frame.

Pipeline Python files build their queries with ``pyspark.sql.functions``, ``Column`` and
``DataFrame`` methods; on the DuckDB engine soundlake's own frame
(``soundlake.pipeline.python.frame``) records those calls as Spark SQL. Each case here is a
small callable that runs unchanged on both:

- a *column case* takes the functions module ``F`` (and, by parameter name, ``W`` =
  ``Window`` and ``T`` = the types module) and returns a Column; the columns of one key
  are selected together from the input rows (:mod:`inputs`);
- a *DataFrame case* takes ``df`` (the input rows as a DataFrame) and ``F``/``W``/``T``
  and returns a DataFrame.

Real PySpark evaluates them on a Spark DataFrame of the input Parquet file; soundlake on
``spark.read.table("t")`` of its frame session, whose Spark SQL runs as a pipeline flow runs
it (bound and translated to DuckDB, :meth:`runner.DuckSide.run_query`). Both ANSI modes;
values, Spark result types and column names are compared with :func:`runner.verdicts`
(outcomes ``equal`` / ``loud`` / ``silent``). A case's label is its source text.

Columns of the input rows: id, i INT, l BIGINT, d DOUBLE, dec DECIMAL(10,3), s STRING,
n STRING (number-like text), ds STRING (date-like text), dt DATE, ts TIMESTAMP,
b BOOLEAN, a ARRAY<INT>, sa ARRAY<STRING>, m MAP<STRING,INT>, st STRUCT<x INT, y STRING>,
bin BINARY.
"""

from __future__ import annotations

import ast
import datetime as _dt
from collections.abc import Callable, Mapping, Sequence
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from soundlake.pipeline.sql.settings import SparkSqlSettings
from tests.conformance import runner

# -- column cases: key = the function or Column operation covered ---------------------------
# COLUMNS are row by row (the value of a row depends on that row only); WHOLE are not.

COLUMNS: dict[str, tuple[Callable[..., Any], ...]] = {
    # pyspark.sql.functions: strings
    "upper": (lambda F: F.upper("s"), lambda F: F.upper(F.col("n"))),
    "lower": (lambda F: F.lower("s"),),
    "trim": (lambda F: F.trim("s"), lambda F: F.trim("s", F.lit("a"))),
    "ltrim": (lambda F: F.ltrim("s"), lambda F: F.ltrim("s", F.lit(" P"))),
    "rtrim": (lambda F: F.rtrim("s"), lambda F: F.rtrim("s", F.col("n"))),
    "length": (lambda F: F.length("s"),),
    "initcap": (lambda F: F.initcap("s"),),
    "reverse": (lambda F: F.reverse("s"), lambda F: F.reverse("a")),
    "ascii": (lambda F: F.ascii("s"),),
    "base64": (lambda F: F.base64("bin"),),
    "unbase64": (lambda F: F.unbase64(F.lit("SGVsbG8=")),),
    "regexp_replace": (
        lambda F: F.regexp_replace("s", "[aeiou]", "_"),
        lambda F: F.regexp_replace("s", r"(\w+) (\w+)", "$2 $1"),
    ),
    "regexp_extract": (lambda F: F.regexp_extract("s", r"(\w+) (\w+)", 2), lambda F: F.regexp_extract("s", "[a-z]+", 0)),
    "split": (lambda F: F.split("s", ","), lambda F: F.split("s", ",", 2)),
    "substring": (lambda F: F.substring("s", 2, 3), lambda F: F.substring("s", -3, 2), lambda F: F.substring("s", "id", "id")),
    "lpad": (lambda F: F.lpad("s", 8, "*"),),
    "rpad": (lambda F: F.rpad("s", 2, "*"),),
    "instr": (lambda F: F.instr("s", "l"),),
    "translate": (lambda F: F.translate("s", "lo", "xy"),),
    "locate": (lambda F: F.locate("l", "s"), lambda F: F.locate("l", "s", 4)),
    "concat": (lambda F: F.concat("s", F.lit("x")), lambda F: F.concat("s", "n"), lambda F: F.concat("a", "a")),
    "concat_ws": (lambda F: F.concat_ws(",", "s", "n"), lambda F: F.concat_ws("-", "sa")),
    "format_string": (lambda F: F.format_string("%s-%d", "s", "i"),),
    "format_number": (lambda F: F.format_number("d", 2),),
    "repeat": (lambda F: F.repeat("s", 2),),
    "left": (lambda F: F.left("s", F.lit(2)), lambda F: F.left("s", "id")),
    "right": (lambda F: F.right("s", F.lit(2)),),
    "get_json_object": (lambda F: F.get_json_object(F.lit('{"a": {"b": 1}}'), "$.a.b"),),
    "to_json": (lambda F: F.to_json("st"),),
    # null handling and conditionals
    "coalesce": (lambda F: F.coalesce("i", F.lit(0)), lambda F: F.coalesce("s", "n")),
    "greatest": (lambda F: F.greatest("i", F.lit(5)), lambda F: F.greatest("s", "n")),
    "least": (lambda F: F.least("d", F.lit(0)),),
    "nvl": (lambda F: F.nvl("i", F.lit(-1)),),
    "ifnull": (lambda F: F.ifnull("s", F.lit("x")),),
    "nullif": (lambda F: F.nullif("i", F.lit(1)),),
    "isnull": (lambda F: F.isnull("s"),),
    "isnan": (lambda F: F.isnan("d"),),
    "nanvl": (lambda F: F.nanvl("d", F.lit(0.0)),),
    "when": (
        lambda F: F.when(F.col("i") > 1, "big").otherwise("small"),
        lambda F: F.when(F.col("i") > 1, F.col("s")),
        lambda F: F.when(F.col("i") < 0, -1).when(F.col("i") > 0, 1).otherwise(0),
    ),
    # math
    "abs": (lambda F: F.abs("i"), lambda F: F.abs("d"), lambda F: F.abs("dec")),
    "floor": (lambda F: F.floor("d"), lambda F: F.floor("dec"), lambda F: F.floor("dec", 1)),
    "ceil": (lambda F: F.ceil("d"), lambda F: F.ceil("dec"), lambda F: F.ceil("d", 1)),
    "sqrt": (lambda F: F.sqrt("d"),),
    "exp": (lambda F: F.exp("i"),),
    "log10": (lambda F: F.log10("i"),),
    "log2": (lambda F: F.log2("i"),),
    "ln": (lambda F: F.ln("d"),),
    "pow": (lambda F: F.pow("d", 2), lambda F: F.pow(2, "i")),
    "power": (lambda F: F.power("i", 2),),
    "round": (lambda F: F.round("d", 2), lambda F: F.round("dec", 1), lambda F: F.round("d")),
    "bround": (lambda F: F.bround("d", 1), lambda F: F.bround("dec")),
    "signum": (lambda F: F.signum("i"),),
    "pmod": (lambda F: F.pmod("i", 3), lambda F: F.pmod("d", F.lit(2))),
    # dates and times
    "current_timestamp": (lambda F: F.current_timestamp().isNotNull(),),
    "current_date": (lambda F: F.current_date().isNotNull(),),
    "now": (lambda F: F.now().isNotNull(),),
    "date_format": (lambda F: F.date_format("ts", "yyyy-MM-dd HH:mm"), lambda F: F.date_format("dt", "EEE")),
    "to_date": (lambda F: F.to_date("ds"), lambda F: F.to_date("ds", "yyyy-MM-dd")),
    "to_timestamp": (lambda F: F.to_timestamp("ds"), lambda F: F.to_timestamp("ds", "yyyy-MM-dd HH:mm:ss")),
    "from_unixtime": (
        lambda F: F.from_unixtime("i"), lambda F: F.from_unixtime("i", "yyyy-MM-dd"),
        lambda F: F.from_unixtime("n"),  # a STRING: Spark casts it to BIGINT
    ),
    "unix_timestamp": (lambda F: F.unix_timestamp("ts"), lambda F: F.unix_timestamp("ds", "yyyy-MM-dd")),
    "year": (lambda F: F.year("dt"), lambda F: F.year("ts")),
    "month": (lambda F: F.month("dt"),),
    "dayofmonth": (lambda F: F.dayofmonth("dt"),),
    "day": (lambda F: F.day("dt"),),
    "dayofweek": (lambda F: F.dayofweek("dt"),),
    "dayofyear": (lambda F: F.dayofyear("dt"),),
    "hour": (lambda F: F.hour("ts"),),
    "minute": (lambda F: F.minute("ts"),),
    "second": (lambda F: F.second("ts"),),
    "quarter": (lambda F: F.quarter("dt"),),
    "weekofyear": (lambda F: F.weekofyear("dt"),),
    "last_day": (lambda F: F.last_day("dt"),),
    "date_add": (lambda F: F.date_add("dt", 1), lambda F: F.date_add("dt", "id")),
    "date_sub": (lambda F: F.date_sub("dt", 1),),
    "datediff": (lambda F: F.datediff("ts", "dt"), lambda F: F.datediff("dt", F.lit("2000-01-01"))),
    "months_between": (lambda F: F.months_between("ts", "dt"), lambda F: F.months_between("ts", "dt", False)),
    "add_months": (lambda F: F.add_months("dt", 1),),
    "trunc": (lambda F: F.trunc("dt", "MM"),),
    "date_trunc": (lambda F: F.date_trunc("MONTH", "ts"), lambda F: F.date_trunc("hour", "ts")),
    "to_utc_timestamp": (lambda F: F.to_utc_timestamp("ts", "Europe/Paris"),),
    "from_utc_timestamp": (lambda F: F.from_utc_timestamp("ts", "America/New_York"),),
    # hashes, collections, structs
    "md5": (lambda F: F.md5("s"),),
    "sha1": (lambda F: F.sha1("s"),),
    "sha2": (lambda F: F.sha2("s", 256),),
    "hash": (lambda F: F.hash("s"),),
    "xxhash64": (lambda F: F.xxhash64("s"),),
    "crc32": (lambda F: F.crc32("s"),),
    "size": (lambda F: F.size("a"), lambda F: F.size("m")),
    "array": (lambda F: F.array("i", F.lit(1)), lambda F: F.array(["s", "n"])),
    "struct": (lambda F: F.struct("i", "s"),),
    "array_contains": (lambda F: F.array_contains("a", 1), lambda F: F.array_contains("sa", "a")),
    "element_at": (lambda F: F.element_at("a", 1), lambda F: F.element_at("m", "k")),
    "map_keys": (lambda F: F.map_keys("m"),),
    "map_values": (lambda F: F.map_values("m"),),
    "array_distinct": (lambda F: F.array_distinct("a"),),
    # columns, literals, SQL text
    "col": (lambda F: F.col("i"), lambda F: F.col("st.x")),
    "column": (lambda F: F.column("s"),),
    "lit": (
        lambda F: F.lit(1), lambda F: F.lit(1.5), lambda F: F.lit("x"), lambda F: F.lit(True),
        lambda F: F.lit(None), lambda F: F.lit(Decimal("1.25")), lambda F: F.lit(_dt.date(2024, 1, 31)),
        lambda F: F.lit(2**40), lambda F: F.lit(-0.25),
    ),
    "expr": (lambda F: F.expr("id + 1"), lambda F: F.expr("upper(s)")),
    # Column operators and methods
    "Column.+": (lambda F: F.col("i") + 1, lambda F: F.col("d") + F.col("i"), lambda F: F.col("dec") + 1, lambda F: F.col("i") + 1.5),
    "Column.-": (lambda F: F.col("d") - 1, lambda F: 1 - F.col("id"), lambda F: -F.col("d"), lambda F: F.col("dt") - F.col("dt")),
    "Column.*": (lambda F: F.col("d") * 2, lambda F: 2 * F.col("id"), lambda F: F.col("dec") * F.col("dec"), lambda F: F.col("dec") * 0.5),
    "Column./": (lambda F: F.col("i") / 2, lambda F: F.col("d") / 0, lambda F: 1 / F.col("d")),
    "Column.%": (lambda F: F.col("i") % 3, lambda F: F.col("d") % 2, lambda F: 7 % F.col("i")),
    "Column.**": (lambda F: F.col("d") ** 2, lambda F: 2 ** F.col("i")),
    "Column.==": (lambda F: F.col("i") == 1, lambda F: F.col("s") == "abc", lambda F: F.col("dt") == "2024-02-29"),
    "Column.!=": (lambda F: F.col("i") != 1,),
    "Column.<": (lambda F: F.col("i") < 2, lambda F: F.col("dt") < _dt.date(2000, 1, 1)),
    "Column.<=": (lambda F: F.col("d") <= 2,),
    "Column.>": (lambda F: F.col("s") > "A", lambda F: F.col("ds") > F.lit(_dt.date(2020, 1, 1))),
    "Column.>=": (lambda F: F.col("i") >= 1,),
    "Column.eqNullSafe": (lambda F: F.col("i").eqNullSafe(1), lambda F: F.col("s").eqNullSafe(None)),
    "Column.&": (lambda F: F.col("b") & (F.col("i") > 0), lambda F: (F.col("i") > 0) & True),
    "Column.|": (lambda F: F.col("b") | (F.col("i") > 0),),
    "Column.~": (lambda F: ~F.col("b"),),
    "Column.cast": (
        lambda F: F.col("n").cast("int"), lambda F, T: F.col("n").cast(T.IntegerType()),
        lambda F: F.col("i").cast("string"), lambda F, T: F.col("d").cast(T.StringType()),
        lambda F, T: F.col("ds").cast(T.DateType()), lambda F, T: F.col("n").cast(T.DecimalType(10, 2)),
        lambda F: F.col("ts").cast("long"), lambda F: (F.col("id") + 1).cast("string"),
        lambda F, T: F.col("ts").cast(T.TimestampType()), lambda F: F.col("b").astype("int"),
    ),
    "Column.isNull": (lambda F: F.col("s").isNull(),),
    "Column.isNotNull": (lambda F: F.col("i").isNotNull(),),
    "Column.isin": (lambda F: F.col("i").isin(1, 2, 13), lambda F: F.col("s").isin(["abc", "x"])),
    "Column.between": (lambda F: F.col("i").between(0, 10), lambda F: F.col("dt").between("2000-01-01", "2025-01-01")),
    "Column.when": (lambda F: F.when(F.col("b"), "yes").when(F.col("i") > 0, "pos").otherwise(F.col("s")),),
    "Column.substr": (lambda F: F.col("s").substr(1, 3), lambda F: F.col("s").substr(F.lit(2), F.lit(2))),
    "Column.contains": (lambda F: F.col("s").contains("o"),),
    "Column.startswith": (lambda F: F.col("s").startswith("He"),),
    "Column.endswith": (lambda F: F.col("s").endswith("ld"),),
    "Column.like": (lambda F: F.col("s").like("a%"), lambda F: F.col("s").like("_bc")),
    "Column.ilike": (lambda F: F.col("s").ilike("A%"),),
    "Column.rlike": (lambda F: F.col("s").rlike("^[a-z]+$"),),
    "Column.getItem": (lambda F: F.col("a").getItem(0), lambda F: F.col("m").getItem("k"), lambda F: F.col("a")[1]),
    "Column.getField": (lambda F: F.col("st").getField("x"), lambda F: F.col("st")["y"]),
    "Column.alias": (lambda F: F.col("i").alias("x"), lambda F: (F.col("d") + 1).alias("y"), lambda F: F.upper("s").name("u")),
}

WHOLE: dict[str, tuple[Callable[..., Any], ...]] = {
    # aggregates over all input rows
    "sum": (lambda F: F.sum("i"), lambda F: F.sum("dec"), lambda F: F.sum("d")),
    "avg": (lambda F: F.avg("i"), lambda F: F.avg("dec")),
    "mean": (lambda F: F.mean("i"),),
    "min": (lambda F: F.min("s"), lambda F: F.min("dt")),
    "max": (lambda F: F.max("i"), lambda F: F.max("ts")),
    "first": (lambda F: F.first("id"), lambda F: F.first("b", True)),
    "last": (lambda F: F.last("id"),),
    "stddev": (lambda F: F.stddev("id"),),
    "stddev_pop": (lambda F: F.stddev_pop("id"),),
    "stddev_samp": (lambda F: F.stddev_samp("id"),),
    "variance": (lambda F: F.variance("id"),),
    "var_pop": (lambda F: F.var_pop("id"),),
    "collect_list": (lambda F: F.size(F.collect_list("i")),),
    "collect_set": (lambda F: F.size(F.collect_set("b")),),
    "approx_count_distinct": (lambda F: F.approx_count_distinct("id"), lambda F: F.approx_count_distinct("b", 0.1)),
    "any_value": (lambda F: F.any_value("id").isNotNull(), lambda F: F.any_value("b", True).isNotNull()),
    "max_by": (lambda F: F.max_by("s", "id"), lambda F: F.max_by("dt", "i")),
    "min_by": (lambda F: F.min_by("s", "id"),),
    "bool_and": (lambda F: F.bool_and("b"),),
    "bool_or": (lambda F: F.bool_or("b"),),
    "median": (lambda F: F.median("id"),),
    "count": (lambda F: F.count("*"), lambda F: F.count("i"), lambda F: F.count(F.col("s"))),
    "countDistinct": (lambda F: F.countDistinct("b"),),
    "count_distinct": (lambda F: F.count_distinct("i", "b"),),
    "sum_distinct": (lambda F: F.sum_distinct("i"),),
    "sumDistinct": (lambda F: F.sumDistinct("id"),),
    # window functions
    "row_number": (lambda F, W: F.row_number().over(W.partitionBy("b").orderBy("id")),),
    "rank": (lambda F, W: F.rank().over(W.orderBy("b")),),
    "dense_rank": (lambda F, W: F.dense_rank().over(W.orderBy(F.col("b").desc())),),
    "percent_rank": (lambda F, W: F.percent_rank().over(W.orderBy("id")),),
    "cume_dist": (lambda F, W: F.cume_dist().over(W.orderBy("id")),),
    "ntile": (lambda F, W: F.ntile(3).over(W.orderBy("id")),),
    "lag": (lambda F, W: F.lag("id").over(W.orderBy("id")), lambda F, W: F.lag("id", 2, -1).over(W.orderBy("id"))),
    "lead": (lambda F, W: F.lead("id").over(W.partitionBy("b").orderBy("id")),),
    "Column.over": (
        lambda F, W: F.sum("i").over(W.partitionBy("b")),
        lambda F, W: F.sum("id").over(W.orderBy("id").rowsBetween(W.unboundedPreceding, W.currentRow)),
        lambda F, W: F.max("id").over(W.orderBy("id").rowsBetween(-1, 1)),
        lambda F, W: F.count("*").over(W.partitionBy("b").orderBy("id").rangeBetween(W.unboundedPreceding, 0)),
    ),
    # generators
    "explode": (lambda F: F.explode("a"),),
}
"""Column cases whose values depend on other rows (aggregates, windows, generators)."""

# -- DataFrame cases: key = the method (or function) covered ------------------------------

FRAMES: dict[str, tuple[Callable[..., Any], ...]] = {
    "DataFrame.select": (
        lambda df: df.select("id", "s"),
        lambda df, F: df.select("id", F.col("id") + 1, F.upper("s"), F.col("i").cast("string")),
        lambda df: df.select("*"),
        lambda df: df.select(["id", "b"]),
    ),
    "DataFrame.__getattr__": (
        lambda df: df.select("id", df.s, df.n.cast("int")),  # the cast keeps the column's name
        lambda df: df.select("id", df.st.x, df.st.y),
        lambda df: df.select("id", df["st.x"], df.st["y"]),
        lambda df, F: (lambda d: d.select(d.id, d.x))(df.withColumn("x", F.col("id") + 1)),  # noqa: PLC3002 - df reassigned
    ),
    "DataFrame.selectExpr": (lambda df: df.selectExpr("id", "id + 1", "upper(s) AS u", "CAST(i AS STRING)"),),
    "DataFrame.withColumn": (
        lambda df, F: df.withColumn("x", F.col("d") * 2),
        lambda df, F: df.withColumn("i", F.col("i") % 3),
        lambda df, F: df.select("id", "i", "s").withColumn("i", F.col("i") % 3).withColumn("z", F.lit(0)),
    ),
    "DataFrame.withColumns": (lambda df, F: df.select("id", "s").withColumns({"u": F.upper("s"), "id": F.col("id") * 10}),),
    "DataFrame.withColumnRenamed": (
        lambda df: df.withColumnRenamed("s", "str"),
        lambda df: df.select("id", "s", "i").withColumnRenamed("s", "str"),
    ),
    "DataFrame.drop": (
        lambda df: df.drop("s", "n"),
        lambda df: df.select("id", "s", "i").drop("i"),
        lambda df, F: df.drop(F.col("bin")),
    ),
    "DataFrame.filter": (
        lambda df, F: df.filter(F.col("i") > 0),
        lambda df, F: df.filter(F.col("b")),
        lambda df, F: df.filter(F.col("s").isNull() | (F.col("d") < 0)),
        lambda df: df.filter("s LIKE '%o%'"),
    ),
    "DataFrame.where": (lambda df, F: df.where(F.col("dt") >= "2000-01-01"), lambda df: df.where("i % 2 = 1")),
    "DataFrame.groupBy": (
        lambda df, F: df.groupBy("b").agg(F.sum("i"), F.count("*")),
        lambda df, F: df.groupBy("b").agg(F.sum("i").alias("total"), F.max("s").alias("top")),
        lambda df: df.groupBy("b").count(),
        lambda df: df.groupBy("b").sum("i"),
        lambda df: df.groupBy("b").avg("d"),
        lambda df: df.groupBy("b").min("s"),
        lambda df: df.groupBy("b").max("id"),
        lambda df: df.groupBy("b").agg({"i": "sum"}),
        lambda df: df.groupBy("b").agg({"d": "mean"}),
        lambda df, F: df.groupBy(F.col("id") % 2).count(),
        lambda df, F: df.groupBy(F.col("b").alias("flag")).agg(F.countDistinct("i").alias("n")),
        lambda df, F: df.agg(F.max("id"), F.min("s")),
    ),
    "DataFrame.orderBy": (
        lambda df: df.orderBy("s", "id").select("id"),
        lambda df, F: df.orderBy(F.col("d").desc(), "id").select("id", "d"),
        lambda df: df.orderBy("i", ascending=False).select("id"),
        lambda df, F: df.orderBy(F.col("s").asc_nulls_last(), F.col("id").desc_nulls_first()).select("id"),
        lambda df: df.orderBy(["b", "id"], ascending=[False, True]).select("id"),
    ),
    "DataFrame.sort": (lambda df, F: df.sort(F.desc("dt")).select("id"),),
    "asc": (lambda df, F: df.orderBy(F.asc("i")).select("id"),),
    "desc": (lambda df, F: df.orderBy(F.desc("s"), "id").select("id"),),
    "Column.asc": (lambda df, F: df.orderBy(F.col("d").asc(), F.col("id")).select("id"),),
    "Column.desc_nulls_last": (lambda df, F: df.orderBy(F.col("ts").desc_nulls_last()).select("id"),),
    "DataFrame.limit": (lambda df: df.orderBy("id").limit(3).select("id"),),
    "DataFrame.distinct": (lambda df: df.select("b").distinct(), lambda df: df.select("b", "id").distinct()),
    "DataFrame.dropDuplicates": (
        lambda df: df.dropDuplicates(["b"]).select("b"),
        lambda df: df.select("b").dropDuplicates(),
        lambda df: df.dropDuplicates(["b", "id"]).select("id"),
    ),
    "DataFrame.union": (lambda df: df.select("id", "s").union(df.select("id", "n")),),
    "DataFrame.unionByName": (lambda df: df.select("id", "s").unionByName(df.select("s", "id")),),
    "DataFrame.join": (
        lambda df, F: df.select("id", "s").join(df.select("id", F.col("i").alias("j")), "id"),
        lambda df, F: df.select("id", "s").join(df.select(F.col("id").alias("k"), "n"), F.col("id") == F.col("k"), "left"),
        lambda df, F: df.select("id").join(df.filter(F.col("i") > 0).select("id"), "id", "left_anti"),
    ),
    "broadcast": (lambda df, F: df.select("id", "s").join(F.broadcast(df.select("id", "b")), "id"),),
    "DataFrame.fillna": (lambda df: df.select("id", "i", "s").fillna({"i": 0, "s": "?"}),),
    "DataFrame.dropna": (lambda df: df.select("id", "s", "b").dropna(subset=["s", "b"]),),
    "DataFrame.window": (
        lambda df, F, W: df.withColumn("rn", F.row_number().over(W.partitionBy("b").orderBy("id"))).select("id", "rn"),
        lambda df, F, W: df.select("id", F.sum("i").over(W.partitionBy("b")).alias("t")),
        lambda df, F, W: df.select("id", F.lag("s", 1, "-").over(W.orderBy("id")).alias("prev")),
    ),
}

ORDERED = frozenset({
    "DataFrame.orderBy", "DataFrame.sort", "asc", "desc", "Column.asc", "Column.desc_nulls_last", "DataFrame.limit",
})
"""Keys whose DataFrame cases are compared row by row in order (the others in any order)."""

NOT_CASES = {
    "input_file_name": "the path of the file a row was read from: the two engines read different paths",
}
"""Public functions of soundlake's frame without a case, with the reason."""


ROW_ID = "__sl_row_id"


@dataclass(frozen=True)
class Case:
    """One case: its key (what it covers), label (its source text), callable and kind.

    ``kind`` is ``row`` (a column computed row by row), ``whole`` (a column that depends
    on other rows) or ``frame`` (a DataFrame case).
    """

    key: str
    label: str
    build: Callable[..., Any]
    kind: str

    @property
    def frame(self) -> bool:
        return self.kind == "frame"

    @property
    def ordered(self) -> bool:
        return self.key in ORDERED

    def make(self, api: Mapping[str, Any], df: Any = None) -> Any:
        """Call the case with the parameters it names (``df``, ``F``, ``W``, ``T``)."""
        code = self.build.__code__
        names = code.co_varnames[: code.co_argcount]
        return self.build(**{n: df if n == "df" else api[n] for n in names})


def _labels() -> dict[str, list[str]]:
    """Each case's source text, by key, from this file (lambdas in the order written)."""
    source = Path(__file__).read_text(encoding="utf-8")
    found: dict[str, list[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.AnnAssign) and isinstance(node.value, ast.Dict):
            for key, value in zip(node.value.keys, node.value.values):
                if isinstance(key, ast.Constant) and isinstance(value, ast.Tuple):
                    found[str(key.value)] = [
                        " ".join((ast.get_source_segment(source, item.body) or "").split())
                        for item in value.elts if isinstance(item, ast.Lambda)
                    ]
    return found


def cases() -> dict[str, list[Case]]:
    """Every case by key (column cases, then DataFrame cases); labels are unique."""
    labels = _labels()
    out: dict[str, list[Case]] = {}
    for table, kind in ((COLUMNS, "row"), (WHOLE, "whole"), (FRAMES, "frame")):
        for key, builds in table.items():
            texts = labels[key]
            assert len(texts) == len(builds) and key not in out, key
            out[key] = [Case(key, text, build, kind) for text, build in zip(texts, builds)]
    every = [c.label for group in out.values() for c in group]
    assert len(every) == len(set(every)), "case labels must be unique"
    return out


def _frame_outcome(table: pa.Table, ordered: bool) -> runner.Outcome:
    """A DataFrame result as one outcome: rows (columns by name), types, names in order."""
    names = table.schema.names
    order = sorted(range(table.num_columns), key=lambda k: names[k])
    columns = [runner.plain_values(table.column(k)) for k in order]
    rows = [tuple(values) for values in zip(*columns)]
    if not ordered:
        rows.sort(key=repr)
    types = ", ".join(runner.spark_type(table.schema.field(k).type) for k in order)
    return runner.Outcome(values=tuple(rows), type=types, name=", ".join(names))


class FrameSide:
    """Evaluates cases with one DataFrame API: real PySpark or soundlake's frame.

    ``source(row)`` gives the input DataFrame (one row, or all for None), ``collect``
    runs a DataFrame to an Arrow table, and each evaluation runs inside ``context()``.
    The columns of one call are selected together. With ``by_row``, a row-by-row column
    evaluated over all rows also gives its outcome on each row (the rows' ids are
    selected with it), so a case is run again row by row only where it failed.
    """

    def __init__(
        self,
        api: Mapping[str, Any],
        source: Callable[[int | None], Any],
        collect: Callable[[Any], pa.Table],
        cases: Mapping[str, Case],
        context: Callable[[], AbstractContextManager[Any]] = nullcontext,
        *,
        by_row: bool = False,
    ) -> None:
        self.api = api
        self.source = source
        self.collect = collect
        self.cases = cases
        self.context = context
        self.by_row = by_row
        self._memo: dict[tuple[tuple[str, ...], int | None], list[runner.Outcome]] = {}

    def __call__(self, labels: Sequence[str], row: int | None) -> list[runner.Outcome]:
        key = (tuple(labels), row)
        if key not in self._memo:
            with self.context():
                self._memo[key] = self._evaluate(labels, row)
        return self._memo[key]

    def _evaluate(self, labels: Sequence[str], row: int | None) -> list[runner.Outcome]:
        columns = [label for label in labels if not self.cases[label].frame]
        found = self._columns(columns, row) if columns else {}
        for label in labels:
            case = self.cases[label]
            if case.frame:
                try:
                    found[label] = _frame_outcome(self.collect(case.make(self.api, self.source(row))), case.ordered)
                except Exception as exc:  # noqa: BLE001 - any failure is an outcome
                    found[label] = runner.Outcome(error=runner.first_line(exc))
        return [found[label] for label in labels]

    def _columns(self, columns: Sequence[str], row: int | None) -> dict[str, runner.Outcome]:
        by_row = self.by_row and row is None and all(self.cases[label].kind == "row" for label in columns)
        try:
            built = [self.cases[label].make(self.api) for label in columns]
            if by_row:
                built.append(self.api["F"].col("id").alias(ROW_ID))
            table = self.collect(self.source(row).select(*built))
            if by_row:
                table = self._each_row(columns, table)
            return dict(zip(columns, runner.outcomes(table)))
        except Exception as exc:  # noqa: BLE001 - any failure is an outcome
            return {label: runner.Outcome(error=runner.first_line(exc)) for label in columns}

    def _each_row(self, columns: Sequence[str], table: pa.Table) -> pa.Table:
        """Note each column's outcome on each row (as evaluating that row alone gives it)."""
        ids = table.column(ROW_ID).to_pylist()
        table = table.drop_columns([ROW_ID])
        for k, row in enumerate(ids):
            for label, outcome in zip(columns, runner.outcomes(table.slice(k, 1))):
                self._memo.setdefault(((label,), row), [outcome])
        return table


def spark_side(spark: Any, data: Path, settings: SparkSqlSettings, cases: Mapping[str, Case]) -> FrameSide:
    """Real PySpark over the input Parquet file, in the ANSI mode and zone of ``settings``."""
    from pyspark.sql import Window
    from pyspark.sql import functions as F
    from pyspark.sql import types as T

    rows = spark.read.parquet(str(data)).cache()  # a job per case: read the file once

    def source(row: int | None) -> Any:
        return rows if row is None else rows.filter(F.col("id") == row)

    def collect(df: Any) -> pa.Table:
        return df.toArrow()

    # classic PySpark analyses each call as it is made: the settings hold while cases build
    return FrameSide({"F": F, "W": Window, "T": T}, source, collect, cases,
                     context=lambda: runner.spark_settings(spark, settings), by_row=True)


def soundlake_side(engine: Any, data: Path, settings: SparkSqlSettings, cases: Mapping[str, Case]) -> FrameSide:
    """soundlake's frame over table ``t``; its Spark SQL runs as a pipeline flow's does."""
    from soundlake.pipeline.python.frame import functions as F
    from soundlake.pipeline.python.frame import types as T
    from soundlake.pipeline.python.frame.column import Window
    from soundlake.pipeline.python.frame.dataframe import PipelineSession, reset_aliases

    session = PipelineSession()
    query = runner.DuckSide(engine, data, settings)

    def source(row: int | None) -> Any:
        reset_aliases()  # as the loader does before each dataset function
        rows = session.read.table("t")
        return rows if row is None else rows.filter(F.col("id") == row)

    def collect(df: Any) -> pa.Table:
        return query.run_query(df.to_sql())

    return FrameSide({"F": F, "W": Window, "T": T}, source, collect, cases)


def batches(by_key: Mapping[str, Sequence[Case]]) -> list[list[str]]:
    """Labels evaluated together: the column cases of one key (each alone when one of
    them fails); DataFrame cases one by one. (Spark compiles each query: larger batches
    cost more than they save.)"""
    out: list[list[str]] = []
    for group in by_key.values():
        out += [[c.label for c in group if not c.frame]]
        out += [[c.label] for c in group if c.frame]
    return [batch for batch in out if batch]


def run_suite(spark: Any, engine: Any, data: Path) -> list[runner.Verdict]:
    """Every frame case in both ANSI modes (see :func:`batches`)."""
    by_key = cases()
    by_label = {c.label: c for group in by_key.values() for c in group}
    found: list[runner.Verdict] = []
    for ansi in (True, False):
        settings = SparkSqlSettings(ansi=ansi)
        mode = "ansi" if ansi else "non-ansi"
        spark_frames = spark_side(spark, data, settings, by_label)
        sides: dict[str, runner.Evaluate] = {"query": soundlake_side(engine, data, settings, by_label)}
        for batch in batches(by_key):
            found += runner.verdicts(batch, spark_frames, sides, mode)
    spark.read.parquet(str(data)).unpersist()  # the session is shared with other tests
    return found


def covered_functions() -> set[str]:
    """Names of soundlake's frame ``functions`` module that have cases (keys without a dot)."""
    return {key for key in (*COLUMNS, *WHOLE, *FRAMES) if "." not in key}


def public_functions() -> set[str]:
    """Every public function of soundlake's frame ``functions`` module."""
    from soundlake.pipeline.python.frame import functions as F

    return set(F.__all__)

