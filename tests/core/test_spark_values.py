"""Arrow values rendered as Spark prints them, for values outside Python's ranges too."""

from __future__ import annotations

import json
import math
from decimal import Decimal

import pyarrow as pa
import pytest

from soundlake.core.spark_values import (
    civil_date,
    column_values,
    java_double,
    json_value,
    spark_text,
    table_values,
)


def texts(array: pa.Array) -> list[str]:
    return [spark_text(v) for v in column_values(array)]


def test_dates_outside_python_range() -> None:
    days = pa.array([-735_525, -719_163, -719_162, 2_932_897, 0, None], pa.int32()).cast(pa.date32())
    assert texts(days) == ["-0044-03-15", "0000-12-31", "0001-01-01", "+10000-01-01", "1970-01-01", "NULL"]
    assert civil_date(19_723) == (2024, 1, 1)


def test_timestamps_in_utc_with_trimmed_fractions() -> None:
    micros = [1_704_103_200_500_000, -1_000, 253_402_387_199_000_000, None]
    ts = pa.array(micros, pa.int64()).cast(pa.timestamp("us", tz="UTC"))
    assert texts(ts) == ["2024-01-01 10:00:00.5", "1969-12-31 23:59:59.999", "+10000-01-01 23:59:59", "NULL"]
    ns = pa.array([1_704_103_200_123_456_789], pa.timestamp("ns"))
    assert texts(ns) == ["2024-01-01 10:00:00.123456"]


@pytest.mark.parametrize(
    ("value", "text"),
    [(1.0, "1.0"), (1e10, "1.0E10"), (1.5e-5, "1.5E-5"), (-0.0, "-0.0"), (0.001, "0.001"),
     (1234567.5, "1234567.5"), (12345678.0, "1.2345678E7"), (math.nan, "NaN"), (-math.inf, "-Infinity")],
)
def test_doubles_like_java(value: float, text: str) -> None:
    assert java_double(value) == text


def test_floats_decimals_booleans_binary_and_nested_values() -> None:
    table = pa.table({
        "f": pa.array([1.1], pa.float32()),
        "dec": pa.array([Decimal("1.50")], pa.decimal128(4, 2)),
        "zero": pa.array([Decimal("0E-10")], pa.decimal128(20, 10)),
        "b": [True],
        "bin": [b"\x01\xff"],
        "a": pa.array([[1, None]]),
        "m": pa.array([[("a", 1)]], pa.map_(pa.string(), pa.int64())),
        "s": pa.array([{"x": 1, "y": "z"}]),
        "ad": pa.array([[0]], pa.list_(pa.int32())).cast(pa.list_(pa.date32())),
    })
    (row,) = table_values(table)
    assert [spark_text(v) for v in row] == [
        "1.1", "1.50", "0E-10", "true", "[01 FF]", "[1, NULL]", "{a -> 1}", "{1, z}", "[1970-01-01]",
    ]
    assert json.loads(json.dumps([json_value(v) for v in row], allow_nan=False)) == [
        1.1, "1.50", "0E-10", True, "Af8=", [1, None], {"a": 1}, {"x": 1, "y": "z"}, ["1970-01-01"],
    ]


def test_sliced_nested_arrays_and_strict_json_for_special_doubles() -> None:
    lists = pa.array([[1, 2], None, [3], [4, 5, 6]]).slice(1, 3)
    assert texts(lists) == ["NULL", "[3]", "[4, 5, 6]"]
    maps = pa.array([[("a", 1)], None, [("b", 2), ("c", None)]], pa.map_(pa.string(), pa.int64())).slice(1)
    assert texts(maps) == ["NULL", "{b -> 2, c -> NULL}"]
    structs = pa.array([{"x": 1}, None, {"x": 3}]).slice(1)
    assert texts(structs) == ["NULL", "{3}"]
    assert [json_value(v) for v in column_values(pa.array([math.nan, math.inf, 2.5]))] == ["NaN", "Infinity", 2.5]
