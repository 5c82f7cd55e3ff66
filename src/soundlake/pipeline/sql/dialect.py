"""The SQL dialect soundlake reads pipeline SQL in: Databricks SQL as Spark 4 parses it.

sqlglot's ``databricks`` dialect, with two differences that change results:

- a doubled quote inside a string literal is one quote (``'yyyy-MM-dd''T''HH'`` is the
  pattern ``yyyy-MM-dd'T'HH``), where sqlglot reads two adjacent literals;
- ``datediff(unit, start, end)`` with three arguments is Spark's ``timestampdiff`` (whole
  units between the two instants, BIGINT), unlike ``datediff(end, start)`` (calendar
  days, INT); sqlglot builds the same node for both.

Parse and generate with :data:`SPARK_SQL` (sqlglot's ``databricks`` writes the two-argument
``datediff`` in the three-argument form, which Spark reads as ``timestampdiff``).
"""

from __future__ import annotations

from collections.abc import Sequence

from sqlglot import exp
from sqlglot.dialects.databricks import Databricks


def _datediff(args: Sequence[exp.Expr]) -> exp.Expr:
    builder = Databricks.Parser.FUNCTIONS["DATEDIFF"]
    if len(args) == 3:
        return exp.TimestampDiff(this=args[2], expression=args[1], unit=exp.var(args[0].name.upper()))
    return builder(list(args))  # type: ignore[no-any-return]


class SparkSql(Databricks):
    """Databricks SQL with Spark 4's string literals and three-argument ``datediff``."""

    class Tokenizer(Databricks.Tokenizer):
        STRING_ESCAPES = ["\\", "'"]  # noqa: RUF012 - sqlglot's own attribute

    class Parser(Databricks.Parser):  # type: ignore[misc, valid-type]
        FUNCTIONS = {**Databricks.Parser.FUNCTIONS, "DATEDIFF": _datediff, "DATE_DIFF": _datediff}  # noqa: RUF012

    class Generator(Databricks.Generator):  # type: ignore[misc, valid-type]
        TRANSFORMS = {  # noqa: RUF012 - sqlglot's own attribute
            **Databricks.Generator.TRANSFORMS,
            # sqlglot writes DATEDIFF(DAY, start, end), which Spark reads as timestampdiff
            exp.DateDiff: lambda self, e: self.func("DATEDIFF", e.this, e.expression),
        }


SPARK_SQL = "sparksql"
"""The name sqlglot knows :class:`SparkSql` by (``read=SPARK_SQL``)."""
