"""Hidden file-metadata columns: ``_metadata`` never comes out of ``SELECT *``.

On Databricks ``_metadata`` is a hidden column of a file read: ``SELECT *`` does not
expand it, ``SELECT _metadata.file_path`` reads it. soundlake hands the engine a relation
whose ``_metadata`` is an ordinary column (added only when the query mentions it), so
before binding, every star of a select that reads files directly gets
``EXCEPT (_metadata)``. ``input_file_name()`` is refused (deprecated on Databricks).
"""

from __future__ import annotations

import sqlglot
from sqlglot import exp

from soundlake.core.errors import DefinitionError

METADATA = "_metadata"
_FILE_FUNCTIONS = ("read_files", "cloud_files")
_DIALECT = "databricks"


def _is_file_read(node: exp.Expr) -> bool:
    table = node.this if isinstance(node, exp.Stream) else node
    if not isinstance(table, exp.Table):
        return False
    func = table.this
    return isinstance(func, exp.Anonymous) and str(func.name).lower() in _FILE_FUNCTIONS


def _file_aliases(select: exp.Select) -> tuple[bool, set[str]]:
    """Whether the select reads files directly, and the aliases of those reads."""
    sources: list[exp.Expr] = []
    from_ = select.args.get("from_") or select.args.get("from")
    if from_ is not None:
        sources.append(from_.this)
    sources += [join.this for join in select.args.get("joins") or []]
    found = False
    aliases: set[str] = set()
    for source in sources:
        if _is_file_read(source):
            found = True
            alias = source.alias_or_name if isinstance(source, exp.Table) else source.this.alias
            if alias:
                aliases.add(alias.lower())
    return found, aliases


def _except_metadata() -> list[exp.Expr]:
    return [exp.column(METADATA)]


def hide_metadata(sql: str) -> str:
    """``sql`` (Spark SQL) with ``_metadata`` excluded from stars over file reads.

    Unchanged when the query does not mention ``_metadata`` (the file relation then has
    no such column).
    """
    if METADATA not in sql.lower():
        return sql
    tree = sqlglot.parse_one(sql, read=_DIALECT)
    changed = False
    for select in tree.find_all(exp.Select):
        reads_files, aliases = _file_aliases(select)
        if not reads_files:
            continue
        for item in select.expressions:
            star = item if isinstance(item, exp.Star) else None
            if isinstance(item, exp.Column) and isinstance(item.this, exp.Star):
                star = item.this if item.table.lower() in aliases else None
            if star is None or star.args.get("except_") or star.args.get("except"):
                continue
            star.set("except_", _except_metadata())
            changed = True
    return tree.sql(dialect=_DIALECT) if changed else sql


def refuse_input_file_name(sql: str, where: str) -> None:
    """Refuse SQL ``input_file_name()``.

    Raises:
        DefinitionError: naming ``where`` and the replacement ``_metadata.file_path``.
    """
    if "input_file_name" not in sql.lower():
        return
    tree = sqlglot.parse_one(sql, read=_DIALECT)
    for func in tree.find_all(exp.Anonymous, exp.Func):
        name = func.name if isinstance(func, exp.Anonymous) else func.sql_name()
        if str(name).lower() == "input_file_name":
            raise DefinitionError(
                f"{where}: input_file_name() is not supported (deprecated on Databricks, "
                "unavailable on Unity Catalog); use _metadata.file_path"
            )
