"""What differs between source databases: URLs, identifier quoting, error classes.

A :class:`Dialect` is plain data derived from the SQLAlchemy URL; readers branch on its
``reader`` field (``adbc-sqlite``, ``adbc-postgresql`` or ``sqlalchemy``), never on driver
classes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import sqlalchemy as sa

from soundlake.core.errors import ConfigError, TransientError

ReaderKind = Literal["adbc-sqlite", "adbc-postgresql", "sqlalchemy"]

# SQLSTATE classes and codes a retry may cure: connection exceptions, serialization
# failures, deadlocks, lock timeouts, admin shutdown, too many connections.
_TRANSIENT_SQLSTATES = (
    "08",
    "40001",
    "40P01",
    "55P03",
    "57P01",
    "57P02",
    "57P03",
    "53300",
    "HYT00",
)
_TRANSIENT_WORDS = (
    "database is locked",
    "database table is locked",
    "sqlite_busy",
    "connection refused",
    "connection reset",
    "server closed the connection",
    "terminating connection",
    "could not connect",
    "connection timed out",
    "broken pipe",
    "deadlock",
    "lock timeout",
    "too many connections",
    "communication link failure",
    "timeout expired",
    "timed out",
)


@dataclass(frozen=True)
class Timeouts:
    """How long a source may take before soundlake gives up (then retries and alerts).

    Attributes:
        connect: Seconds to establish a connection; on SQLite also the busy timeout
            (how long to wait for another connection's lock).
        read: Seconds one statement may run (PostgreSQL ``statement_timeout``; ignored
            by dialects without a portable equivalent).
    """

    connect: float = 10.0
    read: float = 3600.0


@dataclass(frozen=True)
class Dialect:
    """A source database URL, parsed.

    Attributes:
        name: SQLAlchemy dialect name (``sqlite``, ``postgresql``, ``mssql``, ...).
        sqlalchemy_url: The URL for SQLAlchemy.
        reader: Which batch reader serves this dialect.
        adbc_uri: The URI for the ADBC driver (None for the SQLAlchemy reader).
        display_url: The URL with its password hidden, for messages.
    """

    name: str
    sqlalchemy_url: str
    reader: ReaderKind
    adbc_uri: str | None
    display_url: str
    timeouts: Timeouts = field(default_factory=Timeouts)

    def connect_args(self) -> dict[str, Any]:
        """Driver arguments for SQLAlchemy's ``create_engine`` that apply the timeouts."""
        if self.name == "sqlite":
            return {"timeout": self.timeouts.connect}
        if self.name == "postgresql":
            return {
                "connect_timeout": max(1, round(self.timeouts.connect)),
                "options": f"-c statement_timeout={max(1, round(self.timeouts.read * 1000))}",
            }
        return {}

    def quote(self, identifier: str) -> str:
        """Quote an identifier for this dialect (doubling embedded quote characters)."""
        if self.name == "mssql":
            return "[" + identifier.replace("]", "]]") + "]"
        if self.name in ("mysql", "mariadb"):
            return "`" + identifier.replace("`", "``") + "`"
        return '"' + identifier.replace('"', '""') + '"'

    def qualified(self, schema: str | None, table: str) -> str:
        """The quoted ``schema.table`` (or ``table``)."""
        return f"{self.quote(schema)}.{self.quote(table)}" if schema else self.quote(table)


def dialect_of(
    url: str, *, force_sqlalchemy: bool = False, timeouts: Timeouts | None = None
) -> Dialect:
    """Parse a SQLAlchemy URL into a :class:`Dialect`.

    Args:
        url: A SQLAlchemy URL such as ``sqlite:///path.db`` or ``postgresql+psycopg://...``.
        force_sqlalchemy: Use the portable SQLAlchemy reader even where ADBC exists.
        timeouts: Connect and read timeouts (default: :class:`Timeouts`).

    Raises:
        ConfigError: when the URL cannot be parsed.
    """
    timeouts = timeouts or Timeouts()
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:  # ArgumentError and ValueError
        raise ConfigError(f"invalid source URL '{url}': {exc}") from exc
    name = parsed.get_backend_name()
    display = parsed.render_as_string(hide_password=True)
    if force_sqlalchemy:
        return Dialect(name, url, "sqlalchemy", None, display, timeouts)
    if name == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Dialect(name, url, "adbc-sqlite", parsed.database, display, timeouts)
    if name == "postgresql":
        query = dict(parsed.query)
        query.setdefault("connect_timeout", str(max(1, round(timeouts.connect))))
        libpq_url = parsed.set(drivername="postgresql", query=query)
        libpq = libpq_url.render_as_string(hide_password=False)
        return Dialect(name, url, "adbc-postgresql", libpq, display, timeouts)
    return Dialect(name, url, "sqlalchemy", None, display, timeouts)


def check_source(url: str) -> None:
    """Fail early, in one line, when the source URL cannot work for reading.

    Raises:
        ConfigError: for an unknown URL scheme, a database driver that is not installed,
            or a SQLite file that does not exist (reading never creates one).
    """
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:  # ArgumentError and ValueError
        raise ConfigError(f"invalid source URL '{url}': {exc}") from exc
    display = parsed.render_as_string(hide_password=True)
    try:
        dialect_cls = parsed.get_dialect()
    except sa.exc.NoSuchModuleError:
        raise ConfigError(
            f"unknown database type '{parsed.drivername}' in source.url={display}",
            hint="use a SQLAlchemy URL such as sqlite:///source.db, "
            "postgresql+psycopg://user:pw@host/db or mssql+pyodbc://...",
        ) from None
    try:
        dialect_cls.import_dbapi()
    except ImportError as exc:
        module = getattr(exc, "name", None) or str(exc)
        raise ConfigError(
            f"the database driver '{module}' for source.url={display} is not installed",
            hint=f"install it into soundlake's environment (pip install {module})",
        ) from None
    database = parsed.database
    local = parsed.get_backend_name() == "sqlite" and database and database != ":memory:"
    if local and database and not database.startswith("file:") and not Path(database).is_file():
        raise ConfigError(
            f"source database file {database} not found (source.url={display})",
            hint="fix source.url or create the database (soundlake source create / generate)",
        )


def is_transient(exc: BaseException) -> bool:
    """True when a driver error looks like one a retry may cure (connection drop, lock)."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, TransientError):
            return True
        if getattr(current, "connection_invalidated", False):
            return True
        state = getattr(current, "sqlstate", None) or getattr(current, "pgcode", None)
        if isinstance(state, str) and state.startswith(_TRANSIENT_SQLSTATES):
            return True
        text = str(current).lower()
        if any(word in text for word in _TRANSIENT_WORDS):
            return True
        current = current.__cause__ or getattr(current, "orig", None)
    return False


def transient_error(what: str, exc: BaseException) -> TransientError:
    """Wrap a driver error as a :class:`TransientError` with context."""
    return TransientError(f"{what}: {type(exc).__name__}: {first_line(exc)}")


def first_line(exc: BaseException) -> str:
    """The first line of an error message (drivers append the whole query)."""
    text = str(exc).strip()
    return text.splitlines()[0] if text else type(exc).__name__
