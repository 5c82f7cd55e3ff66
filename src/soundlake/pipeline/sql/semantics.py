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

from soundlake.pipeline.sql.refusal import refuse
from soundlake.pipeline.sql.settings import SparkSqlSettings
from soundlake.pipeline.sql.spark_types import TEXT, is_type
from soundlake.pipeline.sql.typed_rules import SPARK_OPERAND, cast_as, error_call
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


def _guard_divisor(node: exp.Expr, settings: SparkSqlSettings) -> None:
    """A zero divisor fails the query in ANSI mode and gives NULL without it, as in Spark.

    DuckDB gives infinity or NaN for a DOUBLE and fails for an integer ``%``; the divisor
    is replaced in place (keeping its type) unless it is a non-zero number literal.
    """
    divisor = node.expression
    if isinstance(divisor, exp.Literal) and not divisor.is_string and float(divisor.this) != 0:
        return
    guarded: exp.Expr
    if settings.ansi:
        error = error_call(
            "[DIVIDE_BY_ZERO] Division by zero. Use `try_divide` to tolerate divisor being 0 and return NULL instead.")
        zero = exp.and_(exp.EQ(this=divisor.copy(), expression=exp.Literal.number(0)),
                        exp.Not(this=exp.Is(this=node.this.copy(), expression=exp.Null())))  # NULL / 0 is NULL
        guarded = exp.Case(ifs=[exp.If(this=zero, true=error)], default=divisor.copy())
    else:
        guarded = exp.Nullif(this=divisor.copy(), expression=exp.Literal.number(0))
    guarded.type = divisor.type
    guarded.meta[SPARK_OPERAND] = divisor  # the divisor's Spark type rules (a literal's digits)
    node.set("expression", guarded)


_FORMATTED = (exp.StrToTime, exp.StrToUnix, exp.TsOrDsToDate, exp.TimeToStr)
"""Spark's datetime parse and format functions (a Java pattern, translated by sqlglot)."""


def _is_text(node: exp.Expr, value: str) -> bool:
    return isinstance(node, exp.Literal) and node.is_string and node.this == value


def _parsed(node: exp.Expr, settings: SparkSqlSettings) -> exp.Expr | None:
    """Parsing with a pattern: strict, NULL without ANSI mode (DuckDB: ``try_strptime``).

    ``to_date(text, pattern)`` parses with the pattern (sqlglot makes the default pattern a
    CAST, which accepts a time after the date); ``unix_timestamp(text[, pattern])`` is
    whole seconds (BIGINT) of the text read in the session time zone. A pattern that is not
    a literal cannot be translated, and is refused.
    """
    if not isinstance(node, _FORMATTED):
        return None
    pattern = node.args.get("format")
    if pattern is not None and not (isinstance(pattern, exp.Literal) and pattern.is_string):
        refuse(node, "its datetime pattern is not a string literal, so it cannot be translated")
    if isinstance(pattern, exp.Literal):
        node.set("format", exp.Literal.string(_unquoted(node, pattern.this)))
    if isinstance(node, exp.StrToTime):
        node.set("safe", not settings.ansi or None)
        return None
    if isinstance(node, exp.TsOrDsToDate) and pattern is not None:
        return cast_as(exp.StrToTime(this=node.this, format=pattern, safe=not settings.ansi or None), "date")
    if isinstance(node, exp.StrToUnix) and pattern is not None and is_type(node.this, *TEXT):
        local = exp.StrToTime(this=node.this, format=pattern, safe=not settings.ansi or None)
        seconds = exp.Anonymous(this="epoch", expressions=[cast_as(local, "timestamptz")])
        return cast_as(exp.Floor(this=seconds), "bigint")
    return None


_DIRECTIVE = re.compile(r"%-?[A-Za-z](strict)?")


def _unquoted(node: exp.Expr, pattern: str) -> str:
    """The translated pattern with Java's quoted text (``'T'``, ``''`` for a quote) as literal text.

    A letter left outside quotes is a Java pattern letter sqlglot did not translate
    (``QQ``, ``w``...): the pattern is refused rather than printed as text.
    """
    parts = pattern.split("'")
    text = []
    for k, part in enumerate(parts):
        if k % 2 == 0:
            part = re.sub(r"(?<![S%])SSS(?!S)", "%g", part)  # milliseconds
            letter = re.search(r"[A-Za-z]", _DIRECTIVE.sub("", part))
            if letter is not None:
                refuse(node, f"the pattern letter '{letter.group()}' of its datetime pattern cannot be translated")
            text.append(part)
        elif "%" in part:
            refuse(node, f"the quoted text '{part}' of its datetime pattern cannot be translated")
        else:
            text.append(part or "'")
    if len(parts) % 2 == 0:
        refuse(node, "its datetime pattern has an unclosed quote")
    return "".join(text)


def _java_replacement(node: exp.RegexpReplace) -> None:
    """Java's ``$1`` group references in a replacement become RE2's ``\\1``."""
    replacement = node.args.get("replacement")
    if isinstance(replacement, exp.Literal) and replacement.is_string and "$" in replacement.this:
        text = re.sub(r"(?<!\\)\$(\d)", r"\\\1", replacement.this).replace("\\$", "$")
        node.set("replacement", exp.Literal.string(text))


def _datediff(node: exp.DateDiff | exp.TimestampDiff) -> exp.Expr:
    """``datediff(end, start)`` counts calendar days (INT); ``timestampdiff(unit, start, end)``
    (also ``datediff`` with three arguments) counts whole units between the instants (BIGINT)."""
    unit = node.args.get("unit")
    name = unit.name.lower() if isinstance(unit, (exp.Var, exp.Literal, exp.Identifier)) else "day"
    end, start = node.this, node.expression
    if isinstance(node, exp.DateDiff) and name == "day":
        days = exp.Anonymous(this="date_diff", expressions=[
            exp.Literal.string("day"), cast_as(start.copy(), "date"), cast_as(end.copy(), "date")])
        return cast_as(days, "int")
    # on local date-times of the session zone, as Spark (DuckDB's zoned date_sub drops microseconds)
    local_start = cast_as(cast_as(start.copy(), "timestamptz"), "timestamp")
    local_end = cast_as(cast_as(end.copy(), "timestamptz"), "timestamp")
    whole = exp.Anonymous(this="date_sub", expressions=[exp.Literal.string(name), local_start, local_end])
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
        if isinstance(node, exp.Table) and isinstance(node.this, exp.Anonymous) and str(node.this.this).lower() == "range":
            return _spark_range(node)
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
        parsed = _parsed(node, settings)
        if parsed is not None:
            return parsed
        if isinstance(node, exp.StrToTime) and not isinstance(node.parent, exp.Cast):
            return cast_as(node, "timestamptz")
        if isinstance(node, exp.RegexpSplit) and _is_text(node.expression, ""):
            # Spark splits '' into [''] (DuckDB: [])
            empty = exp.EQ(this=node.this.copy(), expression=exp.Literal.string(""))
            return exp.Case(ifs=[exp.If(this=empty, true=exp.Array(expressions=[exp.Literal.string("")]))], default=node)
        if isinstance(node, exp.Cast) and node.to.this == _T.TIMESTAMP:
            # timestamp(x) / to_timestamp(x): Spark's TIMESTAMP is zoned (DuckDB TIMESTAMPTZ)
            node.set("to", exp.DataType.build("timestamptz"))
        if isinstance(node, exp.RegexpReplace):
            _java_replacement(node)
        if isinstance(node, exp.Substring):
            start = node.args.get("start")
            if isinstance(start, exp.Literal) and start.this == "0":
                node.set("start", exp.Literal.number(1))  # Spark reads position 0 as 1
        if isinstance(node, (exp.DateDiff, exp.TimestampDiff)):
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
        if isinstance(node, (exp.Div, exp.Mod, exp.IntDiv)):
            _guard_divisor(node, settings)
        typed = typed_rule(node, settings)
        if typed is not None:
            return typed
        if isinstance(node, exp.Cast) and not isinstance(node, exp.TryCast) and not settings.ansi:
            return exp.TryCast(this=node.this, to=node.to)
        return node

    return _rewrite(tree, fix)


def _spark_range(table: exp.Table) -> exp.Expr:
    """``FROM range(...)``: Spark's one BIGINT column ``id`` (DuckDB names it ``range``).

    ``range(end)``, ``range(start, end[, step[, numPartitions]])``: the partition count
    means nothing to DuckDB and is dropped; the bounds and step mean the same.
    """
    args = [a.copy() for a in table.this.expressions[:3]]
    inner = exp.select(exp.alias_(exp.column("range"), "id")).from_(
        exp.Table(this=exp.Anonymous(this="range", expressions=args))
    )
    alias = table.args.get("alias")  # without one, Spark's range has no name to qualify `id` with
    return exp.Subquery(this=inner, alias=alias.copy() if alias is not None else None)


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
