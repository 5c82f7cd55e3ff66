"""Evaluate Spark SQL expressions with real Spark and with soundlake's DuckDB path; compare.

Each case is one expression over the input rows (:mod:`inputs`). Both sides run it as a
query (``SELECT <expr> FROM t``); soundlake also runs it the way it runs expectations
(:func:`transpile_expression`). An outcome is a result (values, Spark type name, column
name) or an error. Comparing gives one of:

- ``equal``: same values, types and names, or both sides raise an error;
- ``loud``: Spark returns a value where soundlake raises an error (never wrong data);
- ``silent``: anything else (a different value, type or name, or a value where Spark
  fails): soundlake must refuse the function at dry-run.

Expressions are evaluated in batches (one query per function); a failing batch is split
per expression, a failing expression per row, so one error does not hide the others.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

import pyarrow as pa

from soundlake.engines.base import ArrowRelation
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql.query import analyze_query, bind_query, transpile_expression
from soundlake.pipeline.sql.settings import SparkSqlSettings
from soundlake.pipeline.sql.spark_types import spark_type_text
from tests.conformance import inputs

EQUAL, LOUD, SILENT = "equal", "loud", "silent"
PRIME_CASES = 16
"""How many cases one Spark query evaluates at first (see :meth:`SparkSide.prime`)."""


@dataclass(frozen=True)
class Outcome:
    """One side's result for one expression: values, Spark type and column name, or an error."""

    values: tuple[object, ...] | None = None
    type: str | None = None
    name: str | None = None
    error: str | None = None

    @property
    def failed(self) -> bool:
        return self.error is not None


@dataclass(frozen=True)
class Verdict:
    """How soundlake compares with Spark for one expression in one mode.

    ``kind`` judges values and types; ``name`` is the column name soundlake gives the
    un-aliased expression when it differs from Spark's (None when equal).
    """

    expression: str
    mode: str
    kind: str
    detail: str = ""
    name: str | None = None


Evaluate = Callable[[Sequence[str], int | None], list[Outcome]]


def spark_type(arrow: pa.DataType) -> str:
    """The Spark SQL type of an Arrow type, as a Delta table stores it (Arrow's name otherwise)."""
    return spark_type_text(arrow) or str(arrow)


def _normal(value: object) -> object:
    if isinstance(value, float):
        if math.isnan(value):
            return "NaN"
        return value
    if isinstance(value, Decimal):
        return value
    if isinstance(value, dict):
        return tuple(sorted((k, _normal(v)) for k, v in value.items()))
    if isinstance(value, list):
        return tuple(_normal(v) for v in value)
    return value


def plain_values(column: pa.ChunkedArray | pa.Array) -> list[object]:
    """The column's values in row order, in a comparable form (NaN as text, maps as pairs)."""
    try:
        return [_normal(v) for v in column.to_pylist()]
    except (ValueError, OverflowError):
        # out of Python's date range: compare the text Arrow prints
        return [str(v) for v in column]


def _values(column: pa.ChunkedArray | pa.Array) -> tuple[object, ...]:
    """The column's values in a row-order-free form (each column is compared on its own)."""
    return tuple(sorted(plain_values(column), key=repr))


def outcomes(table: pa.Table) -> list[Outcome]:
    """One outcome per result column: its values (in any row order), Spark type and name."""
    return [
        Outcome(values=_values(table.column(k)), type=spark_type(table.schema.field(k).type), name=table.schema.names[k])
        for k in range(table.num_columns)
    ]


def _where(row: int | None) -> str:
    return "" if row is None else f" WHERE id = {row}"


@contextmanager
def spark_settings(spark: Any, settings: SparkSqlSettings) -> Iterator[None]:
    """Run with the ANSI mode and time zone of ``settings``; leave the shared session as found."""
    conf = spark.conf
    keys = ("spark.sql.ansi.enabled", "spark.sql.session.timeZone")
    before = {key: conf.get(key) for key in keys}
    conf.set(keys[0], str(settings.ansi).lower())
    conf.set(keys[1], settings.time_zone)
    try:
        yield
    finally:
        for key, value in before.items():
            conf.set(key, value)


class SparkSide:
    """Evaluates expressions with a real SparkSession over the input rows."""

    def __init__(self, spark: Any, data: Path, settings: SparkSqlSettings) -> None:
        self.spark = spark
        self.settings = settings
        self._memo: dict[str, list[Outcome]] = {}
        # cached in memory: every query scans the same rows (~30% faster than re-reading the file)
        frame = spark.read.parquet(str(data)).cache()
        frame.count()
        frame.createOrReplaceTempView("t")

    def __call__(self, expressions: Sequence[str], row: int | None) -> list[Outcome]:
        sql = f"SELECT {', '.join(expressions)} FROM t{_where(row)}"
        if sql not in self._memo:
            try:
                with spark_settings(self.spark, self.settings):
                    self._memo[sql] = outcomes(self.spark.sql(sql).toArrow())
            except Exception as exc:  # noqa: BLE001 - any Spark failure is an outcome
                self._memo[sql] = [Outcome(error=first_line(exc))] * len(expressions)
        return self._memo[sql]

    def prime(self, groups: Sequence[Sequence[str]]) -> None:
        """Evaluate several cases' expressions in one Spark query and remember each case's outcomes.

        Each case is then answered as if queried alone: every expression of a projection is
        evaluated on every row, so one's result does not depend on its neighbours. A failing
        query is split in halves down to single cases (whose failure is their outcome). A
        generator (``explode``...) repeats its neighbours' rows and an aggregate folds them
        (a constant beside ``count(i)`` gives one row), so a query whose plan has either is
        split too.
        """
        todo = [list(g) for g in groups if f"SELECT {', '.join(g)} FROM t" not in self._memo]
        if len(todo) == 1:
            self(todo[0], None)
            return
        if not todo:
            return
        try:
            with spark_settings(self.spark, self.settings):
                frame = self.spark.sql(f"SELECT {', '.join(e for g in todo for e in g)} FROM t")
                plan = frame._jdf.queryExecution().analyzed().toString()
                if "Generate " in plan or "Aggregate " in plan:
                    raise ValueError("a generator or an aggregate changes the rows of the other columns")
                found = outcomes(frame.toArrow())
        except Exception:  # noqa: BLE001 - split and find the cases that fail alone
            half = len(todo) // 2
            self.prime(todo[:half])
            self.prime(todo[half:])
            return
        start = 0
        for group in todo:
            self._memo[f"SELECT {', '.join(group)} FROM t"] = found[start:start + len(group)]
            start += len(group)


class DuckSide:
    """Evaluates expressions with soundlake's DuckDB engine, as a query or as an expectation."""

    def __init__(self, engine: Any, data: Path, settings: SparkSqlSettings, *, expectation: bool = False) -> None:
        self.engine = engine
        self.settings = settings
        self.expectation = expectation
        self.table = inputs.table()

    def __call__(self, expressions: Sequence[str], row: int | None) -> list[Outcome]:
        try:
            if self.expectation:
                columns = [
                    transpile_expression(e, dialect="duckdb", settings=self.settings, schema=self.table.schema)
                    for e in expressions
                ]
                sql = f"SELECT {', '.join(columns)} FROM __sl_row AS t{_where(row)}"
                relations = {"__sl_row": ArrowRelation(self.table)}
                return outcomes(self.engine.execute(sql, relations).read_all())
            return outcomes(self.run_query(f"SELECT {', '.join(expressions)} FROM t{_where(row)}"))
        except Exception as exc:  # noqa: BLE001 - any failure is an outcome
            return [Outcome(error=first_line(exc))] * len(expressions)

    def run_query(self, spark_sql: str) -> pa.Table:
        """Run a Spark SQL query over the input rows (table ``t``) as a pipeline flow runs it."""
        found = analyze_query(spark_sql, catalog="c", schema="s", location=SourceLocation("<case>"))
        sql = bind_query(spark_sql, found, catalog="c", schema="s", dialect="duckdb", settings=self.settings,
                         schemas={item.placeholder: self.table.schema for item in found})
        relations = {item.placeholder: ArrowRelation(self.table) for item in found}
        return self.engine.execute(sql, relations).read_all()


def first_line(exc: BaseException) -> str:
    """The first line of an error's message (at most 300 characters)."""
    text = str(exc).strip()
    return text.splitlines()[0][:300] if text else type(exc).__name__


def compare(spark: Outcome, ours: Outcome) -> tuple[str, str]:
    """Classify one comparison of values and types; the detail says what differs."""
    if spark.failed and ours.failed:
        return EQUAL, ""
    if ours.failed:
        return LOUD, f"soundlake fails: {ours.error}"
    if spark.failed:
        return SILENT, f"Spark fails ({spark.error}) but soundlake returns {ours.values}"
    if spark.type != ours.type:
        return SILENT, f"type {ours.type}, Spark {spark.type}"
    if spark.values != ours.values:
        return SILENT, f"values {ours.values}, Spark {spark.values}"
    return EQUAL, ""


def _evaluate_all(evaluate: Evaluate, expressions: Sequence[str]) -> list[Outcome]:
    outcomes = evaluate(expressions, None)
    if len(expressions) > 1 and any(o.failed for o in outcomes):
        outcomes = [evaluate([e], None)[0] for e in expressions]
    return outcomes


def verdicts(
    expressions: Sequence[str], spark: Evaluate, sides: Mapping[str, Evaluate], mode: str
) -> list[Verdict]:
    """Compare every expression on Spark and on each soundlake side (query, expectation)."""
    expected = _evaluate_all(spark, expressions)
    results: list[Verdict] = []
    got = {label: _evaluate_all(side, expressions) for label, side in sides.items()}
    for k, expression in enumerate(expressions):
        worst, detail = EQUAL, ""
        for label in sides:
            kind, why = compare(expected[k], got[label][k])
            if expected[k].failed or got[label][k].failed:  # both failing may hide rows that differ
                kind, why = _per_row(expression, spark, sides[label])
            if _rank(kind) > _rank(worst):
                worst, detail = kind, f"{label}: {why}"
        name = _name_difference(expression, spark, sides["query"], expected[k], got["query"][k])
        results.append(Verdict(expression, mode, worst, detail, name))
    return results


def _name_difference(
    expression: str, spark: Evaluate, side: Evaluate, expected: Outcome, got: Outcome
) -> str | None:
    if expected.failed or got.failed:
        expected, got = spark([expression], 0)[0], side([expression], 0)[0]
    if expected.failed or got.failed or expected.name == got.name:
        return None
    return f"{got.name!r}, Spark {expected.name!r}"


def _per_row(expression: str, spark: Evaluate, side: Evaluate) -> tuple[str, str]:
    """The worst row's verdict, and the first row that has it.

    Spark is asked only for the rows that can decide: a row soundlake answers is equal or
    silent; a row soundlake fails is equal or loud, so the first one Spark answers is the
    loud row (a silent row outranks it).
    """
    rows = range(len(inputs.ROWS))
    ours = [side([expression], row)[0] for row in rows]
    for row in rows:
        if not ours[row].failed:
            kind, why = compare(spark([expression], row)[0], ours[row])
            if kind == SILENT:
                return kind, f"row {row}: {why}"
    for row in rows:
        if ours[row].failed:
            kind, why = compare(spark([expression], row)[0], ours[row])
            if kind == LOUD:
                return kind, f"row {row}: {why}"
    return EQUAL, ""


def _rank(kind: str) -> int:
    return {EQUAL: 0, LOUD: 1, SILENT: 2}[kind]


def run_suite(
    spark: Any, engine: Any, data: Path, cases: Mapping[str, Sequence[str]]
) -> dict[str, list[Verdict]]:
    """Every case in both ANSI modes: function name -> its verdicts."""
    results: dict[str, list[Verdict]] = {name: [] for name in cases}
    for ansi in (True, False):
        settings = SparkSqlSettings(ansi=ansi)
        mode = "ansi" if ansi else "non-ansi"
        spark_side = SparkSide(spark, data, settings)
        groups = list(cases.values())
        for start in range(0, len(groups), PRIME_CASES):
            spark_side.prime(groups[start:start + PRIME_CASES])
        sides: dict[str, Evaluate] = {
            "query": DuckSide(engine, data, settings),
            "expectation": DuckSide(engine, data, settings, expectation=True),
        }
        for name, expressions in cases.items():
            results[name].extend(verdicts(expressions, spark_side, sides, mode))
    return results


def status(found: Sequence[Verdict]) -> tuple[str, str, bool]:
    """A function's status from its verdicts.

    Returns ``(status, note, names)``: status ``equal``, ``limited`` (soundlake fails
    loudly where Spark returns a value) or ``refused`` (a silent difference); the note
    names the first difference; ``names`` is True when every un-aliased case got Spark's
    column name.
    """
    names = all(v.name is None for v in found)
    for kind, label in ((SILENT, "refused"), (LOUD, "limited")):
        bad = [v for v in found if v.kind == kind]
        if bad:
            first = bad[0]
            return label, f"{first.expression} ({first.mode}): {first.detail}", names
    return "equal", "", names
