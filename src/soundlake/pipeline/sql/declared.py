"""Declared schemas are contracts: column types, order, NOT NULL and generated columns.

A dataset declared with a column list (``CREATE MATERIALIZED VIEW t (id INT NOT NULL, d
DATE, g DOUBLE GENERATED ALWAYS AS (id * 2)) AS ...``, ``@dlt.table(schema=...)``) is
stored with exactly those columns, in that order:

* each column the query returns is stored with Spark's ANSI store assignment: a CAST to
  the declared type, so a value that does not fit (an overflow, text that is no number)
  fails the update instead of being truncated;
* a ``GENERATED ALWAYS AS (expr)`` column is computed from ``expr`` over the stored
  (declared-type) values of the other columns;
* a ``NOT NULL`` column is checked by the engine on the rows written (after
  expectations dropped or quarantined theirs): a NULL fails the update, nothing is
  written.

The contract is Spark SQL around the flow's bound query (:meth:`DeclaredSchema.wrap`),
transpiled for each engine like a query, under ANSI settings.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError

from soundlake.core.errors import DefinitionError, EngineError
from soundlake.core.sql_text import spark_identifier
from soundlake.pipeline.definitions import Dataset, SourceLocation
from soundlake.pipeline.sql.dialect import SPARK_SQL
from soundlake.pipeline.sql.query import transpile_expression
from soundlake.pipeline.sql.settings import SparkSqlSettings

INPUT = "__sl_contract_input"
QUERY_ALIAS = "__sl_query"
ANSI = SparkSqlSettings(ansi=True)
STORED_ALIAS = "__sl_declared"


@dataclass(frozen=True)
class DeclaredColumn:
    """One declared column: its name, Spark SQL type, NOT NULL, generation expression, comment."""

    name: str
    type_sql: str
    not_null: bool = False
    generated: str | None = None
    comment: str | None = None

    @property
    def quoted(self) -> str:
        """The name as a Spark SQL identifier."""
        return spark_identifier(self.name)


@dataclass(frozen=True)
class DeclaredSchema:
    """The columns of a dataset's declared schema, in declared order."""

    columns: tuple[DeclaredColumn, ...]

    @property
    def not_null(self) -> tuple[str, ...]:
        """The columns declared NOT NULL."""
        return tuple(c.name for c in self.columns if c.not_null)

    @property
    def comments(self) -> dict[str, str]:
        """Column -> ``COMMENT`` text, for the columns declared with one (kept as Delta
        column metadata ``comment``, as Spark keeps it)."""
        return {c.name: c.comment for c in self.columns if c.comment is not None}

    def select(self, source: str) -> str:
        """Spark SQL storing the rows of ``source`` (a relation) as declared: cast, ordered,
        generated. The query's columns are matched by name (case-insensitively, as Spark
        does); a declared column the query does not return fails when it is bound."""
        stored = [c for c in self.columns if c.generated is None]
        casts = ", ".join(f"CAST({c.quoted} AS {c.type_sql}) AS {c.quoted}" for c in stored)
        inner = f"SELECT {casts} FROM {source} AS {QUERY_ALIAS}"
        if len(stored) == len(self.columns):
            return inner
        outer = ", ".join(
            f"CAST(({c.generated}) AS {c.type_sql}) AS {c.quoted}" if c.generated is not None else c.quoted
            for c in self.columns
        )
        return f"SELECT {outer} FROM ({inner}) AS {STORED_ALIAS}"

    def wrap(self, bound: str, dialect: str) -> str:
        """The bound query ``bound`` (already in ``dialect``) with the contract around it.

        The contract is transpiled on its own under ANSI settings: store assignment fails
        on a value that does not fit whatever ``spark.sql.ansi.enabled`` says for queries.
        """
        text = transpile_expression(self.select(INPUT), dialect=dialect, settings=ANSI)
        if text.count(INPUT) != 1:  # pragma: no cover (the placeholder is one identifier)
            raise EngineError(f"cannot apply the declared schema: {text[:200]}")
        return text.replace(INPUT, f"(\n{bound}\n)")

    def store_error(self, message: str, table: str) -> str | None:
        """A one-line message for an engine error that is a failed store assignment (a
        value that does not fit its declared type, the column named by the engine), else None."""
        first = message.strip().splitlines()[0] if message.strip() else ""
        if not any(marker in first for marker in _STORE_ERRORS):
            return None
        found = _SOURCE_COLUMN.search(first)
        declared = {c.name.lower(): c for c in self.columns}
        column = declared.get(found.group(1).strip('"`').lower()) if found else None
        if column is None:
            return None  # not one of the contract's casts (or the engine does not say)
        return f"table {table}: a value cannot be stored in column '{column.name}' (declared {column.type_sql}): {first}"


_STORE_ERRORS = (
    "Conversion Error", "Out of Range Error", "CAST_OVERFLOW", "CAST_INVALID_INPUT",
    "NUMERIC_VALUE_OUT_OF_RANGE", "NUMERIC_OUT_OF_SUPPORTED_RANGE", "ARITHMETIC_OVERFLOW",
)
_SOURCE_COLUMN = re.compile(r"when casting from source column (\S+)")


def declared_schema(dataset: Dataset) -> DeclaredSchema | None:
    """The declared schema of ``dataset`` (None when it declares no columns with types).

    A column list without types (``CREATE MATERIALIZED VIEW t (a, b)``) only renames and
    is not a contract here.

    Raises:
        DefinitionError: when the column list is not valid (see :func:`parse_schema`).
    """
    if not dataset.schema:
        return None
    parsed = parse_schema(dataset.schema, location=dataset.location)
    return parsed if parsed.columns else None


def parse_schema(text: str, *, location: SourceLocation) -> DeclaredSchema:
    """Parse a Spark DDL column list (``id INT NOT NULL, d DATE COMMENT 'x', ...``).

    Raises:
        DefinitionError: on a syntax error, a duplicate column, or a constraint soundlake
            does not support (identity columns, DEFAULT values).
    """
    try:
        tree = sqlglot.parse_one(f"CREATE TABLE __sl_declared ({text})", read=SPARK_SQL)
    except SqlglotError as exc:
        first = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        raise DefinitionError(f"{location}: invalid column list ({text}): {first}") from exc
    schema = tree.this if isinstance(tree, exp.Create) else None
    if not isinstance(schema, exp.Schema):
        raise DefinitionError(f"{location}: invalid column list ({text})")
    columns: list[DeclaredColumn] = []
    seen: set[str] = set()
    for item in schema.expressions:
        if not isinstance(item, exp.ColumnDef):
            continue  # table constraints (PRIMARY KEY (...), ...) are informational
        if item.args.get("kind") is None:
            return DeclaredSchema(())  # names only: ``(a, b)``
        column = _column(item, location)
        if column.name.lower() in seen:
            raise DefinitionError(f"{location}: column '{column.name}' is declared twice")
        seen.add(column.name.lower())
        columns.append(column)
    _check_generated(columns, location)
    return DeclaredSchema(tuple(columns))


def _column(item: exp.ColumnDef, location: SourceLocation) -> DeclaredColumn:
    name = item.name
    kind = item.args["kind"]
    not_null = False
    generated: str | None = None
    comment: str | None = None
    for constraint in item.constraints:
        rule = constraint.args.get("kind")
        if isinstance(rule, exp.CommentColumnConstraint):
            comment = rule.this.name if isinstance(rule.this, exp.Literal) else rule.this.sql(dialect=SPARK_SQL)
        elif isinstance(rule, exp.NotNullColumnConstraint):
            not_null = not rule.args.get("allow_null")
        elif isinstance(rule, exp.ComputedColumnConstraint):
            generated = rule.this.sql(dialect=SPARK_SQL)
        elif isinstance(rule, exp.GeneratedAsIdentityColumnConstraint):
            raise DefinitionError(f"{location}: column '{name}': identity columns are not supported")
        elif isinstance(rule, exp.DefaultColumnConstraint):
            raise DefinitionError(f"{location}: column '{name}': DEFAULT values are not supported")
    return DeclaredColumn(name, kind.sql(dialect=SPARK_SQL), not_null, generated, comment)


def _check_generated(columns: list[DeclaredColumn], location: SourceLocation) -> None:
    """A generation expression reads only declared, non-generated columns (as in Delta)."""
    generated = {c.name.lower() for c in columns if c.generated is not None}
    stored = {c.name.lower() for c in columns if c.generated is None}
    for column in columns:
        if column.generated is None:
            continue
        tree = sqlglot.parse_one(column.generated, read=SPARK_SQL)
        if tree.find(exp.Subquery, exp.Query) is not None:
            raise DefinitionError(f"{location}: generated column '{column.name}' must not contain a subquery")
        for ref in tree.find_all(exp.Column):
            name = ref.name.lower()
            if name in generated:
                raise DefinitionError(
                    f"{location}: generated column '{column.name}' reads generated column '{ref.name}'"
                )
            if name not in stored:
                raise DefinitionError(
                    f"{location}: generated column '{column.name}' reads '{ref.name}', which is not a declared column"
                )
