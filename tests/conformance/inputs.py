"""The typed input rows every conformance case reads: edge cases of each Spark type.

Both engines read the same Parquet file, so inputs are identical byte for byte.
"""

from __future__ import annotations

import math
from datetime import date, datetime, timezone
from decimal import Decimal
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

UTC = timezone.utc

SCHEMA = pa.schema(
    [
        ("id", pa.int32()),
        ("i", pa.int32()),
        ("l", pa.int64()),
        ("d", pa.float64()),
        ("dec", pa.decimal128(10, 3)),
        ("s", pa.string()),
        ("n", pa.string()),
        ("ds", pa.string()),
        ("dt", pa.date32()),
        ("ts", pa.timestamp("us", tz="UTC")),
        ("b", pa.bool_()),
        ("a", pa.list_(pa.int32())),
        ("sa", pa.list_(pa.string())),
        ("m", pa.map_(pa.string(), pa.int32())),
        ("st", pa.struct([("x", pa.int32()), ("y", pa.string())])),
        ("bin", pa.binary()),
    ]
)

ROWS: list[dict[str, object]] = [
    {
        "id": 0, "i": 1, "l": 10, "d": 1.5, "dec": Decimal("1.250"), "s": "abc", "n": "42",
        "ds": "2024-02-29", "dt": date(2024, 2, 29), "ts": datetime(2024, 2, 29, 12, 34, 56, 789012, UTC),
        "b": True, "a": [3, 1, 2], "sa": ["b", "a", None], "m": [("k", 1), ("j", 2)],
        "st": {"x": 1, "y": "one"}, "bin": b"\x00\x01\xff",
    },
    {
        "id": 1, "i": 2147483647, "l": 9223372036854775807, "d": -0.5, "dec": Decimal("-999.999"), "s": "",
        "n": "", "ds": "not a date", "dt": date(1969, 12, 31), "ts": datetime(1969, 12, 31, 23, 59, 59, 999999, UTC),
        "b": False, "a": [], "sa": [], "m": [], "st": {"x": None, "y": None}, "bin": b"",
    },
    {key: (0 if key == "id" else None) for key in SCHEMA.names} | {"id": 2},
    {
        "id": 3, "i": 0, "l": 0, "d": math.nan, "dec": Decimal("0.000"), "s": "ÄÖü straße 😀", "n": "-1.5",
        "ds": "1900-01-01 00:00:00", "dt": date(1, 1, 1), "ts": datetime(1900, 1, 1, 0, 0, 0, 1, UTC),
        "b": None, "a": [None, 5], "sa": ["x"], "m": [("z", None)], "st": None, "bin": None,
    },
    {
        "id": 4, "i": -2147483648, "l": -9223372036854775808, "d": math.inf, "dec": Decimal("9999999.999"),
        "s": "  Padded Words  ", "n": "1e3", "ds": "2024-03-10 02:30:00", "dt": date(9999, 12, 31),
        "ts": datetime(2024, 3, 10, 7, 30, 0, 0, UTC), "b": True, "a": [1, 1, 2], "sa": ["a,b", ""],
        "m": [("a", -1)], "st": {"x": -5, "y": ""}, "bin": b"abc",
    },
    {
        "id": 5, "i": -7, "l": -3, "d": -math.inf, "dec": Decimal("-0.001"), "s": "a,b,,c", "n": " 7 ",
        "ds": "2023-12-31T23:59:59Z", "dt": date(2000, 1, 1), "ts": datetime(2038, 1, 19, 3, 14, 8, 0, UTC),
        "b": False, "a": [-1], "sa": ["Z", "z"], "m": [("x", 0)], "st": {"x": 7, "y": "Seven"}, "bin": b"\xff",
    },
    {
        "id": 6, "i": 13, "l": 1700000000, "d": 2.675, "dec": Decimal("2.675"), "s": "Hello World", "n": "12.345",
        "ds": "2024-12-31 23:59:59.123456", "dt": date(2024, 12, 31), "ts": datetime(2024, 12, 31, 23, 59, 59, 123456, UTC),
        "b": True, "a": [10, 20], "sa": ["hello", "world"], "m": [("h", 8)], "st": {"x": 2, "y": "two"},
        "bin": b"Hello",
    },
]


def table() -> pa.Table:
    """The input rows as an Arrow table with :data:`SCHEMA`."""
    return pa.Table.from_pylist(ROWS, schema=SCHEMA)


def write(path: Path) -> Path:
    """Write the input rows to ``path`` (Parquet) and return it."""
    pq.write_table(table(), path)
    return path
