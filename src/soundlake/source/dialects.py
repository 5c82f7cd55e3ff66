"""What differs between source databases: URLs, identifier quoting, error classes.

A :class:`Dialect` is plain data derived from the SQLAlchemy URL; readers branch on its
``reader`` field (``adbc-sqlite``, ``adbc-postgresql`` or ``sqlalchemy``), never on driver
classes.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

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
)


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


def dialect_of(url: str, *, force_sqlalchemy: bool = False) -> Dialect:
    """Parse a SQLAlchemy URL into a :class:`Dialect`.

    Args:
        url: A SQLAlchemy URL such as ``sqlite:///path.db`` or ``postgresql+psycopg://...``.
        force_sqlalchemy: Use the portable SQLAlchemy reader even where ADBC exists.

    Raises:
        ConfigError: when the URL cannot be parsed.
    """
    try:
        parsed = sa.engine.make_url(url)
    except Exception as exc:  # ArgumentError and ValueError
        raise ConfigError(f"invalid source URL '{url}': {exc}") from exc
    name = parsed.get_backend_name()
    display = parsed.render_as_string(hide_password=True)
    if force_sqlalchemy:
        return Dialect(name, url, "sqlalchemy", None, display)
    if name == "sqlite" and parsed.database and parsed.database != ":memory:":
        return Dialect(name, url, "adbc-sqlite", parsed.database, display)
    if name == "postgresql":
        libpq = parsed.set(drivername="postgresql").render_as_string(hide_password=False)
        return Dialect(name, url, "adbc-postgresql", libpq, display)
    return Dialect(name, url, "sqlalchemy", None, display)


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
