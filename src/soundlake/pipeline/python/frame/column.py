"""PySpark-compatible ``Column``, ``Window`` and type objects that build Spark SQL.

A :class:`Column` wraps a sqlglot expression in the Spark SQL (Databricks) dialect. Nothing
here executes: columns become SQL text that the pipeline runtime runs (on DuckDB after
transpiling with sqlglot, or on Spark).
"""

from __future__ import annotations

import datetime as _dt
import decimal
import os
import sys
from collections.abc import Iterable
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from soundlake.core.errors import DefinitionError

DIALECT = "databricks"
_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DISPLAY_NAMES: dict[str, str] = {}
"""Absolute file path -> name used in messages (set by the pipeline loader)."""


def call_site() -> str:
    """``file:line`` of the innermost caller outside soundlake (for error messages)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR + os.sep) or filename in DISPLAY_NAMES:
            return f"{DISPLAY_NAMES.get(filename, frame.f_code.co_filename)}:{frame.f_lineno}"
        frame = frame.f_back  # type: ignore[assignment]
    return "<unknown>"


def unsupported(call: str, hint: str | None = None) -> DefinitionError:
    """A DefinitionError for a PySpark call soundlake's local DataFrame does not support."""
    return DefinitionError(
        f"{call_site()}: unsupported call '{call}' in a pipeline dataset function", hint=hint
    )


def parse_expression(text: str) -> exp.Expr:
    """Parse one Spark SQL expression (``F.expr``, ``filter("...")``)."""
    try:
        return sqlglot.parse_one(text, read=DIALECT)
    except SqlglotError as exc:
        message = str(exc).strip().splitlines()[0]
        raise DefinitionError(f"{call_site()}: invalid SQL expression {text!r}: {message}") from exc


def column_ref(name: str) -> exp.Expr:
    """A column reference from a name (``a``, ``t.a``, ``*``, ``t.*``, backquoted parts)."""
    if name == "*":
        return exp.Star()
    if "." in name or "`" in name:
        return parse_expression(name)
    return exp.column(exp.to_identifier(name))


class Column:
    """A column expression (PySpark ``Column``): operators, ``alias``, ``cast``, ``over``..."""

    __slots__ = ("expr",)

    def __init__(self, expr: exp.Expr) -> None:
        self.expr = expr

    # -- naming ---------------------------------------------------------------------------

    def alias(self, *names: str, **_: Any) -> Column:
        if len(names) != 1:
            raise unsupported("Column.alias with several names")
        return Column(exp.alias_(self._unaliased(), exp.to_identifier(names[0])))

    name = alias

    def _unaliased(self) -> exp.Expr:
        return self.expr.this if isinstance(self.expr, exp.Alias) else self.expr

    @property
    def output_name(self) -> str | None:
        """The output column name when obvious (an alias or a plain column)."""
        if isinstance(self.expr, exp.Alias):
            return self.expr.alias
        if isinstance(self.expr, exp.Column) and not isinstance(self.expr.this, exp.Star):
            return self.expr.name
        return None

    # -- operators --------------------------------------------------------------------------

    def _bin(self, cls: type[exp.Expr], other: Any, reverse: bool = False) -> Column:
        left, right = self._unaliased(), to_expr(other)
        if reverse:
            left, right = right, left
        return Column(cls(this=_paren(left), expression=_paren(right)))

    def __add__(self, o: Any) -> Column: return self._bin(exp.Add, o)
    def __radd__(self, o: Any) -> Column: return self._bin(exp.Add, o, True)
    def __sub__(self, o: Any) -> Column: return self._bin(exp.Sub, o)
    def __rsub__(self, o: Any) -> Column: return self._bin(exp.Sub, o, True)
    def __mul__(self, o: Any) -> Column: return self._bin(exp.Mul, o)
    def __rmul__(self, o: Any) -> Column: return self._bin(exp.Mul, o, True)
    def __truediv__(self, o: Any) -> Column: return self._bin(exp.Div, o)
    def __rtruediv__(self, o: Any) -> Column: return self._bin(exp.Div, o, True)
    def __mod__(self, o: Any) -> Column: return self._bin(exp.Mod, o)
    def __eq__(self, o: object) -> Column: return self._bin(exp.EQ, o)  # type: ignore[override]
    def __ne__(self, o: object) -> Column: return self._bin(exp.NEQ, o)  # type: ignore[override]
    def __lt__(self, o: Any) -> Column: return self._bin(exp.LT, o)
    def __le__(self, o: Any) -> Column: return self._bin(exp.LTE, o)
    def __gt__(self, o: Any) -> Column: return self._bin(exp.GT, o)
    def __ge__(self, o: Any) -> Column: return self._bin(exp.GTE, o)
    def __and__(self, o: Any) -> Column: return self._bin(exp.And, o)
    def __rand__(self, o: Any) -> Column: return self._bin(exp.And, o, True)
    def __or__(self, o: Any) -> Column: return self._bin(exp.Or, o)
    def __ror__(self, o: Any) -> Column: return self._bin(exp.Or, o, True)
    def __invert__(self) -> Column: return Column(exp.Not(this=_paren(self._unaliased())))
    def __neg__(self) -> Column: return Column(exp.Neg(this=_paren(self._unaliased())))

    def __bool__(self) -> bool:
        raise DefinitionError(
            f"{call_site()}: a Column has no truth value; use '&', '|' and '~' instead of "
            "'and', 'or' and 'not'"
        )

    __hash__ = None  # type: ignore[assignment]

    def eqNullSafe(self, o: Any) -> Column:
        return self._bin(exp.NullSafeEQ, o)

    # -- predicates -------------------------------------------------------------------------

    def isNull(self) -> Column:
        return Column(exp.Is(this=_paren(self._unaliased()), expression=exp.Null()))

    def isNotNull(self) -> Column:
        return Column(exp.Not(this=exp.Is(this=_paren(self._unaliased()), expression=exp.Null())))

    def isin(self, *values: Any) -> Column:
        items = list(values[0]) if len(values) == 1 and isinstance(values[0], (list, tuple, set)) else list(values)
        return Column(exp.In(this=_paren(self._unaliased()), expressions=[to_expr(v) for v in items]))

    def between(self, low: Any, high: Any) -> Column:
        return Column(exp.Between(this=_paren(self._unaliased()), low=to_expr(low), high=to_expr(high)))

    def like(self, pattern: str) -> Column:
        return self._bin(exp.Like, pattern)

    def ilike(self, pattern: str) -> Column:
        return self._bin(exp.ILike, pattern)

    def rlike(self, pattern: str) -> Column:
        return Column(exp.RegexpLike(this=self._unaliased(), expression=to_expr(pattern)))

    def contains(self, other: Any) -> Column:
        return call_function("contains", self, other)

    def startswith(self, other: Any) -> Column:
        return call_function("startswith", self, other)

    def endswith(self, other: Any) -> Column:
        return call_function("endswith", self, other)

    # -- conversion, structure --------------------------------------------------------------

    def cast(self, data_type: Any) -> Column:
        text = data_type if isinstance(data_type, str) else data_type.simpleString()
        try:
            target = exp.DataType.build(text, dialect=DIALECT)
        except (SqlglotError, ValueError) as exc:
            raise DefinitionError(f"{call_site()}: unknown type {text!r} in cast") from exc
        return Column(exp.Cast(this=self._unaliased(), to=target))

    astype = cast

    def substr(self, start: Any, length: Any) -> Column:
        return call_function("substring", self, start, length)

    def getField(self, name: str) -> Column:
        return Column(exp.Dot(this=self._unaliased(), expression=exp.to_identifier(name)))

    def getItem(self, key: Any) -> Column:
        return Column(exp.Bracket(this=self._unaliased(), expressions=[to_expr(key)]))

    def __getitem__(self, key: Any) -> Column:
        return self.getField(key) if isinstance(key, str) else self.getItem(key)

    # -- CASE WHEN --------------------------------------------------------------------------

    def when(self, condition: Any, value: Any) -> Column:
        case = self._unaliased()
        if not isinstance(case, exp.Case) or case.args.get("default") is not None:
            raise unsupported("Column.when", "call when() on F.when(...) before otherwise()")
        return Column(case.copy().when(to_expr(condition), to_expr(value)))

    def otherwise(self, value: Any) -> Column:
        case = self._unaliased()
        if not isinstance(case, exp.Case):
            raise unsupported("Column.otherwise", "otherwise() follows F.when(...)")
        return Column(case.copy().else_(to_expr(value)))

    # -- ordering and windows ---------------------------------------------------------------

    def asc(self) -> Column:
        return Column(exp.Ordered(this=self._unaliased(), desc=False, nulls_first=True))

    def desc(self) -> Column:
        return Column(exp.Ordered(this=self._unaliased(), desc=True, nulls_first=False))

    def asc_nulls_first(self) -> Column:
        return Column(exp.Ordered(this=self._unaliased(), desc=False, nulls_first=True))

    def asc_nulls_last(self) -> Column:
        return Column(exp.Ordered(this=self._unaliased(), desc=False, nulls_first=False))

    def desc_nulls_first(self) -> Column:
        return Column(exp.Ordered(this=self._unaliased(), desc=True, nulls_first=True))

    def desc_nulls_last(self) -> Column:
        return Column(exp.Ordered(this=self._unaliased(), desc=True, nulls_first=False))

    def over(self, window: WindowSpec | None = None) -> Column:
        spec = window or WindowSpec()
        return Column(
            exp.Window(
                this=self._unaliased(),
                partition_by=[c.copy() for c in spec.partition] or None,
                order=exp.Order(expressions=[c.copy() for c in spec.order]) if spec.order else None,
                spec=spec.frame.copy() if spec.frame is not None else None,
            )
        )

    def __repr__(self) -> str:
        return f"Column<'{self.expr.sql(DIALECT)}'>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        raise unsupported(f"Column.{name}")


def _paren(node: exp.Expr) -> exp.Expr:
    simple = (exp.Column, exp.Literal, exp.Func, exp.Paren, exp.Null, exp.Boolean, exp.Cast, exp.Star)
    return node if isinstance(node, simple) else exp.Paren(this=node)


def to_expr(value: Any) -> exp.Expr:
    """A sqlglot expression for a Column or a Python literal."""
    if isinstance(value, Column):
        return value._unaliased()
    return literal(value)


def to_column(value: Any) -> Column:
    """A Column for a Column or a column name."""
    if isinstance(value, Column):
        return value
    if isinstance(value, str):
        return Column(column_ref(value))
    raise DefinitionError(f"{call_site()}: expected a column or column name, got {type(value).__name__}")


def literal(value: Any) -> exp.Expr:
    """A Spark SQL literal for a Python value."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, (int, float, decimal.Decimal)):
        return exp.Literal.number(value)
    if isinstance(value, str):
        return exp.Literal.string(value)
    if isinstance(value, _dt.datetime):
        return exp.Cast(this=exp.Literal.string(value.isoformat(sep=" ")), to=exp.DataType.build("timestamp"))
    if isinstance(value, _dt.date):
        return exp.Cast(this=exp.Literal.string(value.isoformat()), to=exp.DataType.build("date"))
    if isinstance(value, (list, tuple)):
        return exp.Array(expressions=[literal(v) for v in value])
    raise DefinitionError(f"{call_site()}: cannot use a {type(value).__name__} as a SQL literal")


def call_function(name: str, *args: Any) -> Column:
    """``name(args...)`` parsed as Spark SQL so that sqlglot knows the function's meaning."""
    sql_args = ", ".join(_arg_sql(a) for a in args)
    return Column(parse_expression(f"{name}({sql_args})"))


def _arg_sql(value: Any) -> str:
    return to_expr(to_column(value) if isinstance(value, str) else value).sql(DIALECT)


class WindowSpec:
    """``Window.partitionBy(...).orderBy(...).rowsBetween(...)``."""

    def __init__(
        self,
        partition: Iterable[exp.Expr] = (),
        order: Iterable[exp.Expr] = (),
        frame: exp.WindowSpec | None = None,
    ) -> None:
        self.partition = list(partition)
        self.order = list(order)
        self.frame = frame

    def partitionBy(self, *cols: Any) -> WindowSpec:
        names = _flatten(cols)
        return WindowSpec([to_expr(to_column(c)) for c in names], self.order, self.frame)

    def orderBy(self, *cols: Any) -> WindowSpec:
        names = _flatten(cols)
        return WindowSpec(self.partition, [order_expr(c) for c in names], self.frame)

    def rowsBetween(self, start: int, end: int) -> WindowSpec:
        return WindowSpec(self.partition, self.order, _frame("ROWS", start, end))

    def rangeBetween(self, start: int, end: int) -> WindowSpec:
        return WindowSpec(self.partition, self.order, _frame("RANGE", start, end))


UNBOUNDED = 1 << 62


def _frame(kind: str, start: int, end: int) -> exp.WindowSpec:
    def bound(value: int) -> tuple[Any, Any]:
        if value <= -UNBOUNDED:
            return "UNBOUNDED", "PRECEDING"
        if value >= UNBOUNDED:
            return "UNBOUNDED", "FOLLOWING"
        if value == 0:
            return "CURRENT ROW", None
        return exp.Literal.number(abs(value)), ("PRECEDING" if value < 0 else "FOLLOWING")

    s, s_side = bound(start)
    e, e_side = bound(end)
    return exp.WindowSpec(kind=kind, start=s, start_side=s_side, end=e, end_side=e_side)


class Window:
    """``pyspark.sql.Window``: build a :class:`WindowSpec`."""

    unboundedPreceding = -UNBOUNDED
    unboundedFollowing = UNBOUNDED
    currentRow = 0

    @staticmethod
    def partitionBy(*cols: Any) -> WindowSpec:
        return WindowSpec().partitionBy(*cols)

    @staticmethod
    def orderBy(*cols: Any) -> WindowSpec:
        return WindowSpec().orderBy(*cols)


def order_expr(value: Any) -> exp.Expr:
    """An ORDER BY item: a Column (``asc()``/``desc()`` kept) or a name (ascending)."""
    column = to_column(value)
    node = column.expr
    if isinstance(node, exp.Ordered):
        return node
    return exp.Ordered(this=column._unaliased(), desc=False, nulls_first=True)


def _flatten(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, (list, tuple)):
            out.extend(value)
        else:
            out.append(value)
    return out


flatten = _flatten
