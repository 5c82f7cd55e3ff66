"""PySpark-compatible ``Column``, ``Window`` and type objects that build Spark SQL.

A :class:`Column` wraps a sqlglot expression in the Spark SQL (Databricks) dialect. Nothing
here executes: columns become SQL text that the pipeline runtime runs (on DuckDB after
transpiling with sqlglot, or on Spark). While :func:`recording` is active, the Spark SQL
each call writes (``log10()`` for ``F.log10``, the text of ``F.expr``) is recorded with the
file and line of the call, for the dry-run's function check.
"""

from __future__ import annotations

import datetime as _dt
import decimal
import math
import os
import re
import sys
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from soundlake.core.errors import DefinitionError
from soundlake.core.spark_values import java_double
from soundlake.pipeline.definitions import SourceLocation, WrittenSql
from soundlake.pipeline.sql.dialect import SPARK_SQL, SparkSql

DIALECT = SPARK_SQL
"""The dialect the frame writes: Spark SQL as Spark 4 reads it."""


class AsWritten(SparkSql):
    """Spark SQL whose function calls keep the name and arguments they were written with.

    sqlglot's parse rewrites some calls on the way through: ``to_date(s, 'yyyy-MM-dd')``
    comes back as ``TO_DATE(s)`` (which Spark reads leniently), ``signum`` as ``SIGN``,
    ``log10(x)`` as ``LOG(10, x)``. The frame reads with this dialect, so the SQL it writes
    calls what the user called and translates exactly like the same call in a SQL file
    (the engine's translation parses the text again).
    """

    class Parser(SparkSql.Parser):
        FUNCTIONS = {}  # noqa: RUF012 - sqlglot's own attribute: no call is rewritten


_PACKAGE_DIR = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
DISPLAY_NAMES: dict[str, str] = {}
"""Absolute file path -> name used in messages (set by the pipeline loader)."""
_WRITTEN: ContextVar[list[WrittenSql] | None] = ContextVar("soundlake_frame_written", default=None)


def call_location() -> SourceLocation:
    """File and line of the innermost caller outside soundlake (``<unknown>`` when none)."""
    frame = sys._getframe(1)
    while frame is not None:
        filename = os.path.abspath(frame.f_code.co_filename)
        if not filename.startswith(_PACKAGE_DIR + os.sep) or filename in DISPLAY_NAMES:
            return SourceLocation(DISPLAY_NAMES.get(filename, frame.f_code.co_filename), frame.f_lineno)
        frame = frame.f_back  # type: ignore[assignment]
    return SourceLocation("<unknown>", 0)


def call_site() -> str:
    """``file:line`` of the innermost caller outside soundlake (for error messages)."""
    where = call_location()
    return where.file if where.file == "<unknown>" else str(where)


@contextmanager
def recording() -> Iterator[list[WrittenSql]]:
    """Record the Spark SQL each DataFrame API call writes while the block runs."""
    found: list[WrittenSql] = []
    token = _WRITTEN.set(found)
    try:
        yield found
    finally:
        _WRITTEN.reset(token)


def record(sql: str) -> None:
    """Note Spark SQL written by a DataFrame API call (with the call's file and line)."""
    found = _WRITTEN.get()
    if found is not None and "(" in sql:
        found.append(WrittenSql(sql, call_location()))


def unsupported(call: str, hint: str | None = None) -> DefinitionError:
    """A DefinitionError for a PySpark call soundlake's local DataFrame does not support."""
    return DefinitionError(
        f"{call_site()}: unsupported call '{call}' in a pipeline dataset function", hint=hint
    )


def parse_expression(text: str, *, written: bool = True) -> exp.Expr:
    """Parse one Spark SQL expression (``F.expr``, ``filter("...")``).

    ``written`` records the text as the user's (see :func:`record`); soundlake's own
    expressions pass False.
    """
    if written:
        record(text)
    try:
        return sqlglot.parse_one(text, read=AsWritten)
    except SqlglotError as exc:
        message = str(exc).strip().splitlines()[0]
        raise DefinitionError(f"{call_site()}: invalid SQL expression {text!r}: {message}") from exc


def column_ref(name: str) -> exp.Expr:
    """A column reference from a name (``a``, ``t.a``, ``*``, ``t.*``, backquoted parts)."""
    if name == "*":
        return exp.Star()
    if "." in name or "`" in name:
        return parse_expression(name, written=False)
    return exp.column(exp.to_identifier(name))


class Column:
    """A column expression (PySpark ``Column``): operators, ``alias``, ``cast``, ``over``...

    ``label`` is the name PySpark gives the column when it is selected without an alias
    (``upper(s)``, ``(i + 1)``, ``CASE WHEN (i > 1) THEN a END``); None when soundlake
    does not know it (``F.expr`` text), and Spark SQL's naming rules apply.
    """

    __slots__ = ("expr", "label")

    def __init__(self, expr: exp.Expr, label: str | None = None) -> None:
        self.expr = expr
        self.label = label

    # -- naming ---------------------------------------------------------------------------

    def alias(self, *names: str, **_: Any) -> Column:
        if len(names) != 1:
            raise unsupported("Column.alias with several names")
        return Column(exp.alias_(self._unaliased(), exp.to_identifier(names[0])), names[0])

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
    # PySpark keeps the column on the left of ``+ * & |`` (``1 + c`` is ``(c + 1)``) and
    # swaps only the operators that do not commute (``1 - c`` is ``(1 - c)``).

    def _bin(self, cls: type[exp.Expr], other: Any, reverse: bool = False) -> Column:
        left, right = self._unaliased(), to_expr(other)
        names = [self.label, label_of(other)]
        if reverse:
            left, right = right, left
            names.reverse()
        label = None if None in names else _OPERATOR_LABELS[cls].format(*names)
        return Column(cls(this=_paren(left), expression=_paren(right)), label)

    def __add__(self, o: Any) -> Column: return self._bin(exp.Add, o)
    def __radd__(self, o: Any) -> Column: return self._bin(exp.Add, o)
    def __sub__(self, o: Any) -> Column: return self._bin(exp.Sub, o)
    def __rsub__(self, o: Any) -> Column: return self._bin(exp.Sub, o, True)
    def __mul__(self, o: Any) -> Column: return self._bin(exp.Mul, o)
    def __rmul__(self, o: Any) -> Column: return self._bin(exp.Mul, o)
    def __truediv__(self, o: Any) -> Column: return self._bin(exp.Div, o)
    def __rtruediv__(self, o: Any) -> Column: return self._bin(exp.Div, o, True)
    def __mod__(self, o: Any) -> Column: return self._bin(exp.Mod, o)
    def __rmod__(self, o: Any) -> Column: return self._bin(exp.Mod, o, True)
    def __pow__(self, o: Any) -> Column: return _power(self, _value(o))
    def __rpow__(self, o: Any) -> Column: return _power(_value(o), self)
    def __eq__(self, o: object) -> Column: return self._bin(exp.EQ, o)  # type: ignore[override]
    def __ne__(self, o: object) -> Column: return self._bin(exp.NEQ, o)  # type: ignore[override]
    def __lt__(self, o: Any) -> Column: return self._bin(exp.LT, o)
    def __le__(self, o: Any) -> Column: return self._bin(exp.LTE, o)
    def __gt__(self, o: Any) -> Column: return self._bin(exp.GT, o)
    def __ge__(self, o: Any) -> Column: return self._bin(exp.GTE, o)
    def __and__(self, o: Any) -> Column: return self._bin(exp.And, o)
    def __rand__(self, o: Any) -> Column: return self._bin(exp.And, o)
    def __or__(self, o: Any) -> Column: return self._bin(exp.Or, o)
    def __ror__(self, o: Any) -> Column: return self._bin(exp.Or, o)

    def __invert__(self) -> Column:
        return Column(exp.Not(this=_paren(self._unaliased())), _wrap("(NOT {})", self.label))

    def __neg__(self) -> Column:
        return Column(exp.Neg(this=_paren(self._unaliased())), _wrap("negative({})", self.label))

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
        return Column(exp.Is(this=_paren(self._unaliased()), expression=exp.Null()), _wrap("({} IS NULL)", self.label))

    def isNotNull(self) -> Column:
        return Column(
            exp.Not(this=exp.Is(this=_paren(self._unaliased()), expression=exp.Null())),
            _wrap("({} IS NOT NULL)", self.label),
        )

    def isin(self, *values: Any) -> Column:
        items = list(values[0]) if len(values) == 1 and isinstance(values[0], (list, tuple, set)) else list(values)
        names = [label_of(v) for v in items]
        label = None if self.label is None or None in names else f"({self.label} IN ({', '.join(map(str, names))}))"
        return Column(exp.In(this=_paren(self._unaliased()), expressions=[to_expr(v) for v in items]), label)

    def between(self, low: Any, high: Any) -> Column:
        names = [self.label, label_of(low), label_of(high)]
        label = None if None in names else "(({0} >= {1}) AND ({0} <= {2}))".format(*names)
        return Column(exp.Between(this=_paren(self._unaliased()), low=to_expr(low), high=to_expr(high)), label)

    def like(self, pattern: str) -> Column:
        return self._bin(exp.Like, pattern)

    def ilike(self, pattern: str) -> Column:
        return self._bin(exp.ILike, pattern)

    def rlike(self, pattern: str) -> Column:
        return Column(exp.RegexpLike(this=self._unaliased(), expression=to_expr(pattern)), _call("RLIKE", self, pattern))

    def contains(self, other: Any) -> Column:
        return call_function("contains", self, _value(other))

    def startswith(self, other: Any) -> Column:
        return call_function("startswith", self, _value(other))

    def endswith(self, other: Any) -> Column:
        return call_function("endswith", self, _value(other))

    # -- conversion, structure --------------------------------------------------------------

    def cast(self, data_type: Any) -> Column:
        text = data_type if isinstance(data_type, str) else data_type.simpleString()
        try:
            target = exp.DataType.build(text, dialect=DIALECT)
        except (SqlglotError, ValueError) as exc:
            raise DefinitionError(f"{call_site()}: unknown type {text!r} in cast") from exc
        inner = self._unaliased()
        if isinstance(inner, exp.Column):
            label = self.label  # Spark 4 names a cast column by the column
        else:
            type_name = re.sub(r"DECIMAL\((\d+), (\d+)\)", r"DECIMAL(\1,\2)", target.sql(dialect="spark"))
            label = _wrap(f"CAST({{}} AS {type_name})", self.label)
        record("cast()")
        return Column(exp.Cast(this=inner, to=target), label)

    astype = cast

    def substr(self, start: Any, length: Any) -> Column:
        begin, size = _value(start), _value(length)
        return call_function("substring", self, begin, size, label=_call("substr", self, begin, size))

    def getField(self, name: str) -> Column:
        label = None if self.label is None else f"{self.label}.{name}"
        return Column(exp.Dot(this=self._unaliased(), expression=exp.to_identifier(name)), label)

    def getItem(self, key: Any) -> Column:
        key_label = label_of(key)
        label = None if self.label is None or key_label is None else f"{self.label}[{key_label}]"
        return Column(exp.Bracket(this=self._unaliased(), expressions=[to_expr(key)]), label)

    def __getitem__(self, key: Any) -> Column:
        return self.getField(key) if isinstance(key, str) else self.getItem(key)

    # -- CASE WHEN --------------------------------------------------------------------------

    def when(self, condition: Any, value: Any) -> Column:
        case = self._unaliased()
        if not isinstance(case, exp.Case) or case.args.get("default") is not None:
            raise unsupported("Column.when", "call when() on F.when(...) before otherwise()")
        return Column(case.copy().when(to_expr(condition), to_expr(value)), _case_label(self.label, "WHEN", condition, value))

    def otherwise(self, value: Any) -> Column:
        case = self._unaliased()
        if not isinstance(case, exp.Case):
            raise unsupported("Column.otherwise", "otherwise() follows F.when(...)")
        return Column(case.copy().else_(to_expr(value)), _case_label(self.label, "ELSE", None, value))

    # -- ordering and windows ---------------------------------------------------------------

    def _ordered(self, desc: bool, nulls_first: bool) -> Column:
        label = _wrap(f"{{}} {'DESC' if desc else 'ASC'} NULLS {'FIRST' if nulls_first else 'LAST'}", self.label)
        return Column(exp.Ordered(this=self._unaliased(), desc=desc, nulls_first=nulls_first), label)

    def asc(self) -> Column:
        return self._ordered(False, True)

    def desc(self) -> Column:
        return self._ordered(True, False)

    def asc_nulls_first(self) -> Column:
        return self._ordered(False, True)

    def asc_nulls_last(self) -> Column:
        return self._ordered(False, False)

    def desc_nulls_first(self) -> Column:
        return self._ordered(True, True)

    def desc_nulls_last(self) -> Column:
        return self._ordered(True, False)

    def over(self, window: WindowSpec | None = None) -> Column:
        spec = window or WindowSpec()
        node = exp.Window(
            this=self._unaliased(),
            partition_by=[c.expr.copy() for c in spec.partition] or None,
            order=exp.Order(expressions=[c.expr.copy() for c in spec.order]) if spec.order else None,
            spec=spec.frame.copy() if spec.frame is not None else None,
        )
        return Column(node, spec.label(self))

    def __repr__(self) -> str:
        return f"Column<'{self.expr.sql(DIALECT)}'>"

    def __getattr__(self, name: str) -> Any:
        if name.startswith("__"):
            raise AttributeError(name)
        if name in _PYSPARK_METHODS:
            raise unsupported(f"Column.{name}")
        return self.getField(name)  # df.st.x: the field x of struct st, as in PySpark


_PYSPARK_METHODS = frozenset({
    "alias", "asc", "asc_nulls_first", "asc_nulls_last", "astype", "between", "bitwiseAND", "bitwiseOR",
    "bitwiseXOR", "cast", "contains", "desc", "desc_nulls_first", "desc_nulls_last", "dropFields", "endswith",
    "eqNullSafe", "getField", "getItem", "ilike", "isNaN", "isNotNull", "isNull", "isin", "like", "name",
    "otherwise", "outer", "over", "rlike", "startswith", "substr", "transform", "try_cast", "when", "withField",
})
"""PySpark's ``Column`` methods: one soundlake lacks is refused by name, not taken for a field."""

_OPERATOR_LABELS: dict[type[exp.Expr], str] = {
    exp.Add: "({} + {})", exp.Sub: "({} - {})", exp.Mul: "({} * {})", exp.Div: "({} / {})",
    exp.Mod: "({} % {})", exp.EQ: "({} = {})", exp.NEQ: "(NOT ({} = {}))", exp.LT: "({} < {})",
    exp.LTE: "({} <= {})", exp.GT: "({} > {})", exp.GTE: "({} >= {})", exp.And: "({} AND {})",
    exp.Or: "({} OR {})", exp.NullSafeEQ: "({} <=> {})", exp.Like: "{} LIKE {}", exp.ILike: "ilike({}, {})",
}
"""How PySpark names an un-aliased operator expression, by sqlglot node."""


def _wrap(template: str, label: str | None) -> str | None:
    return None if label is None else template.format(label)


def _call(name: str, *args: Any) -> str | None:
    """``name(a, b)`` from the arguments' labels (a str argument is a column name)."""
    names = [arg_label(a) for a in args]
    return None if None in names else f"{name}({', '.join(map(str, names))})"


def _case_label(label: str | None, word: str, condition: Any, value: Any) -> str | None:
    parts = [label, label_of(value)] + ([label_of(condition)] if word == "WHEN" else [])
    if None in parts or label is None or not label.endswith(" END"):
        return None
    branch = f"WHEN {label_of(condition)} THEN {label_of(value)}" if word == "WHEN" else f"ELSE {label_of(value)}"
    return f"{label[:-4]} {branch} END"


def _power(base: Column, exponent: Column) -> Column:
    return call_function("pow", base, exponent, label=_call("POWER", base, exponent))


def _value(value: Any) -> Column:
    """A Column for a Column or a literal value (a str is a literal, as in PySpark)."""
    return value if isinstance(value, Column) else Column(literal(value), literal_label(value))


def label_of(value: Any) -> str | None:
    """The PySpark name of a Column or of a literal value."""
    return value.label if isinstance(value, Column) else literal_label(value)


def arg_label(value: Any) -> str | None:
    """The PySpark name of a function argument: a str is a column name."""
    if isinstance(value, str):
        return ref_label(column_ref(value))
    return label_of(value)


def ref_label(node: exp.Expr) -> str | None:
    """The name PySpark gives a column reference (``t.a`` and ``st.a`` are named ``a``)."""
    if isinstance(node, (exp.Column, exp.Dot)) and not isinstance(node.this, exp.Star):
        return node.name or None
    return None


def literal_label(value: Any) -> str | None:
    """The name PySpark gives ``lit(value)`` (None for values soundlake cannot name)."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, decimal.Decimal):
        return format(value, "f")
    if isinstance(value, str):
        return value
    if isinstance(value, _dt.datetime):
        return None  # PySpark reads a naive datetime in the machine's zone
    if isinstance(value, _dt.date):
        return f"DATE '{value.isoformat()}'"
    return None


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
        node = column_ref(value)
        return Column(node, ref_label(node))
    raise DefinitionError(f"{call_site()}: expected a column or column name, got {type(value).__name__}")


def literal(value: Any) -> exp.Expr:
    """A Spark SQL literal for a Python value."""
    if value is None:
        return exp.Null()
    if isinstance(value, bool):
        return exp.Boolean(this=value)
    if isinstance(value, float):  # a Python float is a DOUBLE in PySpark (1.5 alone is a DECIMAL)
        text = repr(value) if math.isfinite(value) else {"nan": "NaN", "inf": "Infinity", "-inf": "-Infinity"}[repr(value)]
        number = exp.Literal.number(text) if math.isfinite(value) else exp.Literal.string(text)
        return exp.Cast(this=number, to=exp.DataType.build("double"))
    if isinstance(value, (int, decimal.Decimal)):
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


def call_function(name: str, *args: Any, label: str | None = "") -> Column:
    """``name(args...)`` as Spark SQL, the call written as made (see :class:`AsWritten`).

    A str argument is a column name. ``label`` is the column's PySpark name (default
    ``name(arg, ...)`` from the arguments' names; None when not known).
    """
    record(f"{name}()")
    sql_args = ", ".join(_arg_sql(a) for a in args)
    node = parse_expression(f"{name}({sql_args})", written=False)
    return Column(node, _call(name, *args) if label == "" else label)


def _arg_sql(value: Any) -> str:
    return to_expr(to_column(value) if isinstance(value, str) else value).sql(DIALECT)


class WindowSpec:
    """``Window.partitionBy(...).orderBy(...).rowsBetween(...)``.

    ``partition`` and ``order`` hold Columns (ORDER BY items as ``Ordered``); ``bounds``
    is the explicit frame as ``(kind, start, end)``, for PySpark's column name.
    """

    def __init__(
        self,
        partition: Iterable[Column] = (),
        order: Iterable[Column] = (),
        bounds: tuple[str, int, int] | None = None,
    ) -> None:
        self.partition = list(partition)
        self.order = list(order)
        self.bounds = bounds

    @property
    def frame(self) -> exp.WindowSpec | None:
        """The explicit frame clause, when one was given."""
        return None if self.bounds is None else _frame(*self.bounds)

    def partitionBy(self, *cols: Any) -> WindowSpec:
        names = _flatten(cols)
        return WindowSpec([to_column(c) for c in names], self.order, self.bounds)

    def orderBy(self, *cols: Any) -> WindowSpec:
        names = _flatten(cols)
        return WindowSpec(self.partition, [order_column(c) for c in names], self.bounds)

    def rowsBetween(self, start: int, end: int) -> WindowSpec:
        return WindowSpec(self.partition, self.order, ("ROWS", start, end))

    def rangeBetween(self, start: int, end: int) -> WindowSpec:
        return WindowSpec(self.partition, self.order, ("RANGE", start, end))

    def label(self, function: Column) -> str | None:
        """PySpark's name for ``function.over(this)``: Spark names the frame it resolved.

        Without an explicit frame: ranking functions run over ``ROWS`` up to the current
        row, ``cume_dist`` over ``RANGE``, ``lag``/``lead`` over one offset row, and
        aggregates over ``RANGE`` up to the current row when ordered (else all rows).
        """
        names = [function.label] + [c.label for c in (*self.partition, *self.order)]
        if None in names:
            return None
        head = str(function.label).split("(")[0].lower()
        node = function._unaliased()
        if self.bounds is not None:
            kind, start, end = self.bounds
        elif head in ("lag", "lead"):
            args = node.expressions if isinstance(node, exp.Anonymous) else []
            step = int(args[1].name) if len(args) > 1 and isinstance(args[1], exp.Literal) else 1
            step = -step if head == "lag" else step
            kind, start, end = "ROWS", step, step
        elif head in _RANKING:
            kind, start, end = "ROWS", -UNBOUNDED, 0
        elif head == "cume_dist" or self.order:
            kind, start, end = "RANGE", -UNBOUNDED, 0
        else:
            kind, start, end = "ROWS", -UNBOUNDED, UNBOUNDED
        parts = []
        if self.partition:
            parts.append("PARTITION BY " + ", ".join(str(c.label) for c in self.partition))
        if self.order:
            parts.append("ORDER BY " + ", ".join(str(c.label) for c in self.order))
        parts.append(f"{kind} BETWEEN {_bound_label(start)} AND {_bound_label(end)}")
        return f"{function.label} OVER ({' '.join(parts)})"


UNBOUNDED = 1 << 62
_RANKING = frozenset({"row_number", "rank", "dense_rank", "percent_rank", "ntile"})


def _bound_label(value: int) -> str:
    if value <= -UNBOUNDED:
        return "UNBOUNDED PRECEDING"
    if value >= UNBOUNDED:
        return "UNBOUNDED FOLLOWING"
    return "CURRENT ROW" if value == 0 else f"{value} FOLLOWING"


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


def order_column(value: Any) -> Column:
    """An ORDER BY item as a Column: ``asc()``/``desc()`` kept, otherwise ascending."""
    column = to_column(value)
    if isinstance(column.expr, exp.Ordered):
        return column
    return column.asc()


def order_expr(value: Any) -> exp.Expr:
    """An ORDER BY item: a Column (``asc()``/``desc()`` kept) or a name (ascending)."""
    return order_column(value).expr


def _flatten(values: Iterable[Any]) -> list[Any]:
    out: list[Any] = []
    for value in values:
        if isinstance(value, (list, tuple)):
            out.extend(value)
        else:
            out.append(value)
    return out


flatten = _flatten
