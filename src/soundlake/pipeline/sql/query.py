"""Query analysis: what a Spark SQL query reads, and binding it for execution.

A dataset or flow query is Spark SQL (Databricks dialect). :func:`analyze_query` lists
its inputs (tables, ``STREAM(table)``, ``read_files(...)``, ``STREAM read_files(...)``,
legacy ``cloud_files(...)``); :func:`bind_query` replaces every such reference by a
placeholder relation name and transpiles the query to the engine's dialect, so the runtime
only has to register one relation per placeholder before executing the text.
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Literal

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import ParseError, SqlglotError

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import SourceLocation
from soundlake.pipeline.sql.dialect import SPARK_SQL
from soundlake.pipeline.sql.naming import name_like_spark
from soundlake.pipeline.sql.semantics import to_duckdb
from soundlake.pipeline.sql.settings import DEFAULT_SETTINGS, SparkSqlSettings
from soundlake.pipeline.sql.spark_types import ROW_TABLE, annotate, output_types

READ_DIALECT = SPARK_SQL
PLACEHOLDER_PREFIX = "__sl_in_"
_FILE_FUNCTIONS = ("read_files", "cloud_files")
_TOKEN_REPR = re.compile(r"<Token token_type: [^,]*, text: ([^,]*), [^>]*>")


@dataclass(frozen=True)
class FlowInput:
    """One thing a query reads.

    Attributes:
        kind: ``table`` (a pipeline dataset or an external Delta table), ``files``
            (``read_files`` / ``cloud_files``, ``parquet.`/path```, ``json.`...```,
            ``csv.`...```) or ``path`` (a Delta table by its path: ``delta.`/path```).
        streaming: True under ``STREAM(...)`` / ``STREAM read_files(...)``: only input
            new since the flow's checkpoint is read.
        table: The resolved table name (``kind == "table"``).
        path: The ``read_files`` (or Delta table) path as written, after ``${}`` substitution.
        options: ``read_files`` named options (``format``, ``schemaHints``,
            ``schemaEvolutionMode``, ``rescuedDataColumn``, ...), keys as written, values as
            strings (``cloud_files(path, fmt, map(...))`` gives ``format`` plus the map).
        placeholder: The unique relation name the runtime binds, e.g. ``__sl_in_0``.
        written: The table name as written in the query (``LIVE.x``, ``x``, ``s.x``);
            used by graph validation to tell pipeline-internal from external names.
    """

    kind: Literal["table", "files", "path"]
    streaming: bool
    table: TableName | None = None
    path: str | None = None
    options: Mapping[str, str] = field(default_factory=dict)
    placeholder: str = ""
    written: str = ""
    as_of: tuple[str, str] | None = None
    """Time travel: ``("VERSION", "3")`` or ``("TIMESTAMP", "2026-01-31")`` as written."""

    @property
    def source_table(self) -> TableName:
        """The table read; a ``files`` input has none (an error in the caller).

        Raises:
            ValueError: for a ``files`` input.
        """
        if self.table is None:
            raise ValueError(f"input {self.placeholder or self.path!r} reads files, not a table")
        return self.table

    @property
    def key(self) -> tuple[object, ...]:
        """Identity of the input regardless of its placeholder (same key, same relation)."""
        return (self.kind, self.streaming, self.table, self.path, tuple(sorted(self.options.items())), self.as_of)

    def describe(self) -> str:
        """A short human-readable form, e.g. ``STREAM(main.silver.users)``."""
        if self.kind == "table":
            text = str(self.table) + (f" {self.as_of[0]} AS OF {self.as_of[1]}" if self.as_of else "")
        elif self.kind == "path":
            text = f"delta.`{self.path}`"
        else:
            fmt = self.options.get("format") or self.options.get("cloudFiles.format") or "?"
            text = f"read_files('{self.path}', format => '{fmt}')"
        return f"STREAM({text})" if self.streaming else text


def parse_query(sql: str, *, location: SourceLocation | None = None) -> exp.Query:
    """Parse Spark SQL query text; raise DefinitionError naming ``location`` on failure."""
    try:
        tree = sqlglot.parse_one(sql, read=READ_DIALECT)
    except ParseError as exc:
        raise DefinitionError(_parse_message(exc, location)) from exc
    except SqlglotError as exc:
        raise DefinitionError(_located(location, f"invalid query: {exc}")) from exc
    if not isinstance(tree, exp.Query):
        raise DefinitionError(_located(location, f"expected a query (SELECT ...), got: {sql[:60]!r}"))
    return tree


def analyze_query(
    sql: str, *, catalog: str, schema: str, location: SourceLocation
) -> tuple[FlowInput, ...]:
    """List the inputs a Spark SQL query reads, in order of first appearance in the text.

    Identical reads (same table, same streaming-ness, same files and options) share one
    input and placeholder. Names of common table expressions are not inputs.
    ``location`` should point at the query's first line; errors name it.

    Raises:
        DefinitionError: on a syntax error, a non-query, or an invalid reference.
    """
    tree = parse_query(sql, location=location)
    inputs: list[FlowInput] = []
    keys: dict[tuple[object, ...], FlowInput] = {}
    for _node, found in _references(tree, catalog=catalog, schema=schema, location=location):
        if found.key not in keys:
            bound = dataclasses.replace(found, placeholder=f"{PLACEHOLDER_PREFIX}{len(inputs)}")
            keys[found.key] = bound
            inputs.append(bound)
    return tuple(inputs)


@dataclass(frozen=True)
class BoundQuery:
    """A query bound for an engine, with the Spark types of its result columns when known.

    ``columns`` maps each result column the translation could type to its Spark SQL type
    (``INT``, ``DECIMAL(20, 3)``, ...): expectations are typed with it, without asking the
    engine for the result schema.
    """

    sql: str
    columns: Mapping[str, str] = field(default_factory=dict)


def bind_query(
    sql: str,
    inputs: Sequence[FlowInput],
    *,
    catalog: str,
    schema: str,
    dialect: str,
    settings: SparkSqlSettings = DEFAULT_SETTINGS,
    schemas: Mapping[str, pa.Schema] | None = None,
) -> str:
    """Return ``sql`` with each read replaced by its input's placeholder, in ``dialect``.

    Every table reference, ``STREAM(...)`` and ``read_files(...)`` becomes the placeholder
    identifier of the matching input (matched by :attr:`FlowInput.key`); a table keeps its
    alias, or gets its written name as alias so qualified columns (``t.col``) still
    resolve. The result is transpiled from Spark SQL to ``dialect`` (``duckdb`` or
    ``spark``) under the Spark session ``settings`` (ANSI mode, time zone). ``schemas``
    (placeholder -> input schema) lets the DuckDB translation apply Spark's type-dependent
    rules. The runtime registers each placeholder as a relation before executing.

    Raises:
        DefinitionError: when the query reads something not in ``inputs``.
    """
    return bind_typed(
        sql, inputs, catalog=catalog, schema=schema, dialect=dialect, settings=settings, schemas=schemas
    ).sql


def bind_typed(
    sql: str,
    inputs: Sequence[FlowInput],
    *,
    catalog: str,
    schema: str,
    dialect: str,
    settings: SparkSqlSettings = DEFAULT_SETTINGS,
    schemas: Mapping[str, pa.Schema] | None = None,
) -> BoundQuery:
    """:func:`bind_query`, also returning the Spark types of the result columns."""
    tree = parse_query(sql)
    by_key = {i.key: i for i in inputs}
    replacements: list[tuple[exp.Expr, exp.Expr]] = []
    for node, found in _references(tree, catalog=catalog, schema=schema, location=None):
        bound = by_key.get(found.key)
        if bound is None or not bound.placeholder:
            raise DefinitionError(f"query reads {found.describe()}, which is not among its bound inputs")
        replacements.append((node, _placeholder_table(node, bound.placeholder)))
    for node, new in replacements:
        if node is tree:
            tree = new  # type: ignore[assignment]
        else:
            node.replace(new)
    columns: dict[str, str] = {}
    if dialect == "duckdb" and schemas and annotate(tree, schemas):
        columns = output_types(tree)
    text = _spark_semantics(tree, dialect, settings).sql(dialect=_write_dialect(dialect))
    return BoundQuery(text, columns)


def transpile_query(
    sql: str, *, dialect: str, settings: SparkSqlSettings, schemas: Mapping[str, pa.Schema] | None
) -> str:
    """Transpile a Spark SQL query over relations named as in ``schemas`` (no binding).

    For queries soundlake derives from a flow's query (an incremental refresh's final
    step): they are typed by ``schemas`` and get Spark's semantics exactly as the flow's.
    """
    tree = parse_query(sql)
    if dialect == "duckdb" and schemas:
        annotate(tree, schemas)
    return _spark_semantics(tree, dialect, settings).sql(dialect=_write_dialect(dialect))


def transpile_expression(
    expr: str,
    *,
    dialect: str,
    settings: SparkSqlSettings = DEFAULT_SETTINGS,
    schema: pa.Schema | Mapping[str, str] | None = None,
) -> str:
    """Transpile one Spark SQL expression (expectation, sequence_by, ...) to ``dialect``.

    ``schema`` is the schema of the rows the expression reads (the query result, for an
    expectation; an Arrow schema or column -> Spark type text, as :class:`BoundQuery`
    gives): with it, the expression is typed exactly as it would be in the query.

    Raises:
        DefinitionError: when the expression does not parse.
    """
    tree: exp.Expr
    try:
        tree = sqlglot.parse_one(expr, read=READ_DIALECT, into=exp.Condition)
    except SqlglotError:
        try:
            tree = sqlglot.parse_one(expr, read=READ_DIALECT)
        except SqlglotError as exc:
            raise DefinitionError(f"invalid SQL expression {expr!r}: {_first_line(exc)}") from exc
    if dialect == "duckdb" and schema is not None:
        annotate(tree, {ROW_TABLE: schema})
    return _spark_semantics(tree, dialect, settings).sql(dialect=_write_dialect(dialect))


def validate_expression(expr: str, *, location: SourceLocation, what: str) -> exp.Expr:
    """Parse a Spark SQL expression, raising DefinitionError naming ``what`` and ``location``."""
    try:
        tree = sqlglot.parse_one(expr, read=READ_DIALECT)
    except SqlglotError as exc:
        raise DefinitionError(f"{location}: invalid {what} {expr!r}: {_first_line(exc)}") from exc
    if isinstance(tree, exp.Alias):
        raise DefinitionError(
            f"{location}: invalid {what} {expr!r}: unexpected '{tree.alias}' after the expression"
        )
    if isinstance(tree, exp.Query) or tree.find(exp.Subquery) is not None:
        raise DefinitionError(f"{location}: {what} {expr!r} must not contain a subquery")
    return tree


def _spark_semantics(tree: exp.Expr, dialect: str, settings: SparkSqlSettings) -> exp.Expr:
    """Spark's results and column names on DuckDB (:func:`semantics.to_duckdb`, ``naming``)."""
    if dialect != "duckdb":
        if tree.find(exp.Columns) is not None:
            raise DefinitionError(
                "this query replaces, renames or drops columns of a DataFrame whose columns were "
                "not known when its Python definition loaded (a DuckDB COLUMNS(...) star); "
                f"the {dialect} engine cannot run it",
                hint="select() the columns explicitly before withColumn/withColumnRenamed/drop",
            )
        return tree
    return to_duckdb(name_like_spark(tree), settings)


def _write_dialect(dialect: str) -> str:
    if dialect not in ("duckdb", "spark", "databricks"):
        raise DefinitionError(f"unsupported SQL dialect '{dialect}' (duckdb or spark)")
    return dialect


def _references(
    tree: exp.Expr, *, catalog: str, schema: str, location: SourceLocation | None
) -> Iterator[tuple[exp.Expr, FlowInput]]:
    """Yield ``(node to replace, input without placeholder)`` for each read, in text order."""
    found = list(_unordered_references(tree, catalog=catalog, schema=schema, location=location))
    found.sort(key=lambda pair: _text_position(pair[0]))
    yield from found


def _text_position(node: exp.Expr) -> int:
    for child in node.walk():
        start = child.meta.get("start") if child.meta else None
        if isinstance(start, int):
            return start
    return 1 << 62


EXTERNAL_SOURCES = {
    "read_kafka": "Apache Kafka", "read_kinesis": "Amazon Kinesis", "read_pubsub": "Google Pub/Sub",
    "read_pulsar": "Apache Pulsar", "read_eventhubs": "Azure Event Hubs", "read_statestore": "a streaming state store",
}
"""Databricks' table-valued functions over message buses: they cannot run locally."""


def _refuse_external_source(table: exp.Expr, location: SourceLocation | None) -> None:
    """A DefinitionError for ``read_kafka(...)`` and the other message-bus readers."""
    call = table.this if isinstance(table, exp.Table) else table
    name = call.name.lower() if isinstance(call, (exp.Anonymous, exp.Func)) and call.name else ""
    if name in EXTERNAL_SOURCES:
        raise DefinitionError(
            _located(location, f"{name}(...) reads {EXTERNAL_SOURCES[name]}, which soundlake cannot reach locally"),
            hint="land the events as files (JSON, Parquet ...) and read them with read_files(...)",
        )


def _unordered_references(
    tree: exp.Expr, *, catalog: str, schema: str, location: SourceLocation | None
) -> Iterator[tuple[exp.Expr, FlowInput]]:
    ctes = {cte.alias_or_name.lower() for cte in tree.find_all(exp.CTE)}
    handled: set[int] = set()
    for node in list(tree.walk(bfs=False)):
        if id(node) in handled:
            continue
        if isinstance(node, exp.Stream):
            table = _stream_target(node)
            if table is None:
                raise DefinitionError(
                    _located(location, "STREAM(...) takes a table name or read_files(...)")
                )
            handled.add(id(table))
            _refuse_external_source(table, location)
            found = _table_input(table, streaming=True, catalog=catalog, schema=schema, location=location)
            if found is None:
                raise DefinitionError(_located(location, f"cannot stream from {table.sql(READ_DIALECT)}"))
            yield node, found
        elif isinstance(node, exp.Table):
            if isinstance(node.this, exp.Identifier) and not node.db and node.name.lower() in ctes:
                continue
            _refuse_external_source(node, location)
            found = _table_input(node, streaming=False, catalog=catalog, schema=schema, location=location)
            if found is not None:
                yield node, found


def _stream_target(node: exp.Stream) -> exp.Table | None:
    inner = node.this
    if isinstance(inner, exp.Subquery):
        inner = inner.this
    return inner if isinstance(inner, exp.Table) else None


def _table_input(
    table: exp.Table, *, streaming: bool, catalog: str, schema: str, location: SourceLocation | None
) -> FlowInput | None:
    if isinstance(table.this, exp.Identifier):
        by_path = _path_reference(table)
        if by_path is not None:
            return dataclasses.replace(by_path, streaming=streaming)
        written = ".".join(p.name for p in table.parts)
        try:
            name = TableName.parse(written, catalog=catalog, schema=schema)
        except DefinitionError as exc:
            raise DefinitionError(_located(location, exc.message)) from exc
        return FlowInput(kind="table", streaming=streaming, table=name, written=written,
                         as_of=_time_travel(table, location))
    func = table.this
    fname = _function_name(func)
    if fname not in _FILE_FUNCTIONS:
        return None
    path, options = (_read_files_args if fname == "read_files" else _cloud_files_args)(func, location)
    return FlowInput(kind="files", streaming=streaming, path=path, options=options, written=fname)


def _time_travel(table: exp.Table, location: SourceLocation | None) -> tuple[str, str] | None:
    """``t VERSION AS OF 3`` / ``t TIMESTAMP AS OF '...'``: the kind and the literal, or None."""
    version = table.args.get("version")
    if not isinstance(version, exp.Version):
        return None
    value = version.args.get("expression")
    if not isinstance(value, exp.Literal):
        raise DefinitionError(_located(location, f"time travel needs a literal version or timestamp, not "
                                                 f"{version.sql(READ_DIALECT)}"))
    return str(version.this).upper(), str(value.this)


PATH_FORMATS = ("delta", "parquet", "json", "csv")
"""Formats of path-qualified table references (``delta.`/path```, ``parquet.`/path```, ...)."""


def _path_reference(table: exp.Table) -> FlowInput | None:
    """A path-qualified reference: ``fmt.`/path``` (Spark's "run SQL on files"), or a
    one-part quoted name holding a ``/`` (``spark.read.format("delta").load(path)``).

    A Delta path reads the Delta table there; Parquet, JSON and CSV paths read the files
    as Spark's file sources do: no rescued-data column, CSV without header or type
    inference (every column a STRING named ``_c0``, ``_c1``, ...).
    """
    ident = table.this
    if not isinstance(ident, exp.Identifier):
        return None
    db = table.args.get("db")
    if table.args.get("catalog") is not None:
        return None
    if db is None:
        if not ident.quoted or "/" not in ident.name:
            return None
        fmt = "delta"
    else:
        fmt = db.name.lower()
        if fmt not in PATH_FORMATS or not ident.quoted:
            return None
    path = ident.name
    written = f"{fmt}.`{path}`"
    if fmt == "delta":
        return FlowInput(kind="path", streaming=False, path=path, written=written)
    options = {"format": fmt, "schemaEvolutionMode": "none"}
    if fmt == "csv":
        options["inferColumnTypes"] = "false"
    return FlowInput(kind="files", streaming=False, path=path, options=options, written=written)


def _function_name(func: exp.Expr) -> str:
    if isinstance(func, exp.Anonymous):
        return str(func.this).lower()
    if isinstance(func, exp.Func):
        return func.sql_name().lower()
    return ""


def _args(func: exp.Expr) -> list[exp.Expr]:
    if isinstance(func, exp.Anonymous):
        return list(func.expressions)
    return [v for v in func.args.values() if isinstance(v, exp.Expr)]


def _read_files_args(
    func: exp.Expr, location: SourceLocation | None
) -> tuple[str, dict[str, str]]:
    path: str | None = None
    options: dict[str, str] = {}
    for arg in _args(func):
        if isinstance(arg, (exp.Kwarg, exp.PropertyEQ, exp.EQ)):
            options[arg.this.name] = _literal_text(arg.expression)
        elif path is None and isinstance(arg, exp.Literal) and arg.is_string:
            path = arg.this
        else:
            raise DefinitionError(
                _located(location, f"read_files: unexpected argument {arg.sql(READ_DIALECT)}")
            )
    if not path:
        raise DefinitionError(_located(location, "read_files needs a path string as first argument"))
    return path, options


def _cloud_files_args(
    func: exp.Expr, location: SourceLocation | None
) -> tuple[str, dict[str, str]]:
    args = _args(func)
    if len(args) < 2 or not all(isinstance(a, exp.Literal) and a.is_string for a in args[:2]):
        raise DefinitionError(_located(location, "cloud_files(path, format[, map(...)]) needs two strings"))
    options = {"format": args[1].this}
    for extra in args[2:]:
        if isinstance(extra, exp.VarMap):
            keys = extra.args["keys"].expressions
            values = extra.args["values"].expressions
            options.update({_literal_text(k): _literal_text(v) for k, v in zip(keys, values)})
        else:
            raise DefinitionError(_located(location, "cloud_files: the third argument must be map(...)"))
    return str(args[0].this), options


def _literal_text(node: exp.Expr) -> str:
    if isinstance(node, exp.Literal):
        return str(node.this)
    if isinstance(node, exp.Boolean):
        return "true" if node.this else "false"
    return node.sql(READ_DIALECT)


def _placeholder_table(node: exp.Expr, placeholder: str) -> exp.Table:
    table = _stream_target(node) if isinstance(node, exp.Stream) else node
    assert isinstance(table, exp.Table)
    new = table.copy()
    alias = new.args.get("alias")
    if isinstance(node, exp.Stream) and isinstance(node.this, exp.Subquery) and alias is None:
        sub_alias = node.this.args.get("alias")
        alias = sub_alias.copy() if sub_alias is not None else None
    if alias is None and isinstance(table.this, exp.Identifier):
        alias = exp.TableAlias(this=exp.to_identifier(table.name))
    for part in ("db", "catalog", "version"):  # the placeholder is already the version read
        new.set(part, None)
    new.set("this", exp.to_identifier(placeholder))
    new.set("alias", alias)
    return new


def _parse_message(exc: ParseError, location: SourceLocation | None) -> str:
    errors = exc.errors or []
    description = _first_line(exc)
    if errors:
        first = errors[0]
        description = _TOKEN_REPR.sub(r"'\1'", str(first.get("description") or "syntax error"))
        highlight = first.get("highlight")
        if highlight:
            description += f" near {str(highlight).strip()!r}"
        line = first.get("line")
        if location is not None and isinstance(line, int):
            location = SourceLocation(location.file, location.line + line - 1, location.statement)
    return _located(location, f"syntax error in query: {description}")


def _first_line(exc: Exception) -> str:
    return str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__


def _located(location: SourceLocation | None, message: str) -> str:
    return f"{location}: {message}" if location is not None else message


_INTERNAL_NAME = re.compile(r"\b__sl_[A-Za-z0-9_]+\b")


def in_user_terms(message: str, names: Mapping[str, str]) -> str:
    """An engine message without soundlake's internal relation names.

    ``names`` maps placeholders (``__sl_in_0``) to what the user wrote
    (:meth:`FlowInput.describe`); other internal names read "the flow's query". The
    bound query the engine appends (``\n  query: ...``) is dropped.
    """
    text = message.split("\n  query: ")[0]
    return _INTERNAL_NAME.sub(lambda m: names.get(m.group(0), "the flow's query"), text)
