"""Spark rules that depend on argument types, for the DuckDB translation (:mod:`semantics`).

The tree was typed by :mod:`spark_types` from the input schemas; each rule reads the Spark
types of its arguments: ``sum``/``avg``/``+ - * % div`` result types, exact DECIMAL
division, ``floor``/``ceil``, text compared with dates, Spark's casts (text to integers,
fractions to integers, integers to narrower integers, doubles and timestamps to text,
numbers to timestamps, timestamps to seconds, text to and from binary) and half-up rounding
of doubles. What cannot be computed exactly is refused (:func:`refusal.refuse`).
"""

from __future__ import annotations

from sqlglot import exp

from soundlake.pipeline.sql.refusal import refuse
from soundlake.pipeline.sql.settings import SparkSqlSettings
from soundlake.pipeline.sql.spark_types import FRACTIONAL, INTEGRAL, TEXT, is_type

_T = exp.DataType.Type


def cast_as(node: exp.Expr, to: str, *, lenient: bool = False) -> exp.Expr:
    """``CAST(node AS to)`` (``TRY_CAST`` when ``lenient``), ``to`` in DuckDB type syntax.

    The cast is typed as ``to``, so the rules of its parents read the type it really has.
    """
    cast = (exp.TryCast if lenient else exp.Cast)(this=node, to=exp.DataType.build(to))
    cast.type = cast.to.copy()
    return cast


def _decimal(node: exp.Expr) -> tuple[int, int] | None:
    """DECIMAL(p, s) of a node typed DECIMAL with known precision and scale, else None."""
    typed = node.type
    if typed is None or typed.this != _T.DECIMAL or not typed.expressions:
        return None
    params = [int(p.this.this) if isinstance(p.this, exp.Literal) else int(str(p.this)) for p in typed.expressions]
    return (params[0], params[1]) if len(params) == 2 else (params[0], 0)


def _cast_to(node: exp.Expr, settings: SparkSqlSettings, to: str) -> exp.Expr:
    kind = exp.Cast if settings.ansi else exp.TryCast
    return kind(this=node, to=exp.DataType.build(to))


_COMPARISONS = (exp.EQ, exp.NEQ, exp.LT, exp.LTE, exp.GT, exp.GTE)


def typed(node: exp.Expr, settings: SparkSqlSettings) -> exp.Expr | None:
    """Rewrites that depend on argument types (the tree was typed by ``spark_types``)."""
    if isinstance(node, exp.Bracket) and is_type(node.this, _T.ARRAY, _T.LIST) and len(node.expressions) == 1:
        return _array_index(node, settings)
    if isinstance(node, exp.Window) and isinstance(node.this, (exp.Sum, exp.Avg)):
        typed_as = _aggregate_type(node.this)  # the window, not its aggregate, is cast
        return None if typed_as is None else cast_as(node, typed_as)
    if isinstance(node, (exp.Sum, exp.Avg)):
        typed_as = None if isinstance(node.parent, exp.Window) else _aggregate_type(node)
        return None if typed_as is None else cast_as(node, typed_as)
    if isinstance(node, (exp.Floor, exp.Ceil)) and node.args.get("decimals") is not None:
        refuse(node, "with a scale, Spark returns a DECIMAL of its own precision rules")
    if isinstance(node, (exp.Floor, exp.Ceil)):
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
    if isinstance(node, exp.Round) and _decimal(node.this) is not None:
        return _round_decimal(node)
    if isinstance(node, (exp.UnixToStr, exp.UnixToTime)) and is_type(node.this, *TEXT):
        # from_unixtime(text): Spark casts the text to BIGINT first (its cast rules, its errors)
        cast = exp.Cast(this=node.this.copy(), to=exp.DataType.build("bigint"))
        cast.type = cast.to.copy()
        node.set("this", _typed_cast(cast, settings) or _cast_to(node.this.copy(), settings, "bigint"))
        return node
    if isinstance(node, exp.StrToUnix) and is_type(node.this, _T.TIMESTAMPTZ, _T.TIMESTAMP, _T.DATE):
        # unix_timestamp(ts): whole seconds, truncated toward zero as Spark does (no parsing)
        epoch = exp.Anonymous(this="epoch", expressions=[cast_as(node.this.copy(), "timestamptz")])
        return cast_as(exp.Anonymous(this="trunc", expressions=[epoch]), "bigint")
    if isinstance(node, (exp.Add, exp.Sub, exp.Mul)):
        if isinstance(node, exp.Sub) and is_type(node.this, _T.DATE) and is_type(node.expression, _T.DATE):
            refuse(node, "a DATE minus a DATE is an INTERVAL DAY in Spark (use datediff)")
        return _decimal_arithmetic(node)
    if isinstance(node, exp.Div):
        return _decimal_division(node, settings)
    if isinstance(node, exp.Mod):
        return _decimal_remainder(node)
    if isinstance(node, exp.IntDiv):
        return cast_as(node, "bigint")  # Spark's div is BIGINT for every operand type
    if isinstance(node, exp.TimestampAdd) and is_type(node.this, _T.DATE):
        return cast_as(node, "timestamptz")  # timestampadd of a DATE is a TIMESTAMP (DuckDB: local)
    if isinstance(node, exp.DateFromUnixDate):
        return cast_as(node, "date")
    if isinstance(node, (exp.Concat, exp.DPipe)) and is_type(node, *TEXT):
        return cast_as(node, "varchar")  # DuckDB types `s || NULL` as NULL
    return None


def _array_index(node: exp.Bracket, settings: SparkSqlSettings) -> exp.Expr | None:
    """``a[i]`` (from 0) and ``element_at(a, i)`` (from 1, negative from the end) as Spark.

    An index outside the array fails in ANSI mode (DuckDB: NULL), and ``element_at``'s
    index 0 fails in both modes; ``try_element_at`` (safe) keeps NULL.
    """
    if node.args.get("safe"):
        return None
    array, index = node.this, node.expressions[0]
    from_one = bool(node.args.get("offset"))
    size = exp.Anonymous(this="len", expressions=[array.copy()])
    checks: list[exp.If] = []
    if from_one:
        zero = exp.and_(exp.EQ(this=index.copy(), expression=exp.Literal.number(0)),
                        exp.Not(this=exp.Is(this=array.copy(), expression=exp.Null())))
        checks.append(exp.If(this=zero, true=error_call("[INVALID_INDEX_OF_ZERO] The index 0 is invalid: element_at "
                                                     "counts from 1")))
    if settings.ansi:
        outside: exp.Expr
        if from_one:
            outside = exp.GT(this=exp.Abs(this=index.copy()), expression=size)
        else:
            outside = exp.or_(exp.LT(this=index.copy(), expression=exp.Literal.number(0)),
                              exp.GTE(this=index.copy(), expression=size))
        checks.append(exp.If(this=outside, true=error_call(
            "[INVALID_ARRAY_INDEX] The index is out of bounds of the array. Use `try_element_at` to tolerate it")))
    if not checks:
        return None
    return exp.Case(ifs=checks, default=node)


def error_call(message: str) -> exp.Expr:
    """DuckDB's ``error(message)``: fails the query where Spark raises ``message``."""
    return exp.Anonymous(this="error", expressions=[exp.Literal.string(message)])


def _aggregate_type(node: exp.Sum | exp.Avg) -> str | None:
    """Spark's result type of ``sum`` / ``avg`` where DuckDB's differs (BIGINT, DECIMAL)."""
    if isinstance(node, exp.Sum) and is_type(node.this, *INTEGRAL):
        return "bigint"
    dec = _decimal(node.this)
    if dec is None:
        return None
    if isinstance(node, exp.Sum):
        return f"decimal({min(38, dec[0] + 10)}, {dec[1]})"
    return f"decimal({min(38, dec[0] + 4)}, {min(38, dec[1] + 4)})"


_INTEGRAL_DIGITS = {_T.TINYINT: 3, _T.SMALLINT: 5, _T.INT: 10, _T.BIGINT: 20}


SPARK_OPERAND = "spark_operand"
"""Meta key of a node standing for an operand (a guarded divisor): the operand as written."""


def _decimal_operand(node: exp.Expr) -> tuple[int, int] | None:
    """Spark's decimal view of an operand: DECIMAL(p, s), an integer column, or a literal."""
    node = node.meta.get(SPARK_OPERAND, node)
    dec = _decimal(node)
    if dec is not None:
        return dec
    if isinstance(node, exp.Literal) and not node.is_string and node.this.lstrip("-").isdigit():
        return (max(1, len(node.this.lstrip("-"))), 0)
    typed = node.type
    if typed is not None and typed.this in _INTEGRAL_DIGITS:
        return (_INTEGRAL_DIGITS[typed.this], 0)
    return None


def _is_decimal(node: exp.Expr) -> bool:
    return is_type(node, _T.DECIMAL)


def _decimal_operands(node: exp.Expr) -> tuple[tuple[int, int], tuple[int, int]] | None:
    """Both operands' DECIMAL(p, s) when one is a DECIMAL and neither a DOUBLE; else None.

    Raises:
        NotLikeSpark: a DECIMAL operand's precision is not known (the result type is not).
    """
    left, right = node.this, node.expression
    if not (_is_decimal(left) or _is_decimal(right)) or is_type(left, *FRACTIONAL) or is_type(right, *FRACTIONAL):
        return None
    a, b = _decimal_operand(left), _decimal_operand(right)
    if a is None or b is None:
        refuse(node, "the precision of a DECIMAL operand is not known, so neither is Spark's result type")
    return a, b


def _decimal_division(node: exp.Div, settings: SparkSqlSettings) -> exp.Expr | None:
    """Spark divides decimals exactly: DECIMAL(p, s) by its rules, rounded half-up.

    DuckDB divides decimals in DOUBLE. The quotient is computed in 128-bit integers on the
    unscaled values instead; when they could overflow, the division is refused.
    """
    operands = _decimal_operands(node)
    if operands is None:
        return None
    (p1, s1), (p2, s2) = operands
    scale = max(6, s1 + p2 + 1)
    precision = p1 - s1 + s2 + scale
    if precision > 38:  # Spark trades scale for integral digits, keeping at least 6 (or all) of it
        scale = max(38 - (precision - scale), min(scale, 6))
        precision = 38
    shift = scale + s2 - s1
    if p1 + max(shift, 0) > 37 or p2 + max(-shift, 0) > 37:
        refuse(node, f"the exact DECIMAL({precision}, {scale}) quotient needs more than 128-bit integers")
    numerator = _scaled(node.this, max(shift, 0))
    denominator = _scaled(node.expression, max(-shift, 0))
    # round half-up on magnitudes: (2|n| + |d|) div (2|d|), then the sign
    two = exp.Literal.number(2)
    magnitude = exp.IntDiv(
        this=exp.Paren(this=exp.Add(this=exp.Mul(this=two, expression=exp.Abs(this=numerator)),
                                    expression=exp.Abs(this=denominator.copy()))),
        expression=exp.Paren(this=exp.Mul(this=two.copy(), expression=exp.Abs(this=denominator.copy()))))
    sign = exp.Mul(this=exp.Anonymous(this="sign", expressions=[numerator.copy()]),
                   expression=exp.Anonymous(this="sign", expressions=[denominator.copy()]))
    unscaled = cast_as(exp.Mul(this=exp.Paren(this=magnitude), expression=sign), "decimal(38, 0)")
    value: exp.Expr = unscaled
    if scale:
        unit = exp.Literal.number(f"0.{'0' * (scale - 1)}1")
        value = exp.Mul(this=unscaled, expression=cast_as(unit, f"decimal({scale + 1}, {scale})"))
    return cast_as(value, f"decimal({precision}, {scale})", lenient=not settings.ansi)


def _scaled(node: exp.Expr, shift: int) -> exp.Expr:
    """``node``'s unscaled value (the digits of a DECIMAL, an integer as is) times 10^shift, as HUGEINT.

    A DECIMAL's digits are read from its text (DuckDB prints every digit of the scale), so
    no intermediate DECIMAL can overflow.
    """
    digits: exp.Expr = node.copy()
    if _is_decimal(node):
        text = cast_as(node.copy(), "varchar")
        digits = exp.Anonymous(this="replace", expressions=[text, exp.Literal.string("."), exp.Literal.string("")])
    value = cast_as(digits, "hugeint")
    if shift:
        value = exp.Mul(this=value, expression=exp.Literal.number(10**shift))
    return exp.Paren(this=value)


def _decimal_remainder(node: exp.Mod) -> exp.Expr | None:
    """``%`` of decimals is DECIMAL(min(p1 - s1, p2 - s2) + max(s1, s2), max(s1, s2))."""
    operands = _decimal_operands(node)
    if operands is None:
        return None
    (p1, s1), (p2, s2) = operands
    scale = max(s1, s2)
    return cast_as(exp.Paren(this=node), f"decimal({min(38, min(p1 - s1, p2 - s2) + scale)}, {scale})")


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
    if is_type(source, *_BINARY) and to.this in TEXT:
        return exp.Anonymous(this="decode", expressions=[source.copy()])  # UTF-8 (DuckDB: escapes)
    if is_type(source, *TEXT) and to.this in _BINARY:
        return exp.Anonymous(this="encode", expressions=[source.copy()])
    if is_type(source, *_COMPLEX) and to.this in TEXT:
        refuse(node, "Spark prints arrays, maps and structs as text differently")
    if is_type(source, _T.TIMESTAMPTZ, _T.TIMESTAMP) and to.this in INTEGRAL:
        seconds = _epoch_seconds(source)  # beyond the target type: NULL without ANSI mode, not wrapped
        return (exp.TryCast if lenient else exp.Cast)(this=seconds, to=to.copy())
    if _narrowing(source, to) and not settings.ansi and not isinstance(node, exp.TryCast):
        return _wrapped(source, to)
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


_BINARY = (_T.BINARY, _T.VARBINARY, _T.BLOB)
_COMPLEX = (_T.ARRAY, _T.MAP, _T.STRUCT, _T.LIST)
_BITS = {_T.TINYINT: 8, _T.SMALLINT: 16, _T.INT: 32, _T.BIGINT: 64}


def _epoch_seconds(source: exp.Expr) -> exp.Expr:
    """Whole seconds since the epoch, rounded down as Spark does (BIGINT)."""
    micros = exp.Anonymous(this="epoch_us", expressions=[cast_as(source.copy(), "timestamptz")])
    million = exp.Literal.number(1000000)
    below = exp.If(this=exp.LT(this=exp.Mod(this=micros.copy(), expression=million.copy()), expression=exp.Literal.number(0)),
                   true=exp.Literal.number(1))
    borrow = exp.Case(ifs=[below], default=exp.Literal.number(0))
    seconds = exp.Sub(this=exp.IntDiv(this=micros, expression=million), expression=borrow)
    result = cast_as(exp.Paren(this=seconds), "bigint")
    return result


def _narrowing(source: exp.Expr, to: exp.DataType) -> bool:
    typed = source.type
    return typed is not None and to.this in _BITS and _BITS.get(typed.this, 0) > _BITS[to.this]


def _wrapped(source: exp.Expr, to: exp.DataType) -> exp.Expr:
    """Without ANSI mode Spark narrows an integer by keeping its low bits (two's complement)."""
    bits = _BITS[to.this]
    modulus, half = exp.Literal.number(2**bits), exp.Literal.number(2 ** (bits - 1))
    shifted = exp.Paren(this=exp.Add(this=cast_as(source.copy(), "hugeint"), expression=half))
    positive = exp.Mod(this=exp.Paren(this=exp.Add(this=exp.Paren(this=exp.Mod(this=shifted, expression=modulus)),
                                                   expression=modulus.copy())),
                       expression=modulus.copy())
    return exp.Cast(this=exp.Sub(this=positive, expression=half.copy()), to=to.copy())


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
    error = error_call(
        f"[CAST_INVALID_INPUT] The value cannot be cast to {to.sql('spark')} because it is malformed")
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


def _round_decimal(node: exp.Round) -> exp.Expr | None:
    """``round(decimal, d)`` keeps one more integral digit and at most the input's scale."""
    dec = _decimal(node.this)
    digits = node.args.get("decimals")
    places = 0 if digits is None else _integer(digits)
    if dec is None or places is None:
        return None
    precision, scale = dec
    integral = precision - scale + 1
    if places < 0:
        return cast_as(node, f"decimal({min(max(integral, -places + 1), 38)}, 0)")
    kept = min(scale, places)
    return cast_as(node, f"decimal({min(integral + kept, 38)}, {kept})")


def _integer(node: exp.Expr) -> int | None:
    """The value of an integer literal (``2``, ``-1``), else None."""
    negative = isinstance(node, exp.Neg)
    literal = node.this if negative else node
    if not isinstance(literal, exp.Literal) or literal.is_string or not literal.this.isdigit():
        return None
    return -int(literal.this) if negative else int(literal.this)


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
