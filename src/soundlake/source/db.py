"""Connections, DDL and fast writes for the source database.

Supported URLs (any SQLAlchemy URL works for reading and for the generic write path):

- SQLite (default, embedded): ``sqlite:///path/to/source.db``. Dates are stored as
  ``YYYY-MM-DD`` text and DATETIME values as ``YYYY-MM-DD HH:MM:SS`` text (second
  precision, UTC, no ``T``), so text comparisons order them correctly.
- PostgreSQL: ``postgresql+psycopg://user:pw@host:5432/db``. Mixed-case table names are
  created quoted (``"DimUser"``), exactly as the seed names them.
- SQL Server / Azure SQL: ``mssql+pyodbc://user:pw@server/db?driver=ODBC+Driver+18+for+SQL+Server``
  (install ``pyodbc`` and Microsoft's ODBC driver). Tables are created through SQLAlchemy;
  writes use the generic path (delete the batch's keys, then insert). This path is not
  tested here (no server is available in CI).

All timestamps are naive and mean UTC.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from datetime import date, datetime
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection, Engine

from soundlake.core.errors import SourceError
from soundlake.core.secrets import mask_secrets
from soundlake.source.schema import REFERENCE_TABLES, metadata

TABLE_NAMES: tuple[str, ...] = ("DimUser", "DimArtist", "DimTrack", "DimDate", "FactStream")
KEYS: dict[str, str] = {spec.table: spec.key for spec in REFERENCE_TABLES}

Row = Sequence[Any]


def make_engine(url: str) -> Engine:
    """Return a SQLAlchemy engine for ``url`` (creating a SQLite file's folder if needed).

    Raises:
        SourceError: The URL is malformed or names an unknown driver.
    """
    try:
        parsed = sa.engine.make_url(url)
    except sa.exc.ArgumentError as exc:
        raise SourceError(f"invalid source URL {url!r}: {exc}") from exc
    database = parsed.database
    if parsed.get_backend_name() == "sqlite" and database and database != ":memory:":
        Path(database).parent.mkdir(parents=True, exist_ok=True)
    try:
        return sa.create_engine(parsed)
    except (sa.exc.ArgumentError, sa.exc.NoSuchModuleError, ImportError) as exc:
        raise SourceError(f"cannot open source {safe_url(url)}: {exc}") from exc


def safe_url(url: str) -> str:
    """``url`` with any password masked, for messages and summaries."""
    try:
        rendered = sa.engine.make_url(url).render_as_string(hide_password=True)
    except sa.exc.ArgumentError:
        return "<invalid url>"
    return mask_secrets(rendered)  # also ?password=, &pwd=, &token=, ... (core.secrets)


def dialect_of(engine: Engine | Connection) -> str:
    """The dialect name: ``sqlite``, ``postgresql``, ``mssql``, ..."""
    return engine.dialect.name


@contextmanager
def connect(url: str) -> Iterator[Engine]:
    """Yield an engine for ``url`` and dispose of it afterwards, mapping driver errors."""
    engine = make_engine(url)
    try:
        yield engine
    except sa.exc.SQLAlchemyError as exc:
        raise SourceError(f"source database {safe_url(url)} failed: {_first_line(exc)}") from exc
    finally:
        engine.dispose()


def _first_line(exc: BaseException) -> str:
    text = str(getattr(exc, "orig", None) or exc)
    return text.strip().splitlines()[0] if text.strip() else type(exc).__name__


def create_tables(url: str) -> list[str]:
    """Create the five reference tables at ``url`` where they are missing.

    Existing tables and their rows are left untouched (idempotent).

    Returns:
        The names of the tables created by this call (empty when all existed).
    """
    with connect(url) as engine:
        return create_missing(engine)


def create_missing(engine: Engine) -> list[str]:
    """Create the reference tables missing at ``engine``; return their names."""
    existing = set(sa.inspect(engine).get_table_names())
    missing = [name for name in TABLE_NAMES if name not in existing]
    if missing:
        metadata.create_all(engine, tables=[metadata.tables[n] for n in missing], checkfirst=True)
    if dialect_of(engine) == "sqlite":
        with engine.connect() as conn:
            conn.exec_driver_sql("PRAGMA journal_mode=WAL")
    return missing


def table_counts(url: str) -> dict[str, int]:
    """Row count of each reference table (missing tables count as 0)."""
    with connect(url) as engine:
        existing = set(sa.inspect(engine).get_table_names())
        counts: dict[str, int] = {}
        with engine.connect() as conn:
            for name in TABLE_NAMES:
                if name in existing:
                    table = metadata.tables[name]
                    counts[name] = int(conn.execute(sa.select(sa.func.count()).select_from(table)).scalar_one())
                else:
                    counts[name] = 0
        return counts


def read_rows(url: str, table: str, keys: Iterable[int] | None = None) -> dict[int, dict[str, Any]]:
    """Rows of ``table`` by primary key, typed (``date``/``datetime``), optionally only ``keys``."""
    tbl = metadata.tables[table]
    key_col = tbl.c[KEYS[table]]
    with connect(url) as engine, engine.connect() as conn:
        return fetch_rows(conn, tbl, key_col, None if keys is None else list(keys))


def fetch_rows(
    conn: Connection, tbl: sa.Table, key_col: sa.Column[Any], keys: list[int] | None
) -> dict[int, dict[str, Any]]:
    """Rows of ``tbl`` by ``key_col`` on an open connection (all rows when ``keys`` is None)."""
    out: dict[int, dict[str, Any]] = {}
    if keys is None:
        for row in conn.execute(sa.select(tbl).order_by(key_col)):
            out[row._mapping[key_col.name]] = dict(row._mapping)
        return out
    for start in range(0, len(keys), 500):
        chunk = keys[start : start + 500]
        for row in conn.execute(sa.select(tbl).where(key_col.in_(chunk))):
            out[row._mapping[key_col.name]] = dict(row._mapping)
    return out


def content_hash(url: str) -> str:
    """A SHA-256 over every row of the five tables in key order (for determinism checks)."""
    digest = hashlib.sha256()
    with connect(url) as engine, engine.connect() as conn:
        for name in TABLE_NAMES:
            tbl = metadata.tables[name]
            digest.update(name.encode())
            result = conn.execute(sa.select(tbl).order_by(tbl.c[KEYS[name]]))
            for batch in result.partitions(10_000):
                for row in batch:
                    digest.update(repr(tuple(_canonical(v) for v in row)).encode())
    return digest.hexdigest()


def _canonical(value: Any) -> Any:
    if isinstance(value, datetime):
        return value.strftime("%Y-%m-%d %H:%M:%S")
    if isinstance(value, date):
        return value.isoformat()
    return value


# ---------------------------------------------------------------- writes


def to_db_value(value: Any, dialect: str) -> Any:
    """Convert a Python value to what the driver of ``dialect`` should receive."""
    if dialect == "sqlite":
        if isinstance(value, datetime):
            return value.strftime("%Y-%m-%d %H:%M:%S")
        if isinstance(value, date):
            return value.isoformat()
    return value


def _quote(conn: Connection, name: str) -> str:
    return conn.dialect.identifier_preparer.quote(name)


def upsert_rows(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
    """Insert ``rows`` into ``table``, replacing rows whose primary key exists.

    Rows are applied in order, so when a key appears twice the later row wins. SQLite and
    PostgreSQL use ``INSERT ... ON CONFLICT (key) DO UPDATE``; other dialects delete the
    batch's keys and insert the last row of each key.
    """
    if not rows:
        return
    dialect = dialect_of(conn)
    key = KEYS[table]
    if key not in columns:
        raise SourceError(f"rows for {table} lack the key column {key}")
    if dialect in ("sqlite", "postgresql"):
        mark = "?" if dialect == "sqlite" else "%s"
        cols = ", ".join(_quote(conn, c) for c in columns)
        sets = ", ".join(f"{_quote(conn, c)} = excluded.{_quote(conn, c)}" for c in columns if c != key)
        action = f"DO UPDATE SET {sets}" if sets else "DO NOTHING"
        sql = (
            f"INSERT INTO {_quote(conn, table)} ({cols}) VALUES ({', '.join([mark] * len(columns))}) "
            f"ON CONFLICT ({_quote(conn, key)}) {action}"
        )
        params = [tuple(to_db_value(v, dialect) for v in row) for row in rows]
        conn.exec_driver_sql(sql, params)
        return
    _generic_upsert(conn, table, columns, rows)


def _generic_upsert(conn: Connection, table: str, columns: Sequence[str], rows: Sequence[Row]) -> None:
    tbl = metadata.tables[table]
    key = KEYS[table]
    pos = list(columns).index(key)
    last: dict[Any, Row] = {}
    for row in rows:
        last[row[pos]] = row
    keys = list(last)
    for start in range(0, len(keys), 500):
        conn.execute(sa.delete(tbl).where(tbl.c[key].in_(keys[start : start + 500])))
    conn.execute(sa.insert(tbl), [dict(zip(columns, row)) for row in last.values()])


def delete_all(conn: Connection) -> None:
    """Delete every row of the five tables (used by ``generate --replace``)."""
    for name in TABLE_NAMES:
        conn.execute(sa.delete(metadata.tables[name]))
