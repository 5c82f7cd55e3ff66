"""Spark SQL semantics on DuckDB: the rewrites that keep Spark's results.

sqlglot translates Spark SQL syntax to DuckDB; where the two engines give different
results for the same text (day numbering, casts that fail or return NULL, implicit
casts of function arguments, result types), :func:`to_duckdb` rewrites the tree so
DuckDB computes what Spark computes. Every rewrite is proven against real Spark by the
conformance suite (``tests/conformance``), in both ANSI modes. Rules that depend on
argument types live in :mod:`typed_rules`; the settings in :mod:`settings`.
"""

from __future__ import annotations

import re
from collections.abc import Callable

from sqlglot import exp

from soundlake.pipeline.sql.settings import SparkSqlSettings
from soundlake.pipeline.sql.typed_rules import cast_as
from soundlake.pipeline.sql.typed_rules import typed as typed_rule

_T = exp.DataType.Type

_INT_RESULTS: tuple[type[exp.Expr], ...] = (
    exp.Length, exp.BitLength, exp.StrPosition, exp.Levenshtein, exp.RegexpCount, exp.ArraySize,
    exp.Extract, exp.UnixDate, exp.RowNumber, exp.Rank, exp.DenseRank, exp.Ntile, exp.DayOfWeek,
    exp.DayOfYear, exp.DayOfMonth, exp.Year, exp.Month, exp.Quarter, exp.WeekOfYear, exp.Hour,
    exp.Minute, exp.Ascii,
)
"""Functions whose Spark result is INT where DuckDB returns BIGINT."""

_BIGINT_RESULTS: tuple[type[exp.Expr], ...] = (exp.CountIf,)
"""Functions whose Spark result is BIGINT where DuckDB returns another type."""


def _int_result(node: exp.Expr) -> bool:
    if isinstance(node, exp.Anonymous):
        return str(node.this).lower() in ("cardinality", "date_part", "weekday")
    return isinstance(node, _INT_RESULTS)


def _divide_or_fail(node: exp.Expr) -> exp.Expr:
    """ANSI mode: a division by zero fails the query (DuckDB returns NULL, as non-ANSI Spark)."""
    divisor = node.expression
    if isinstance(divisor, exp.Literal) and not divisor.is_string and divisor.this not in ("0", "0.0"):
        return node
    error = exp.Anonymous(this="error", expressions=[exp.Literal.string(
        "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead.")])
    guarded = exp.Case(ifs=[exp.If(this=exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)), true=error)],
                       default=divisor.copy())
    node.set("expression", guarded)
    return node


def _java_replacement(node: exp.RegexpReplace) -> None:
    """Java's ``$1`` group references in a replacement become RE2's ``\\1``."""
    replacement = node.args.get("replacement")
    if isinstance(replacement, exp.Literal) and replacement.is_string and "$" in replacement.this:
        text = re.sub(r"(?<!\\)\$(\d)", r"\\\1", replacement.this).replace("\\$", "$")
        node.set("replacement", exp.Literal.string(text))


def _datediff(node: exp.DateDiff) -> exp.Expr:
    """``datediff(end, start)`` counts days (INT); with a unit it counts whole units (BIGINT)."""
    unit = node.args.get("unit")
    name = unit.name.lower() if isinstance(unit, (exp.Var, exp.Literal, exp.Identifier)) else "day"
    end, start = node.this, node.expression
    if name == "day":
        days = exp.Anonymous(this="date_diff", expressions=[
            exp.Literal.string("day"), cast_as(start.copy(), "date"), cast_as(end.copy(), "date")])
        return cast_as(days, "int")
    whole = exp.Anonymous(this="date_sub", expressions=[
        exp.Literal.string(name), cast_as(start.copy(), "timestamptz"), cast_as(end.copy(), "timestamptz")])
    return cast_as(whole, "bigint")


_TYPE_NAMES = {
    "TINYINT": "tinyint", "SMALLINT": "smallint", "INTEGER": "int", "BIGINT": "bigint", "FLOAT": "float",
    "DOUBLE": "double", "VARCHAR": "string", "BOOLEAN": "boolean", "DATE": "date", "BLOB": "binary",
    "TIMESTAMP WITH TIME ZONE": "timestamp", "TIMESTAMP": "timestamp_ntz", "\"NULL\"": "void",
}


def _spark_typeof(arg: exp.Expr) -> exp.Expr:
    """``typeof`` with Spark's type names (DuckDB's otherwise; nested types differ)."""
    duck = exp.Typeof(this=arg)
    ifs = [exp.If(this=exp.EQ(this=duck.copy(), expression=exp.Literal.string(k)), true=exp.Literal.string(v))
           for k, v in _TYPE_NAMES.items()]
    decimal = exp.Anonymous(this="replace", expressions=[
        exp.Lower(this=duck.copy()), exp.Literal.string(" "), exp.Literal.string("")])
    return exp.Case(ifs=ifs, default=decimal)


_CAST_FUNCTIONS = {
    "bigint": "BIGINT", "smallint": "SMALLINT", "tinyint": "TINYINT", "binary": "BINARY", "decimal": "DECIMAL(10, 0)",
}
"""Spark's cast functions DuckDB does not have (``int(x)``, ``double(x)``... sqlglot maps)."""


def _renamed(node: exp.Expr) -> exp.Expr | None:
    """Spark functions DuckDB has under another name or as an operator."""
    if isinstance(node, exp.Typeof):
        return _spark_typeof(node.this)
    if not isinstance(node, exp.Anonymous):
        return None
    name = str(node.this).lower()
    args = list(node.expressions)
    if name in _CAST_FUNCTIONS and len(args) == 1:
        return exp.Cast(this=args[0], to=exp.DataType.build(_CAST_FUNCTIONS[name], dialect="spark"))
    if name == "isnull" and len(args) == 1:
        return exp.Paren(this=exp.Is(this=args[0], expression=exp.Null()))
    if name == "isnotnull" and len(args) == 1:
        return exp.Paren(this=exp.Not(this=exp.Is(this=args[0], expression=exp.Null())))
    if name == "btrim" and len(args) == 1:
        return exp.Trim(this=args[0])
    if name == "typeof" and len(args) == 1:
        return _spark_typeof(args[0])
    if name == "timestamp_seconds" and len(args) == 1:
        return exp.Anonymous(this="to_timestamp", expressions=args)
    return None


def to_duckdb(tree: exp.Expr, settings: SparkSqlSettings) -> exp.Expr:
    """Rewrite a Spark SQL tree so DuckDB computes Spark's result (see module docstring).

    - ``date_add``/``date_sub``/``add_months`` return DATE (DuckDB: TIMESTAMP);
    - ``dayofweek`` numbers Sunday 1 ... Saturday 7 (DuckDB: 0 ... 6), ``weekday`` Monday 0;
    - functions with an INT or BIGINT result in Spark keep that type;
    - without ANSI mode, ``CAST`` gives NULL for a value it cannot convert (``TRY_CAST``).
    """

    def fix(node: exp.Expr) -> exp.Expr:
        if isinstance(node, (exp.TsOrDsAdd, exp.AddMonths)) and not isinstance(node.parent, exp.Cast):
            return cast_as(node, "date")
        renamed = _renamed(node)
        if renamed is not None:
            return fix(renamed)  # the replacement gets the rules of what it now is
        if isinstance(node, exp.Upper):
            # Java upper-cases ß to SS (DuckDB: ẞ)
            inner = exp.Anonymous(this="replace", expressions=[node.this, exp.Literal.string("ß"), exp.Literal.string("SS")])
            fixed = exp.Upper(this=inner)
            return fixed
        if isinstance(node, exp.Replace) and node.args.get("replacement") is None:
            return exp.Replace(this=node.this, expression=node.expression, replacement=exp.Literal.string(""))
        if isinstance(node, exp.Nanvl):
            return exp.If(this=exp.IsNan(this=node.this.copy()), true=node.expression, false=node.this)
        if isinstance(node, exp.StrToTime) and not isinstance(node.parent, exp.Cast):
            return cast_as(node, "timestamptz")
        if isinstance(node, exp.Cast) and node.to.this == _T.TIMESTAMP:
            # timestamp(x) / to_timestamp(x): Spark's TIMESTAMP is zoned (DuckDB TIMESTAMPTZ)
            node.set("to", exp.DataType.build("timestamptz"))
        if isinstance(node, exp.RegexpReplace):
            _java_replacement(node)
        if isinstance(node, exp.Substring):
            start = node.args.get("start")
            if isinstance(start, exp.Literal) and start.this == "0":
                node.set("start", exp.Literal.number(1))  # Spark reads position 0 as 1
        if isinstance(node, exp.DateDiff):
            return _datediff(node)
        if isinstance(node, exp.DayOfWeek):
            node = exp.Add(this=node, expression=exp.Literal.number(1))
        elif isinstance(node, exp.Anonymous) and str(node.this).lower() == "weekday":
            node = exp.Sub(this=exp.Anonymous(this="isodow", expressions=[cast_as(node.expressions[0], "date")]),
                           expression=exp.Literal.number(1))
            return cast_as(exp.Paren(this=node), "int")
        if isinstance(node, exp.Add) and isinstance(node.this, exp.DayOfWeek):
            return cast_as(exp.Paren(this=node), "int")
        if _int_result(node) and not isinstance(node.parent, exp.Window):
            return cast_as(node, "int")
        if isinstance(node, exp.Window) and _int_result(node.this):
            return cast_as(node, "int")
        if isinstance(node, _BIGINT_RESULTS):
            return cast_as(node, "bigint")
        typed = typed_rule(node, settings)
        if typed is not None:
            return typed
        if isinstance(node, (exp.Div, exp.Mod, exp.IntDiv)) and settings.ansi:
            return _divide_or_fail(node)
        if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast) and not settings.ansi:
            return exp.TryCast(this=node.this, to=node.to)
        return node

    return _rewrite(tree, fix)


def _rewrite(tree: exp.Expr, fix: Callable[[exp.Expr], exp.Expr]) -> exp.Expr:
    """Apply ``fix`` bottom-up (children before their parent), replacing nodes in place.

    Each node of the tree as given is fixed exactly once; nodes a fix creates are never
    visited again, so a rewrite cannot apply twice.
    """
    root = tree
    for node in reversed(list(tree.walk(bfs=False))):
        parent, key, index = node.parent, node.arg_key, node.index
        typed = node.type
        new = fix(node)  # may adopt ``node`` as a child: its old place is remembered above
        if new is node:
            continue
        if new.type is None and typed is not None:
            new.type = typed  # a rewrite keeps the Spark type of what it replaces
        if parent is None or key is None:
            root = new
        else:
            parent.set(key, new, index)
    return root
