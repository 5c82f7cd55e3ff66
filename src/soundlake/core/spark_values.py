"""Arrow values as Spark prints them (``df.show()``), for any value an engine returns.

Arrow's own conversion to Python objects fails on values outside Python's ranges (a date
before year 1 or after 9999, a timestamp far in the future); this module never converts
temporal values to :mod:`datetime` and so renders every value:

* dates and timestamps (UTC, Spark's session time zone in soundlake) in the proleptic
  Gregorian calendar: ``2024-01-01``, ``-0044-03-15``, ``+10000-01-01``,
  ``2024-01-01 10:00:00.5`` (fraction without trailing zeros);
* doubles like Java: ``1.0``, ``1.0E10``, ``NaN``, ``Infinity``; decimals as
  ``BigDecimal.toString`` (``1.50``, ``0E-10``); booleans ``true``/``false``;
* binary ``[01 02]``; arrays ``[1, 2]``; maps ``{a -> 1}``; structs ``{1, x}``; a nested
  NULL as ``NULL``.

:func:`json_value` gives the JSON form of the same values: temporal values as the text
above, decimals as strings (exact), NaN and infinities as strings, binary as base64,
structs and maps as objects.
"""

from __future__ import annotations

import base64
import math
import struct
from decimal import Decimal
from typing import Any

import pyarrow as pa

_US_PER_DAY = 86_400_000_000
_UNIT_US = {"s": 1_000_000, "ms": 1_000, "us": 1, "ns": 1}


class Shown(str):
    """A value already rendered as Spark's text (a date, timestamp, interval, ...)."""


class MapValue(list[tuple[Any, Any]]):
    """A map's entries, in order."""


class StructValue(dict[str, Any]):
    """A struct's fields, in order."""


class BinaryValue(bytes):
    """Binary data (shown as hex bytes, JSON as base64)."""


def table_values(table: pa.Table) -> list[list[Any]]:
    """The rows of ``table`` as lists of values :func:`spark_text` and :func:`json_value` accept."""
    columns = [column_values(table.column(i)) for i in range(table.num_columns)]
    return [list(row) for row in zip(*columns, strict=True)] if columns else [[] for _ in range(table.num_rows)]


def column_values(column: pa.ChunkedArray | pa.Array) -> list[Any]:
    """One column's values (never raises for out-of-range dates or timestamps)."""
    if isinstance(column, pa.ChunkedArray):
        return [value for chunk in column.chunks for value in _values(chunk)]
    return _values(column)


def _values(array: pa.Array) -> list[Any]:
    kind = array.type
    if pa.types.is_dictionary(kind):
        return _values(array.dictionary_decode())
    if pa.types.is_date32(kind) or pa.types.is_date64(kind):
        raw = array.cast(pa.int32() if pa.types.is_date32(kind) else pa.int64()).to_pylist()
        per_day = 1 if pa.types.is_date32(kind) else 86_400_000
        return [None if d is None else Shown(format_date(d // per_day)) for d in raw]
    if pa.types.is_timestamp(kind):
        raw = array.cast(pa.int64()).to_pylist()
        unit = kind.unit
        return [None if v is None else Shown(format_timestamp(_to_micros(v, unit))) for v in raw]
    if pa.types.is_time(kind):
        raw = array.cast(pa.int64()).to_pylist()
        return [None if v is None else Shown(_time_of_day(_to_micros(v, kind.unit))) for v in raw]
    if pa.types.is_duration(kind):
        raw = array.cast(pa.int64()).to_pylist()
        return [None if v is None else Shown(_day_time_interval(_to_micros(v, kind.unit))) for v in raw]
    if kind == pa.month_day_nano_interval():
        return [None if v is None else Shown(_interval(v.months, v.days, v.nanoseconds)) for v in array.to_pylist()]
    if pa.types.is_float32(kind) or pa.types.is_float16(kind):
        # the shortest decimal that reads back as the float32 (Spark prints 1.1, not 1.100000023841858)
        return [None if v is None else _float32(v) for v in array.to_pylist()]
    if pa.types.is_binary(kind) or pa.types.is_large_binary(kind) or pa.types.is_fixed_size_binary(kind):
        return [None if v is None else BinaryValue(v) for v in array.to_pylist()]
    if pa.types.is_map(kind):
        return _maps(array)
    if pa.types.is_list(kind) or pa.types.is_large_list(kind) or pa.types.is_fixed_size_list(kind):
        return _lists(array)
    if pa.types.is_struct(kind):
        return _structs(array)
    return list(array.to_pylist())


def _float32(value: float) -> float:
    """The shortest decimal that reads back as the same float32, as a double."""
    if not math.isfinite(value):
        return value
    stored = struct.unpack("f", struct.pack("f", value))[0]
    for digits in range(1, 10):
        shortest = float(f"{stored:.{digits}g}")
        if struct.unpack("f", struct.pack("f", shortest))[0] == stored:
            return shortest
    return float(stored)


def _to_micros(value: int, unit: str) -> int:
    return value // 1000 if unit == "ns" else value * _UNIT_US[unit]


def _entries(array: Any) -> tuple[list[int], list[bool], int]:
    """Offsets (relative to the first entry), validity and first entry of a list or map array."""
    valid = array.is_valid().to_pylist()
    if pa.types.is_fixed_size_list(array.type):
        size = array.type.list_size
        return [i * size for i in range(len(array) + 1)], valid, array.offset * size
    offsets = array.offsets.to_pylist()
    return [o - offsets[0] for o in offsets], valid, offsets[0]


def _lists(array: Any) -> list[Any]:
    offsets, valid, first = _entries(array)
    flat = _values(array.values.slice(first, offsets[-1]))
    return [flat[offsets[i]:offsets[i + 1]] if ok else None for i, ok in enumerate(valid)]


def _maps(array: Any) -> list[Any]:
    offsets, valid, first = _entries(array)
    keys = _values(array.keys.slice(first, offsets[-1]))
    items = _values(array.items.slice(first, offsets[-1]))
    return [
        MapValue(zip(keys[offsets[i]:offsets[i + 1]], items[offsets[i]:offsets[i + 1]], strict=True)) if ok else None
        for i, ok in enumerate(valid)
    ]


def _structs(array: Any) -> list[Any]:
    names = [array.type.field(i).name for i in range(array.type.num_fields)]
    fields = [_values(child) for child in array.flatten()]
    valid = array.is_valid().to_pylist()
    rows: list[Any] = []
    for i, ok in enumerate(valid):
        rows.append(StructValue((name, field[i]) for name, field in zip(names, fields, strict=True)) if ok else None)
    return rows


def civil_date(days: int) -> tuple[int, int, int]:
    """(year, month, day) of ``days`` since 1970-01-01 in the proleptic Gregorian calendar
    (astronomical years: 0 is 1 BC), for any number of days."""
    z = days + 719_468
    era = z // 146_097
    doe = z - era * 146_097
    yoe = (doe - doe // 1460 + doe // 36_524 - doe // 146_096) // 365
    doy = doe - (365 * yoe + yoe // 4 - yoe // 100)
    mp = (5 * doy + 2) // 153
    day = doy - (153 * mp + 2) // 5 + 1
    month = mp + 3 if mp < 10 else mp - 9
    return yoe + era * 400 + (month <= 2), month, day


def _year(year: int) -> str:
    if year > 9999:
        return f"+{year}"
    return f"-{-year:04d}" if year < 0 else f"{year:04d}"


def format_date(days: int) -> str:
    """A date (days since 1970-01-01) as Spark prints it: ``2024-01-01``, ``+10000-01-01``."""
    year, month, day = civil_date(days)
    return f"{_year(year)}-{month:02d}-{day:02d}"


def _time_of_day(micros: int) -> str:
    seconds, fraction = divmod(micros, 1_000_000)
    minutes, second = divmod(seconds, 60)
    hour, minute = divmod(minutes, 60)
    text = f"{hour:02d}:{minute:02d}:{second:02d}"
    return f"{text}.{fraction:06d}".rstrip("0") if fraction else text


def format_timestamp(micros: int) -> str:
    """A timestamp (microseconds since the epoch, UTC) as Spark prints it."""
    days, of_day = divmod(micros, _US_PER_DAY)
    return f"{format_date(days)} {_time_of_day(of_day)}"


def _day_time_interval(micros: int) -> str:
    sign = "-" if micros < 0 else ""
    days, of_day = divmod(abs(micros), _US_PER_DAY)
    return f"INTERVAL '{sign}{days} {_time_of_day(of_day)}' DAY TO SECOND"


def _interval(months: int, days: int, nanos: int) -> str:
    if not days and not nanos:
        sign = "-" if months < 0 else ""
        return f"INTERVAL '{sign}{abs(months) // 12}-{abs(months) % 12}' YEAR TO MONTH"
    day_time = _day_time_interval(days * _US_PER_DAY + nanos // 1000)
    if not months:
        return day_time
    return f"INTERVAL '{months}' MONTH + {day_time}"


def java_double(value: float) -> str:
    """A double as Java's ``Double.toString`` writes it (Spark's text for doubles)."""
    if math.isnan(value):
        return "NaN"
    if math.isinf(value):
        return "Infinity" if value > 0 else "-Infinity"
    if value == 0:
        return "-0.0" if math.copysign(1.0, value) < 0 else "0.0"
    if 1e-3 <= abs(value) < 1e7:
        text = repr(value)
        return text if "." in text else f"{text}.0"
    exact = Decimal(repr(value))
    sign, digits, _ = exact.as_tuple()
    shown = "".join(map(str, digits)).rstrip("0") or "0"
    mantissa = f"{shown[0]}.{shown[1:] or '0'}"
    return f"{'-' if sign else ''}{mantissa}E{exact.adjusted()}"


def spark_text(value: Any, *, nested: bool = False) -> str:
    """``value`` (from :func:`column_values`) as Spark's ``show()`` prints it; NULL for None."""
    if value is None:
        return "NULL"
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return java_double(value)
    if isinstance(value, BinaryValue):
        return "[" + " ".join(f"{b:02X}" for b in value) + "]"
    if isinstance(value, MapValue):
        return "{" + ", ".join(f"{spark_text(k, nested=True)} -> {spark_text(v, nested=True)}" for k, v in value) + "}"
    if isinstance(value, StructValue):
        return "{" + ", ".join(spark_text(v, nested=True) for v in value.values()) + "}"
    if isinstance(value, list):
        return "[" + ", ".join(spark_text(v, nested=True) for v in value) + "]"
    return str(value)


def json_value(value: Any) -> Any:
    """``value`` (from :func:`column_values`) as a value :func:`json.dumps` writes as strict JSON."""
    if value is None or isinstance(value, (bool, int, str)):
        return str(value) if isinstance(value, Shown) else value
    if isinstance(value, float):
        return value if math.isfinite(value) else java_double(value)
    if isinstance(value, Decimal):
        return str(value)
    if isinstance(value, BinaryValue):
        return base64.b64encode(value).decode("ascii")
    if isinstance(value, MapValue):
        return {spark_text(k): json_value(v) for k, v in value}
    if isinstance(value, StructValue):
        return {k: json_value(v) for k, v in value.items()}
    if isinstance(value, list):
        return [json_value(v) for v in value]
    return str(value)
