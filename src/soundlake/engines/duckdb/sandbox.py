"""The query sandbox: user SQL sees the lake's tables only.

``soundlake query`` runs SQL typed by a user. DuckDB can read any local file
(``read_csv('/etc/passwd')``, ``read_text``), fetch URLs, attach databases, write files
with ``COPY`` and download extensions. A sandboxed connection:

- is opened with extension auto-install and auto-load off;
- refuses, before running anything, every table function other than ``range`` /
  ``generate_series`` / ``unnest`` (``read_csv``, ``read_text``, ``glob``, ...), naming it;
- after the lake's tables are registered, allows exactly the data files of those tables
  (``allowed_paths``), turns external access off (no files, URLs, ``ATTACH``, ``COPY``,
  ``INSTALL``/``LOAD``) and locks the configuration, so no statement can turn it back on.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from soundlake.core.errors import AccessError

CONNECT_CONFIG: dict[str, Any] = {
    "autoinstall_known_extensions": False,
    "autoload_known_extensions": False,
}
ALLOWED_TABLE_FUNCTIONS = frozenset({"range", "generate_series", "unnest"})
PREFIX = "soundlake query reads the lake's tables only"


def table_functions(sql: str) -> list[str]:
    """Names (lower case) of the table functions that DuckDB SQL ``sql`` calls."""
    try:
        trees = sqlglot.parse(sql, read="duckdb")
    except SqlglotError:
        return []  # DuckDB reports the syntax error; the locked connection still holds
    names: list[str] = []
    for tree in trees:
        if tree is None:
            continue
        for table in tree.find_all(exp.Table):
            func = table.this
            if isinstance(func, exp.Anonymous):
                names.append(str(func.this).lower())
            elif isinstance(func, exp.Func):
                names.append(func.sql_name().lower())
    return names


def refuse_external_reads(sql: str) -> None:
    """Raise :class:`AccessError` when ``sql`` calls a table function that reads outside the lake."""
    for name in table_functions(sql):
        if name not in ALLOWED_TABLE_FUNCTIONS:
            raise AccessError(f"{PREFIX}: {name} is not allowed", hint="name a table: SELECT ... FROM schema.table")


def lock_down(con: Any, allowed_paths: Sequence[str]) -> None:
    """Allow only ``allowed_paths``, turn external access off and lock the configuration."""
    con.execute("SET allowed_paths = ?", [list(allowed_paths)])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


def confine(con: Any, directories: Sequence[str]) -> None:
    """Allow files under ``directories`` only, turn external access off, lock the configuration."""
    con.execute("SET allowed_directories = ?", [[d.rstrip("/") + "/" for d in directories]])
    con.execute("SET enable_external_access = false")
    con.execute("SET lock_configuration = true")


CONFINED = "pipeline queries read and write files under the lake only"


def access_error(exc: BaseException, prefix: str = PREFIX) -> AccessError:
    """A DuckDB permission error as a one-line :class:`AccessError` starting with ``prefix``."""
    first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
    return AccessError(f"{prefix}: {first.removeprefix('Permission Error: ')}")
