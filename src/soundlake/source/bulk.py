"""Bulk writes of Arrow tables into the source database, one transaction per writer.

- SQLite: ``executemany`` on the raw ``sqlite3`` connection inside one transaction, with
  ``journal_mode=WAL`` and ``synchronous=OFF`` for the load (values in the canonical text
  formats of :mod:`soundlake.source.db`).
- PostgreSQL: ``COPY ... FROM STDIN (FORMAT csv)`` through psycopg, fed with CSV that
  Arrow renders in C++.
- Other dialects: SQLAlchemy ``insert`` with ``executemany``.
"""

from __future__ import annotations

import io
from types import TracebackType
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.csv as pacsv
import sqlalchemy as sa
from sqlalchemy.engine import Engine

from soundlake.core.errors import SourceError
from soundlake.source.db import TABLE_NAMES, dialect_of
from soundlake.source.schema import metadata


class BulkWriter:
    """Append Arrow tables to the reference tables; commit on clean exit, roll back on error."""

    def __init__(self, engine: Engine) -> None:
        self.engine = engine
        self.dialect = dialect_of(engine)
        self._raw: Any = None
        self._sa_conn: sa.Connection | None = None

    def __enter__(self) -> BulkWriter:
        if self.dialect in ("sqlite", "postgresql"):
            self._raw = self.engine.raw_connection()
            if self.dialect == "sqlite":
                driver = self._raw.driver_connection
                driver.execute("PRAGMA journal_mode=WAL")
                driver.execute("PRAGMA synchronous=OFF")
                driver.execute("BEGIN")
        else:
            self._sa_conn = self.engine.connect()
            self._sa_conn.begin()
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        try:
            if self._raw is not None:
                if exc_type is None:
                    self._raw.commit()
                else:
                    self._raw.rollback()
                if self.dialect == "sqlite":
                    self._raw.driver_connection.execute("PRAGMA synchronous=FULL")
                self._raw.close()
            elif self._sa_conn is not None:
                if exc_type is None:
                    self._sa_conn.commit()
                else:
                    self._sa_conn.rollback()
                self._sa_conn.close()
        finally:
            self._raw = None
            self._sa_conn = None

    def clear(self) -> None:
        """Delete every row of the five tables (inside this writer's transaction)."""
        if self.dialect == "postgresql":
            names = ", ".join(f'"{n}"' for n in TABLE_NAMES)
            with self._raw.driver_connection.cursor() as cur:
                cur.execute(f"TRUNCATE {names}")
        elif self.dialect == "sqlite":
            for name in TABLE_NAMES:
                self._raw.driver_connection.execute(f'DELETE FROM "{name}"')
        else:
            assert self._sa_conn is not None
            for name in TABLE_NAMES:
                self._sa_conn.execute(sa.delete(metadata.tables[name]))

    def write(self, table: str, data: pa.Table) -> None:
        """Append ``data`` (columns named as in the schema) to ``table``."""
        if data.num_rows == 0:
            return
        try:
            if self.dialect == "sqlite":
                self._write_sqlite(table, data)
            elif self.dialect == "postgresql":
                self._write_postgres(table, data)
            else:
                assert self._sa_conn is not None
                self._sa_conn.execute(sa.insert(metadata.tables[table]), data.to_pylist())
        except Exception as exc:
            raise SourceError(f"bulk write into {table} failed: {str(exc).strip().splitlines()[0]}") from exc

    def _write_sqlite(self, table: str, data: pa.Table) -> None:
        columns = []
        for col in data.columns:
            if pa.types.is_timestamp(col.type):
                col = pc.strftime(col, format="%Y-%m-%d %H:%M:%S")
            elif pa.types.is_date(col.type):
                col = pc.cast(col, pa.string())
            columns.append(col.to_pylist())
        names = ", ".join(f'"{n}"' for n in data.column_names)
        marks = ", ".join("?" * data.num_columns)
        self._raw.driver_connection.executemany(
            f'INSERT INTO "{table}" ({names}) VALUES ({marks})', zip(*columns)
        )

    def _write_postgres(self, table: str, data: pa.Table) -> None:
        buffer = io.BytesIO()
        pacsv.write_csv(data, buffer, write_options=pacsv.WriteOptions(include_header=False))
        names = ", ".join(f'"{n}"' for n in data.column_names)
        sql = f'COPY "{table}" ({names}) FROM STDIN (FORMAT csv)'
        with self._raw.driver_connection.cursor() as cur, cur.copy(sql) as copy:
            copy.write(buffer.getbuffer())
