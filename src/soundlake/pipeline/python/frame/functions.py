"""``pyspark.sql.functions`` for soundlake's local DataFrame: each builds Spark SQL.

Use as ``from soundlake.pipelines import functions as F``. A function not listed here
raises a DefinitionError naming the call and the file (at dry-run, since dataset
functions are called when definitions load). Argument conventions follow PySpark: column
arguments accept a Column or a column name; pattern/format/count arguments are literals.
"""

from __future__ import annotations

from typing import Any

from sqlglot import exp as sx

from soundlake.pipeline.python.frame.column import (
    Column,
    call_function,
    column_ref,
    literal,
    parse_expression,
    to_column,
    to_expr,
    unsupported,
)

# name -> argument kinds: c = column (a str is a column name), l = literal, * = repeat the
# next kind for the remaining arguments. Trailing arguments left at None are omitted.
_SIGNATURES: dict[str, str] = {
    # strings
    "upper": "c", "lower": "c", "trim": "c", "ltrim": "c", "rtrim": "c", "length": "c",
    "initcap": "c", "reverse": "c", "ascii": "c", "base64": "c", "unbase64": "c",
    "regexp_replace": "cll", "regexp_extract": "cll", "split": "cll", "substring": "cll",
    "lpad": "cll", "rpad": "cll", "instr": "cl", "translate": "cll", "locate": "lcl",
    "concat": "*c", "concat_ws": "l*c", "format_string": "l*c", "format_number": "cl",
    "repeat": "cl", "left": "cl", "right": "cl", "get_json_object": "cl", "to_json": "c",
    # null handling and conditionals
    "coalesce": "*c", "greatest": "*c", "least": "*c", "nvl": "cc", "ifnull": "cc",
    "nullif": "cc", "isnull": "c", "isnan": "c", "nanvl": "cc",
    # math
    "abs": "c", "floor": "c", "ceil": "c", "sqrt": "c", "exp": "c", "log10": "c", "log2": "c",
    "ln": "c", "pow": "cc", "round": "cl", "bround": "cl", "signum": "c", "pmod": "cc",
    # dates and times
    "current_timestamp": "", "current_date": "", "now": "",
    "date_format": "cl", "to_date": "cl", "to_timestamp": "cl", "from_unixtime": "cl",
    "unix_timestamp": "cl", "year": "c", "month": "c", "dayofmonth": "c", "day": "c",
    "dayofweek": "c", "dayofyear": "c", "hour": "c", "minute": "c", "second": "c",
    "quarter": "c", "weekofyear": "c", "last_day": "c", "date_add": "cl", "date_sub": "cl",
    "datediff": "cc", "months_between": "cc", "add_months": "cl", "trunc": "cl",
    "date_trunc": "lc", "to_utc_timestamp": "cl", "from_utc_timestamp": "cl",
    # aggregates
    "sum": "c", "avg": "c", "min": "c", "max": "c", "first": "cl", "last": "cl",
    "stddev": "c", "stddev_pop": "c", "stddev_samp": "c", "variance": "c", "var_pop": "c",
    "collect_list": "c", "collect_set": "c", "approx_count_distinct": "c", "any_value": "c",
    "max_by": "cc", "min_by": "cc", "bool_and": "c", "bool_or": "c", "median": "c",
    # windows
    "row_number": "", "rank": "", "dense_rank": "", "percent_rank": "", "cume_dist": "",
    "ntile": "l", "lag": "cll", "lead": "cll",
    # hashes, collections, structs
    "md5": "c", "sha1": "c", "sha2": "cl", "hash": "*c", "xxhash64": "*c", "crc32": "c",
    "size": "c", "array": "*c", "struct": "*c", "array_contains": "cl", "element_at": "cl",
    "explode": "c", "map_keys": "c", "map_values": "c", "array_distinct": "c",
}


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
    return call_function(name, *converted)


def _column_arg(value: Any) -> Column:
    if isinstance(value, (list, tuple)):
        raise unsupported("a list where a column is expected")
    return to_column(value) if isinstance(value, (str, Column)) else Column(literal(value))


def _literal_arg(value: Any) -> Column:
    return value if isinstance(value, Column) else Column(literal(value))


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
mean = _make("avg", "c")
power = _make("pow", "cc")


def col(name: str) -> Column:
    """A column by name (``"a"``, ``"t.a"``, ``"*"``)."""
    return Column(column_ref(name))


column = col


def lit(value: Any) -> Column:
    """A literal value (a Column is returned unchanged)."""
    return value if isinstance(value, Column) else Column(literal(value))


def expr(text: str) -> Column:
    """A Spark SQL expression (``F.expr("a + 1")``)."""
    return Column(parse_expression(text))


def when(condition: Column, value: Any) -> Column:
    """``CASE WHEN condition THEN value``; chain ``.when(...)`` and ``.otherwise(...)``."""
    return Column(sx.Case(ifs=[sx.If(this=to_expr(condition), true=to_expr(value))]))


def count(target: Any = "*") -> Column:
    """``count(col)``; ``count("*")`` counts rows."""
    if isinstance(target, str) and target in ("*", "1"):
        return Column(sx.Count(this=sx.Star()))
    return Column(sx.Count(this=to_expr(to_column(target))))


def countDistinct(first: Any, *more: Any) -> Column:
    """``count(DISTINCT a, b, ...)``."""
    items = [to_expr(to_column(c)) for c in (first, *more)]
    return Column(sx.Count(this=sx.Distinct(expressions=items)))


count_distinct = countDistinct


def sum_distinct(target: Any) -> Column:
    """``sum(DISTINCT col)``."""
    return Column(sx.Sum(this=sx.Distinct(expressions=[to_expr(to_column(target))])))


sumDistinct = sum_distinct


def asc(name: str) -> Column:
    """Ascending sort on a column."""
    return col(name).asc()


def desc(name: str) -> Column:
    """Descending sort on a column."""
    return col(name).desc()


def input_file_name() -> Column:
    """The source file path of a ``read_files`` row (``_metadata.file_path``)."""
    return Column(parse_expression("_metadata.file_path"))


def broadcast(df: Any) -> Any:
    """A join hint; soundlake's engines choose join strategies themselves."""
    return df


__all__ = [  # noqa: PLE0604 - the generated names are strings
    *_SIGNATURES, "mean", "power", "col", "column", "lit", "expr", "when", "count", "countDistinct",
    "count_distinct", "sum_distinct", "sumDistinct", "asc", "desc", "input_file_name", "broadcast",
]


def __getattr__(name: str) -> Any:
    if name.startswith("__"):
        raise AttributeError(name)
    raise unsupported(f"functions.{name}", "use F.expr('...') with the Spark SQL function")
