"""Type mapping SQL -> Arrow, read by the batch readers on SQLite and PostgreSQL."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pyarrow as pa
import pytest
import sqlalchemy as sa

from soundlake.core.errors import ConfigError, SourceError
from soundlake.source.dialects import dialect_of
from soundlake.source.introspect import describe_table
from soundlake.source.reader import ReadRequest, read_batches

COMMON = [
    ("c_int", "INT", pa.int32(), 7),
    ("c_bigint", "BIGINT", pa.int64(), 2**40),
    ("c_smallint", "SMALLINT", pa.int16(), 3),
    ("c_varchar", "VARCHAR(50)", pa.string(), "héllo"),
    ("c_text", "TEXT", pa.string(), "long text"),
    ("c_date", "DATE", pa.date32(), dt.date(2025, 10, 7)),
    ("c_decimal", "DECIMAL(10,2)", pa.decimal128(10, 2), Decimal("12.34")),
    ("c_numeric", "NUMERIC(38,6)", pa.decimal128(38, 6), Decimal("123456.789012")),
    ("c_bool", "BOOLEAN", pa.bool_(), True),
    ("c_double", "DOUBLE PRECISION", pa.float64(), 2.5),
]
SQLITE = [
    *COMMON,
    ("c_datetime", "DATETIME", pa.timestamp("us"), dt.datetime(2025, 10, 7, 19, 49, 55, 120000)),
    ("c_float", "FLOAT", pa.float64(), 1.25),
    ("c_real", "REAL", pa.float64(), 0.5),  # SQLite REAL is 8 bytes
]
POSTGRES = [
    *COMMON,
    ("c_timestamp", "TIMESTAMP", pa.timestamp("us"), dt.datetime(2025, 10, 7, 19, 49, 55, 120000)),
    (
        "c_timestamptz",
        "TIMESTAMPTZ",
        pa.timestamp("us", tz="UTC"),
        dt.datetime(2025, 10, 7, 19, 49, 55, tzinfo=dt.timezone.utc),
    ),
    ("c_real", "REAL", pa.float32(), 0.5),
    ("c_float8", "FLOAT", pa.float64(), 1.25),
]


def _create(
    url: str, columns: list[tuple[str, str, pa.DataType, object]], rows: list[list[object]]
) -> None:
    if url.startswith("sqlite"):  # the sqlite3 module binds no Decimal
        rows = [[str(v) if isinstance(v, Decimal) else v for v in row] for row in rows]
    engine = sa.create_engine(url)
    ddl = ", ".join(f"{name} {sql}" for name, sql, _, _ in columns)
    with engine.begin() as conn:
        conn.exec_driver_sql(f"CREATE TABLE typed ({ddl})")
        marks = ", ".join(f":{name}" for name, *_ in columns)
        conn.execute(
            sa.text(f"INSERT INTO typed VALUES ({marks})"),
            [{name: value for (name, *_), value in zip(columns, row)} for row in rows],
        )
    engine.dispose()


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
def test_declared_types_map_to_arrow(
    backend: str, request: pytest.FixtureRequest, tmp_path
) -> None:
    url = (
        f"sqlite:///{tmp_path / 't.db'}"
        if backend == "sqlite"
        else str(request.getfixturevalue("pg_url"))
    )
    columns = SQLITE if backend == "sqlite" else POSTGRES
    values = [value for *_, value in columns]
    nulls = [None] * len(columns)
    _create(url, columns, [nulls] * 3 + [values])  # leading NULLs: types must not come from values
    info = describe_table(url, None, "typed")
    assert [c.arrow_type for c in info.columns] == [t for _, _, t, _ in columns]
    cdc = "c_date"
    batches = list(read_batches(ReadRequest(info, cdc, None, batch_rows=2)))
    table = pa.Table.from_batches(batches)
    assert table.schema == info.arrow_schema
    assert table.num_rows == 4
    got = table.slice(3).to_pylist()[0]
    for name, _, _, value in columns:
        assert got[name] == value, name
    later = list(read_batches(ReadRequest(info, cdc, dt.date(2025, 10, 7), batch_rows=2)))
    assert sum(b.num_rows for b in later) == 4  # the row past the bound + 3 NULL-CDC rows
    assert sum(b.column(cdc).null_count for b in later) == 3


def test_sqlite_value_that_does_not_fit_its_declared_type_names_the_column(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    _create(url, [("n", "INT", pa.int32(), 1)], [[1], [2**40]])
    info = describe_table(url, None, "typed")
    with pytest.raises(SourceError, match="column 'n'"):
        list(read_batches(ReadRequest(info, "n", None)))


def test_identifiers_are_quoted_and_unknown_names_rejected(tmp_path) -> None:
    url = f"sqlite:///{tmp_path / 't.db'}"
    engine = sa.create_engine(url)
    with engine.begin() as conn:
        conn.exec_driver_sql('CREATE TABLE "odd ""name""" ("select" INT, "ts" DATETIME)')
        conn.exec_driver_sql('INSERT INTO "odd ""name""" VALUES (1, \'2025-01-01 00:00:00\')')
    engine.dispose()
    info = describe_table(url, None, 'odd "name"')
    rows = pa.Table.from_batches(
        list(read_batches(ReadRequest(info, "ts", dt.datetime(2024, 1, 1))))
    ).to_pylist()
    assert rows == [{"select": 1, "ts": dt.datetime(2025, 1, 1)}]
    with pytest.raises(ConfigError, match="source table 'typed; DROP TABLE x' not found"):
        describe_table(url, None, "typed; DROP TABLE x")
    with pytest.raises(ConfigError, match="unknown column 'nope'"):
        info.column("nope")


def test_dialects_choose_readers() -> None:
    assert dialect_of("sqlite:////tmp/x.db").reader == "adbc-sqlite"
    pg = dialect_of("postgresql+psycopg://u:secret@h/db")
    assert pg.reader == "adbc-postgresql" and "secret" not in pg.display_url
    assert pg.adbc_uri == "postgresql://u:secret@h/db?connect_timeout=10"  # source.connect_timeout
    assert dialect_of("mssql+pyodbc://u:p@dsn").reader == "sqlalchemy"
    assert dialect_of("mssql+pyodbc://u:p@dsn").quote("a]b") == "[a]]b]"


def test_sqlalchemy_reader_reads_the_same_rows(tmp_path) -> None:
    """The portable path (SQL Server, MySQL, ...) exercised on SQLite."""
    url = f"sqlite:///{tmp_path / 't.db'}"
    columns = [
        c for c in SQLITE if c[0] in ("c_int", "c_varchar", "c_date", "c_datetime", "c_decimal")
    ]
    _create(url, columns, [[None] * len(columns), [v for *_, v in columns]])
    info = describe_table(url, None, "typed")
    portable = type(info)(
        dialect_of(url, force_sqlalchemy=True),
        *[getattr(info, f) for f in ("schema", "table", "columns", "primary_key")],
    )
    fast = pa.Table.from_batches(list(read_batches(ReadRequest(info, "c_date", None))))
    slow = pa.Table.from_batches(list(read_batches(ReadRequest(portable, "c_date", None))))
    assert slow.equals(fast)
    after = list(read_batches(ReadRequest(portable, "c_date", dt.date(2025, 1, 1))))
    assert sum(b.num_rows for b in after) == 2  # NULL-CDC rows are always read
    assert sum(b.column("c_date").null_count for b in after) == 1
