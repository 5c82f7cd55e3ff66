"""``USE CATALOG`` / ``USE SCHEMA`` in pipeline files: the current catalog and schema.

On Databricks a pipeline source file may change the catalog and schema its later
statements resolve unqualified names against (datasets it defines and tables it reads)::

    USE CATALOG sales;      -- also resets the schema to ``default``, like Databricks
    USE SCHEMA silver;      -- USE DATABASE silver / USE silver / USE sales.silver alike

:func:`parse_use` recognizes such a statement; :func:`qualify_tables` writes the current
catalog and schema into a query's unqualified table names, so every later step (graph,
binding, engines) resolves them exactly as the file meant, whatever the pipeline default.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from sqlglot import exp

from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql.query import parse_query

_USE = re.compile(
    r"^\s*USE\s+(?:(CATALOG|SCHEMA|DATABASE|NAMESPACE)\s+)?(\S+?)\s*;?\s*$", re.IGNORECASE | re.DOTALL
)
_PATH_FORMATS = ("delta", "parquet", "json", "csv")
_PART = re.compile(r"^(?:`[^`]+`|[A-Za-z_][\w-]*)$")


@dataclass(frozen=True)
class Namespace:
    """The catalog and schema unqualified names resolve against."""

    catalog: str
    schema: str


def parse_use(text: str, current: Namespace, *, where: str) -> Namespace | None:
    """The namespace after the statement ``text``, or None when it is not a ``USE``.

    Raises:
        DefinitionError: naming ``where`` for a ``USE`` whose name is not valid.
    """
    match = _USE.match(text)
    if match is None:
        return None
    keyword = (match.group(1) or "").upper()
    written = match.group(2)
    parts = written.split(".")
    if not all(_PART.match(p) for p in parts) or len(parts) > (1 if keyword == "CATALOG" else 2):
        raise DefinitionError(f"{where}: USE {keyword + ' ' if keyword else ''}{written}: not a valid name")
    names = [p.strip("`").lower() for p in parts]
    if keyword == "CATALOG":
        return Namespace(names[0], "default")  # Databricks: setting the catalog resets the schema
    if len(names) == 2:
        return Namespace(names[0], names[1])
    return Namespace(current.catalog, names[0])


def qualify_tables(sql: str, namespace: Namespace, *, location: SourceLocation) -> str:
    """``sql`` with ``namespace`` written into its one- and two-part table names.

    Names of common table expressions, ``LIVE.x``, path references (``delta.`/p```) and
    table-valued functions stay as written; the rest of the text is unchanged.
    """
    tree = parse_query(sql, location=location)
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    inserts: list[tuple[int, str]] = []
    for table in tree.find_all(exp.Table):
        ident = table.this
        if not isinstance(ident, exp.Identifier) or table.args.get("catalog") is not None:
            continue
        db = table.args.get("db")
        if db is None:
            if ident.quoted and "/" in ident.name or ident.name.lower() in ctes:
                continue
            prefix = f"`{namespace.catalog}`.`{namespace.schema}`."
            first = ident
        else:
            if db.name.lower() == "live" or ident.quoted and db.name.lower() in _PATH_FORMATS:
                continue
            prefix = f"`{namespace.catalog}`."
            first = db
        start = first.meta.get("start") if first.meta else None
        if isinstance(start, int):
            inserts.append((start, prefix))
    for start, prefix in sorted(inserts, reverse=True):
        sql = sql[:start] + prefix + sql[start:]
    return sql
