"""Spark rules that depend on argument types, for the DuckDB translation (:mod:`semantics`).

The tree was typed by :mod:`spark_types` from the input schemas; each rule reads the Spark
types of its arguments: ``sum``/``avg``/``+ - *`` result types, ``floor``/``ceil``, text
compared with dates, Spark's casts (text to integers, fractions to integers, doubles to
text, numbers to timestamps) and half-up rounding of doubles.
"""

from __future__ import annotations

from sqlglot import exp

from soundlake.pipeline.sql.settings import SparkSqlSettings
from soundlake.pipeline.sql.spark_types import FRACTIONAL, INTEGRAL, TEXT, is_type

_T = exp.DataType.Type


def cast_as(node: exp.Expr, to: str) -> exp.Expr:
    """``CAST(node AS to)``, ``to`` in DuckDB type syntax."""
    return exp.Cast(this=node, to=exp.DataType.build(to))


def _decimal(node: exp.Expr) -> tuple[int, int] | None:
    typed = node.type
    if typed is None or typed.this != _T.DECIMAL:
        return None
    params = [int(p.this.this) if isinstance(p.this, exp.Literal) else int(str(p.this)) for p in typed.expressions]
    return (params[0], params[1]) if len(params) == 2 else (params[0], 0) if params else (10, 0)


def _cast_to(node: exp.Expr, settings: SparkSqlSettings, to: str) -> exp.Expr:
    kind = exp.Cast if settings.ansi else exp.TryCast
    return kind(this=node, to=exp.DataType.build(to))


_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)


def typed(node: exp.Expr, settings: SparkSqlSettings) -> exp.Expr | None:
    """Rewrites that depend on argument types (the tree was typed by ``spark_types``)."""
    if isinstance(node, exp.Sum):
        if is_type(node.this, *INTEGRAL):
            return cast_as(node, "bigint")
        dec = _decimal(node.this)
        if dec is not None:
            return cast_as(node, f"decimal({min(38, dec[0] + 10)}, {dec[1]})")
        return None
    if isinstance(node, (exp.Floor, exp.Ceil)) and node.args.get("decimals") is None:
        if is_type(node.this, *FRACTIONAL, *INTEGRAL):
            return cast_as(node, "bigint")
        dec = _decimal(node.this)
        if dec is not None:
            return cast_as(node, f"decimal({min(38, dec[0] - dec[1] + 1)}, 0)")
        return None
    if isinstance(node, _COMPARISONS):
        left, right = node.this, node.expression
        for text, other in ((left, right), (right, left)):
            if is_type(text, *TEXT) and is_type(other, _T.DATE, _T.TIMESTAMPTZ, _T.TIMESTAMP):
                to = "date" if is_type(other, _T.DATE) else "timestamptz"
                text.replace(_cast_to(text.copy(), settings, to))
                return node
        return None
    if isinstance(node, exp.Cast):
        return _typed_cast(node, settings)
    if isinstance(node, exp.Round) and is_type(node.this, *FRACTIONAL):
        return _round_half_up(node)
    if isinstance(node, exp.StrToUnix) and is_type(node.this, _T.TIMESTAMPTZ, _T.TIMESTAMP, _T.DATE):
        # unix_timestamp(ts): whole seconds, truncated toward zero as Spark does (no parsing)
        epoch = exp.Anonymous(this="epoch", expressions=[cast_as(node.this.copy(), "timestamptz")])
        return cast_as(exp.Anonymous(this="trunc", expressions=[epoch]), "bigint")
    if isinstance(node, exp.Avg):
        dec = _decimal(node.this)
        if dec is not None:
            return cast_as(node, f"decimal({min(38, dec[0] + 4)}, {min(38, dec[1] + 4)})")
        return None
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        return _decimal_arithmetic(node)
    return None


_INTEGRAL_DIGITS = {_T.TINYINT: 3, _T.SMALLINT: 5, _T.INT: 10, _T.BIGINT: 20}


def _decimal_operand(node: exp.Expr) -> tuple[int, int] | None:
    """Spark's decimal view of an operand: DECIMAL(p, s), an integer column, or a literal."""
    dec = _decimal(node)
    if dec is not None:
        return dec
    if isinstance(node, exp.Literal) and not node.is_string and node.this.lstrip("-").isdigit():
        return (max(1, len(node.this.lstrip("-"))), 0)
    typed = node.type
    if typed is not None and typed.this in _INTEGRAL_DIGITS:
        return (_INTEGRAL_DIGITS[typed.this], 0)
    return None


def _decimal_arithmetic(node: exp.Expr) -> exp.Expr | None:
    """``+``, ``-``, ``*`` of decimals have Spark's result precision and scale."""
    left, right = _decimal(node.this), _decimal(node.expression)
    if left is None and right is None:
        return None
    a, b = _decimal_operand(node.this), _decimal_operand(node.expression)
    if a is None or b is None:
        return None
    (p1, s1), (p2, s2) = a, b
    if isinstance(node, exp.Mul):
        precision, scale = p1 + p2 + 1, s1 + s2
    else:
        scale = max(s1, s2)
        precision = max(p1 - s1, p2 - s2) + scale + 1
    if precision > 38:
        return None  # Spark then trades scale for precision: not emulated (differs)
    return cast_as(exp.Paren(this=node), f"decimal({precision}, {scale})")


def _typed_cast(node: exp.Cast, settings: SparkSqlSettings) -> exp.Expr | None:
    """Spark's CAST where DuckDB's differs: text to integers, numbers to text and timestamps."""
    source, to = node.this, node.to
    lenient = isinstance(node, exp.TryCast) or not settings.ansi
    if is_type(source, *TEXT) and to.this in INTEGRAL:
        return _text_to_integral(node, source, to, lenient)
    if is_type(source, *FRACTIONAL) and to.this in TEXT:
        text = exp.Cast(this=source.copy(), to=exp.DataType.build("varchar"))
        return exp.Case(
            ifs=[
                exp.If(this=exp.IsNan(this=source.copy()), true=exp.Literal.string("NaN")),
                exp.If(this=exp.GT(this=source.copy(), expression=exp.Literal.number("1.7976931348623157e308")),
                       true=exp.Literal.string("Infinity")),
                exp.If(this=exp.LT(this=source.copy(), expression=exp.Literal.number("-1.7976931348623157e308")),
                       true=exp.Literal.string("-Infinity")),
            ],
            default=text,
        )
    if is_type(source, _T.TIMESTAMPTZ, _T.TIMESTAMP) and to.this in TEXT:
        return _timestamp_text(source)
    if (is_type(source, *FRACTIONAL) or _decimal(source) is not None) and to.this in (_T.INT, _T.BIGINT):
        return _to_integral(node, source, to, lenient)
    if (is_type(source, *INTEGRAL) or is_type(source, *FRACTIONAL)) and to.this in (_T.TIMESTAMPTZ, _T.TIMESTAMP):
        return exp.Anonymous(this="to_timestamp", expressions=[exp.Cast(this=source.copy(), to=exp.DataType.build("double"))])
    return None


def _timestamp_text(source: exp.Expr) -> exp.Expr:
    """Spark prints a TIMESTAMP in the session zone, with a fraction only when there is one."""
    def formatted(fmt: str) -> exp.Expr:
        return exp.Anonymous(this="strftime", expressions=[source.copy(), exp.Literal.string(fmt)])

    micros = exp.Anonymous(this="microsecond", expressions=[source.copy()])
    whole = exp.EQ(this=exp.Mod(this=micros, expression=exp.Literal.number(1000000)), expression=exp.Literal.number(0))
    fraction = exp.Anonymous(this="rtrim", expressions=[formatted("%Y-%m-%d %H:%M:%S.%f"), exp.Literal.string("0")])
    return exp.Case(ifs=[exp.If(this=whole, true=formatted("%Y-%m-%d %H:%M:%S"))], default=fraction)


_DIGITS = r"\s*[+-]?[0-9]+\s*"
_DIGITS_AND_FRACTION = r"\s*[+-]?[0-9]+(\.[0-9]*)?\s*"


def _text_to_integral(node: exp.Cast, source: exp.Expr, to: exp.DataType, lenient: bool) -> exp.Expr:
    """Spark's text to integer: a sign and digits, spaces around allowed.

    ANSI ``CAST`` fails on anything else; ``TRY_CAST`` gives NULL; a non-ANSI ``CAST`` also
    accepts a fraction and drops it (``'-1.5'`` is -1). One full-match test per row.
    """
    fraction = lenient and not isinstance(node, exp.TryCast)
    pattern = exp.Literal.string(_DIGITS_AND_FRACTION if fraction else _DIGITS)
    matches = exp.Anonymous(this="regexp_full_match", expressions=[source.copy(), pattern])
    text: exp.Expr = exp.Trim(this=source.copy())
    if fraction:
        text = exp.Anonymous(this="split_part", expressions=[text, exp.Literal.string("."), exp.Literal.number(1)])
    if lenient:
        return exp.Case(ifs=[exp.If(this=matches, true=exp.TryCast(this=text, to=to.copy()))])
    error = exp.Anonymous(this="error", expressions=[exp.Literal.string(
        f"[CAST_INVALID_INPUT] The value cannot be cast to {to.sql('spark')} because it is malformed")])
    return exp.Case(
        ifs=[exp.If(this=exp.Is(this=source.copy(), expression=exp.Null()), true=exp.Cast(this=exp.Null(), to=to.copy())),
             exp.If(this=matches, true=exp.Cast(this=text, to=to.copy()))],
        default=exp.Cast(this=error, to=to.copy()),
    )


_LIMITS = {_T.INT: (-2147483648, 2147483647), _T.BIGINT: (-9223372036854775808, 9223372036854775807)}


def _to_integral(node: exp.Cast, source: exp.Expr, to: exp.DataType, lenient: bool) -> exp.Expr:
    """Spark casts a fraction to an integer by truncation; without ANSI it saturates (NaN: 0)."""
    cut = exp.Cast(this=exp.Anonymous(this="trunc", expressions=[source.copy()]), to=to.copy())
    if not lenient or isinstance(node, exp.TryCast):
        if isinstance(node, exp.TryCast):
            return exp.TryCast(this=exp.Anonymous(this="trunc", expressions=[source.copy()]), to=to.copy())
        return cut
    low, high = _LIMITS[to.this]
    ifs = [exp.If(this=exp.GTE(this=source.copy(), expression=exp.Literal.number(high)), true=exp.Literal.number(high)),
           exp.If(this=exp.LTE(this=source.copy(), expression=exp.Literal.number(low)), true=exp.Literal.number(low))]
    if is_type(source, *FRACTIONAL):
        ifs.insert(0, exp.If(this=exp.IsNan(this=source.copy()), true=exp.Literal.number(0)))
    return exp.Cast(this=exp.Case(ifs=ifs, default=cut), to=to.copy())


def _round_half_up(node: exp.Round) -> exp.Expr:
    """Spark rounds a DOUBLE half-up on its shortest decimal form (2.675 -> 2.68).

    DuckDB rounds the binary value (2.67499999... -> 2.67); the two differ only near a tie,
    so only values within 1e-6 of one take the exact (slower) path through DECIMAL.
    """
    value = node.this
    digits = node.args.get("decimals") or exp.Literal.number(0)
    scaled = exp.Mul(this=exp.Abs(this=value.copy()),
                     expression=exp.Pow(this=exp.Literal.number(10), expression=digits.copy()))
    tie = exp.LT(this=exp.Abs(this=exp.Sub(this=exp.Sub(this=scaled, expression=exp.Floor(this=scaled.copy())),
                                            expression=exp.Literal.number("0.5"))),
                 expression=exp.Literal.number("0.000001"))
    as_decimal = exp.TryCast(this=exp.Cast(this=value.copy(), to=exp.DataType.build("varchar")),
                             to=exp.DataType.build("decimal(38, 10)"))
    exact = exp.Cast(this=exp.Round(this=as_decimal, decimals=digits.copy()), to=exp.DataType.build("double"))
    original = node.copy()
    near_tie = exp.and_(tie, exp.Not(this=exp.Is(this=as_decimal.copy(), expression=exp.Null())))
    # NaN, infinities and values too large for DECIMAL(38, 10) keep DuckDB's (exact) result
    return exp.Case(ifs=[exp.If(this=near_tie, true=exact)], default=original)
