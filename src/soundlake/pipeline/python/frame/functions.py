"""``pyspark.sql.functions`` for soundlake's local DataFrame: each builds Spark SQL.

Use as ``from soundlake.pipelines import functions as F``. A function not listed here
raises a DefinitionError naming the call and the file (at dry-run, since dataset
functions are called when definitions load). Argument conventions follow PySpark 4: column
arguments accept a Column or a column name (``F.left("s", "n")`` reads column ``n``);
pattern/format arguments are literals; each Column carries the name PySpark gives it
(``split(s, ,, -1)``, ``POWER(d, 2)``). The conformance suite (``tests/conformance/frames.py``)
proves both against real PySpark.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp as sx

from soundlake.pipeline.python.frame.column import (
    Column,
    call_function,
    column_ref,
    label_of,
    literal,
    literal_label,
    parse_expression,
    record,
    ref_label,
    to_column,
    to_expr,
    unsupported,
)

# name -> argument kinds, as PySpark 4 takes them: c = column (a str is a column name, a
# number a literal), l = literal (a str is text), * = repeat the next kind for the
# remaining arguments. Trailing arguments left at None are omitted.
_SIGNATURES: dict[str, str] = {
    # strings
    "upper": "c", "lower": "c", "length": "c",
    "initcap": "c", "reverse": "c", "ascii": "c", "base64": "c", "unbase64": "c",
    "regexp_replace": "cll", "regexp_extract": "cll", "split": "clc", "substring": "ccc",
    "lpad": "cll", "rpad": "cll", "instr": "cl", "translate": "cll", "locate": "lcl",
    "concat": "*c", "concat_ws": "l*c", "format_string": "l*c", "format_number": "cl",
    "repeat": "cc", "left": "cc", "right": "cc", "get_json_object": "cl", "to_json": "c",
    # null handling and conditionals
    "coalesce": "*c", "greatest": "*c", "least": "*c", "nvl": "cc", "ifnull": "cc",
    "nullif": "cc", "isnull": "c", "isnan": "c", "nanvl": "cc",
    # math
    "abs": "c", "floor": "c", "ceil": "c", "sqrt": "c", "exp": "c", "log10": "c", "log2": "c",
    "ln": "c", "pow": "cc", "round": "cc", "bround": "cc", "signum": "c", "pmod": "cc",
    # dates and times
    "current_timestamp": "", "current_date": "", "now": "",
    "date_format": "cl", "to_date": "cl", "to_timestamp": "cl", "from_unixtime": "cl",
    "unix_timestamp": "cl", "year": "c", "month": "c", "dayofmonth": "c", "day": "c",
    "dayofweek": "c", "dayofyear": "c", "hour": "c", "minute": "c", "second": "c",
    "quarter": "c", "weekofyear": "c", "last_day": "c", "date_add": "cc", "date_sub": "cc",
    "datediff": "cc", "months_between": "ccl", "add_months": "cc", "trunc": "cl",
    "date_trunc": "lc", "to_utc_timestamp": "cl", "from_utc_timestamp": "cl",
    # aggregates
    "sum": "c", "avg": "c", "min": "c", "max": "c", "first": "cl", "last": "cl",
    "stddev": "c", "stddev_pop": "c", "stddev_samp": "c", "variance": "c", "var_pop": "c",
    "collect_list": "c", "collect_set": "c", "approx_count_distinct": "cl", "any_value": "cl",
    "max_by": "cc", "min_by": "cc", "bool_and": "c", "bool_or": "c", "median": "c",
    # windows
    "row_number": "", "rank": "", "dense_rank": "", "percent_rank": "", "cume_dist": "",
    "ntile": "l", "lag": "cll", "lead": "cll",
    # hashes, collections, structs
    "md5": "c", "sha1": "c", "sha2": "cl", "hash": "*c", "xxhash64": "*c", "crc32": "c",
    "size": "c", "array": "*c", "struct": "*c", "array_contains": "cl", "element_at": "cl",
    "explode": "c", "map_keys": "c", "map_values": "c", "array_distinct": "c",
}


_SPARK_NAMES = {
    "ceil": "CEIL", "floor": "FLOOR", "pow": "POWER", "signum": "SIGNUM", "sqrt": "SQRT", "exp": "EXP", "log10": "LOG10", "log2": "LOG2",
    "rank": "RANK", "dense_rank": "DENSE_RANK", "percent_rank": "PERCENT_RANK",
}
"""Functions PySpark names differently from the call (``POWER(d, 2)`` for ``F.pow``)."""

_TIME_FORMAT = "yyyy-MM-dd HH:mm:ss"
_NAME_DEFAULTS: dict[str, tuple[str, ...]] = {
    "split": ("", "", "-1"), "locate": ("", "", "1"), "regexp_replace": ("", "", "", "1"),
    "from_unixtime": ("", _TIME_FORMAT), "unix_timestamp": ("", _TIME_FORMAT),
    "months_between": ("", "", "true"), "lag": ("", "1", "NULL"), "lead": ("", "1", "NULL"),
    "round": ("", "0"), "bround": ("", "0"),
}
"""Arguments PySpark (or Spark) fills in and names (``split(s, ,, -1)``); the SQL omits them."""


def _label(name: str, args: list[Column]) -> str | None:
    """The name PySpark gives ``F.name(args)``."""
    names = [a.label for a in args]
    if None in names or (name == "unix_timestamp" and not names):
        return None
    if name in ("first", "last", "any_value", "approx_count_distinct"):
        names = names[:1]  # ignoreNulls and rsd are not part of the name
    spark = _SPARK_NAMES.get(name, name)
    defaults = _NAME_DEFAULTS.get(name, ())
    names += defaults[len(names):]
    if name == "isnull":
        return f"({names[0]} IS NULL)"
    if name == "explode":
        return "col"
    return f"{spark}({', '.join(map(str, names))})"


def _build(name: str, kinds: str, args: tuple[Any, ...]) -> Column:
    values = list(args)
    while values and values[-1] is None:
        values.pop()
    converted: list[Any] = []
    position = 0
    repeat: str | None = None
    for value in values:
        if repeat is None:
            if position >= len(kinds):
                raise unsupported(f"functions.{name} with {len(values)} arguments")
            kind = kinds[position]
            if kind == "*":
                repeat = kinds[position + 1]
                kind = repeat
            position += 1
        else:
            kind = repeat
        converted.append(_column_arg(value) if kind == "c" else _literal_arg(value))
    return call_function(name, *converted, label=_label(name, converted))


def _column_arg(value: Any) -> Column:
    if isinstance(value, (list, tuple)):
        raise unsupported("a list where a column is expected")
    return to_column(value) if isinstance(value, (str, Column)) else _literal_arg(value)


def _literal_arg(value: Any) -> Column:
    return value if isinstance(value, Column) else Column(literal(value), literal_label(value))


def _make(name: str, kinds: str) -> Any:
    def function(*args: Any) -> Column:
        return _build(name, kinds, _expand_varargs(kinds, args))

    function.__name__ = name
    function.__doc__ = f"Spark SQL ``{name}``."
    return function


def _expand_varargs(kinds: str, args: tuple[Any, ...]) -> tuple[Any, ...]:
    if "*" in kinds and len(args) == kinds.index("*") + 1 and isinstance(args[-1], (list, tuple)):
        return (*args[:-1], *args[-1])
    return args


for _name, _kinds in _SIGNATURES.items():
    globals()[_name] = _make(_name, _kinds)
power = _make("pow", "cc")


def mean(target: Any) -> Column:
    """``avg(col)`` (PySpark names it ``avg(col)``)."""
    column = _column_arg(target)
    return call_function("avg", column, label=_label("avg", [column]))


def _trim(position: str, name: str, target: Any, chars: Any) -> Column:
    column = _column_arg(target)
    if chars is None:
        return call_function(name, column, label=_label(name, [column]))
    trim_chars = _column_arg(chars)
    record(f"{name}()")
    node = sx.Trim(this=to_expr(column), expression=to_expr(trim_chars), position=position)
    names = (trim_chars.label, column.label)
    return Column(node, None if None in names else f"TRIM({position} {names[0]} FROM {names[1]})")


def trim(col: Any, trim: Any = None) -> Column:
    """``trim(col)``; ``trim(col, chars)`` removes ``chars`` (a Column) from both ends."""
    return _trim("BOTH", "trim", col, trim)


def ltrim(col: Any, trim: Any = None) -> Column:
    """``ltrim(col)``; ``ltrim(col, chars)`` removes ``chars`` (a Column) from the start."""
    return _trim("LEADING", "ltrim", col, trim)


def rtrim(col: Any, trim: Any = None) -> Column:
    """``rtrim(col)``; ``rtrim(col, chars)`` removes ``chars`` (a Column) from the end."""
    return _trim("TRAILING", "rtrim", col, trim)


def col(name: str) -> Column:
    """A column by name (``"a"``, ``"t.a"``, ``"*"``)."""
    node = column_ref(name)
    return Column(node, ref_label(node))


column = col


def lit(value: Any) -> Column:
    """A literal value (a Column is returned unchanged)."""
    return _literal_arg(value)


def expr(text: str) -> Column:
    """A Spark SQL expression (``F.expr("a + 1")``); its column is named by Spark SQL's rules."""
    return Column(parse_expression(text))


def when(condition: Column, value: Any) -> Column:
    """``CASE WHEN condition THEN value``; chain ``.when(...)`` and ``.otherwise(...)``."""
    names = (label_of(condition), label_of(value))
    label = None if None in names else f"CASE WHEN {names[0]} THEN {names[1]} END"
    return Column(sx.Case(ifs=[sx.If(this=to_expr(condition), true=to_expr(value))]), label)


def count(target: Any = "*") -> Column:
    """``count(col)``; ``count("*")`` counts rows (PySpark names it ``count(1)``)."""
    record("count()")
    if isinstance(target, str) and target in ("*", "1"):
        return Column(sx.Count(this=sx.Star()), "count(1)")
    column = to_column(target)
    return Column(sx.Count(this=to_expr(column)), None if column.label is None else f"count({column.label})")


def _distinct(node: type[sx.Expr], name: str, columns: list[Column]) -> Column:
    record(f"{name}()")
    names = [c.label for c in columns]
    label = None if None in names else f"{name}(DISTINCT {', '.join(map(str, names))})"
    return Column(node(this=sx.Distinct(expressions=[to_expr(c) for c in columns])), label)


def countDistinct(first: Any, *more: Any) -> Column:
    """``count(DISTINCT a, b, ...)``."""
    return _distinct(sx.Count, "count", [to_column(c) for c in (first, *more)])


count_distinct = countDistinct


def sum_distinct(target: Any) -> Column:
    """``sum(DISTINCT col)``."""
    return _distinct(sx.Sum, "sum", [to_column(target)])


sumDistinct = sum_distinct


def asc(name: Any) -> Column:
    """Ascending sort on a column (nulls first)."""
    return to_column(name).asc()


def desc(name: Any) -> Column:
    """Descending sort on a column (nulls last)."""
    return to_column(name).desc()


def input_file_name() -> Column:
    """The source file path of a ``read_files`` row (``_metadata.file_path``)."""
    return Column(parse_expression("_metadata.file_path"))


def broadcast(df: Any) -> Any:
    """A join hint; soundlake's engines choose join strategies themselves."""
    return df


__all__ = [  # noqa: PLE0604 - the generated names are strings
    *_SIGNATURES, "trim", "ltrim", "rtrim", "mean", "power", "col", "column", "lit", "expr", "when", "count", "countDistinct",
    "count_distinct", "sum_distinct", "sumDistinct", "asc", "desc", "input_file_name", "broadcast",
]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unsupported(f"functions.{name}", "use F.expr('...') with the Spark SQL function")
