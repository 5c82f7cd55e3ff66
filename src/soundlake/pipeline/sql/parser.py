"""Parser for pipeline SQL files (Databricks / Lakeflow declarative pipelines dialect).

Statements understood (keywords case-insensitive, ``LIVE.`` prefixes accepted):

- ``CREATE [OR REFRESH] STREAMING TABLE name [(columns, CONSTRAINT c EXPECT (cond)
  [ON VIOLATION DROP ROW | FAIL UPDATE | QUARANTINE], ...)] [COMMENT '...']
  [TBLPROPERTIES (...)] [PARTITIONED BY (...) | CLUSTER BY (...)] [AS query]``; without
  ``AS`` the table is a target only (for append and AUTO CDC flows). Legacy
  ``STREAMING LIVE TABLE`` and ``INCREMENTAL LIVE TABLE`` are streaming tables too.
- ``CREATE [OR REFRESH] MATERIALIZED VIEW name ... AS query``; legacy ``LIVE TABLE`` is a
  materialized view.
- ``CREATE TEMPORARY [LIVE] VIEW name ... AS query`` (also ``LIVE VIEW`` and ``VIEW``):
  not stored.
- ``CREATE FLOW name [COMMENT '...'] AS INSERT INTO [ONCE] target [BY NAME] query``:
  an append flow (``ONCE`` may also follow the flow name).
- ``CREATE FLOW name AS AUTO CDC [ONCE] INTO target FROM STREAM(source) KEYS (...) ...``
  and the legacy ``APPLY CHANGES INTO target FROM ...`` (flow named after the target).

- ``SET key = value``: Spark configuration for the definitions after it in the file (kept
  in each flow's ``spark_conf``; ``spark.sql.ansi.enabled`` changes query semantics).
- ``USE CATALOG c``, ``USE SCHEMA s`` (``USE DATABASE s``, ``USE s``, ``USE c.s``): the
  catalog and schema of the unqualified names in the statements after it in the file.

``${key}`` is replaced from the configuration first. Every error names file, line and
statement number.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError
from soundlake.pipeline.definitions import (
    AutoCdcFlow,
    Dataset,
    DatasetKind,
    Expectation,
    ExpectationAction,
    Flow,
    QueryFlow,
    Registry,
    SourceLocation,
)
from soundlake.pipeline.sql.cdc import parse_cdc_clauses
from soundlake.pipeline.sql.cursor import Cursor
from soundlake.pipeline.sql.declared import parse_schema
from soundlake.pipeline.sql.lexer import Statement, split_statements, substitute, tokenize
from soundlake.pipeline.sql.query import analyze_query, validate_expression
from soundlake.pipeline.sql.use import Namespace, parse_use, qualify_tables

Definition = Dataset | Flow


def parse_sql_file(
    path: Path,
    registry: Registry,
    *,
    display_name: str | None = None,
    catalog: str,
    schema: str,
    configuration: Mapping[str, str],
) -> None:
    """Parse one ``.sql`` file and add its datasets and flows to ``registry``.

    Args:
        path: The file to read (UTF-8).
        registry: Receives the definitions in statement order.
        display_name: How locations name the file (default: ``str(path)``).
        catalog: Default catalog for unqualified names.
        schema: Default schema for unqualified names.
        configuration: Values for ``${key}`` substitution.

    Raises:
        DefinitionError: naming file, line and statement for any syntax or analysis error.
    """
    name = display_name or str(path)
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise DefinitionError(f"{name}: cannot read pipeline file: {exc}") from exc
    for definition in parse_sql_text(
        text, file=name, catalog=catalog, schema=schema, configuration=configuration
    ):
        if isinstance(definition, Dataset):
            registry.add_dataset(definition)
        else:
            registry.add_flow(definition)


def parse_sql_text(
    text: str,
    *,
    file: str,
    catalog: str,
    schema: str,
    configuration: Mapping[str, str] | None = None,
) -> list[Definition]:
    """Parse SQL pipeline text into datasets and flows, in statement order.

    Raises:
        DefinitionError: naming ``file``, line and statement number.
    """
    definitions: list[Definition] = []
    conf: dict[str, str] = {}
    default = Namespace(catalog.lower(), schema.lower())
    namespace = default
    for raw in split_statements(text, file=file):
        statement = substitute(raw, configuration or {}, file=file)
        setting = _SET.match(statement.text)
        if setting is not None:  # SET key = value: Spark conf of the definitions after it
            conf[setting.group(1)] = setting.group(2).strip().strip("'\"")
            continue
        where = str(SourceLocation(file, statement.line, statement.number))
        used = parse_use(statement.text, namespace, where=where)
        if used is not None:  # USE CATALOG / SCHEMA: names in the statements after it
            namespace = used
            continue
        parser = _StatementParser(
            statement, file=file, catalog=namespace.catalog, schema=namespace.schema,
            qualify=namespace != default,
        )
        for definition in parser.parse():
            if conf and isinstance(definition, QueryFlow):
                definition = replace(definition, spark_conf={**conf, **definition.spark_conf})
            definitions.append(definition)
    return definitions


_SET = re.compile(r"^\s*SET\s+([A-Za-z_][\w.]*)\s*=\s*(.*?)\s*;?\s*$", re.IGNORECASE | re.DOTALL)
"""``SET key = value``: applies to the datasets and flows defined after it in the file."""


@dataclass
class _DatasetOptions:
    """The clauses between a dataset's name (and columns) and ``AS``."""

    comment: str | None = None
    properties: dict[str, str] = field(default_factory=dict)
    partition_cols: tuple[str, ...] = ()
    cluster_by: tuple[str, ...] = ()


class _StatementParser(Cursor):
    """Parses one statement into definitions."""

    def __init__(
        self, statement: Statement, *, file: str, catalog: str, schema: str, qualify: bool = False
    ) -> None:
        location = SourceLocation(file, statement.line, statement.number)
        try:
            tokens = tokenize(statement.text)
        except DefinitionError as exc:
            raise DefinitionError(f"{location}: {exc.message}") from exc
        super().__init__(statement, tokens, file=file)
        self.catalog = catalog
        self.schema = schema
        self.qualify = qualify
        """True after a ``USE`` changed the namespace: queries get it written into their names."""

    def table_name(self) -> TableName:
        token = self.peek()
        written = self.dotted_name()
        try:
            return TableName.parse(written, catalog=self.catalog, schema=self.schema)
        except DefinitionError as exc:
            raise self.error(exc.message, token) from exc

    def parse(self) -> list[Definition]:
        if self.accept("APPLY", "CHANGES", "INTO"):
            return [self.cdc_flow(name=None, once=False)]
        first = self.peek()
        if first is not None and not first.is_word("CREATE"):
            raise self.error(
                f"unsupported statement starting with '{first.value}' (pipeline files hold CREATE "
                "STREAMING TABLE / MATERIALIZED VIEW / TEMPORARY VIEW / FLOW and APPLY CHANGES INTO)",
                first,
            )
        self.expect("CREATE")
        self.accept("OR", "REFRESH") or self.accept("OR", "REPLACE")
        if self.accept("FLOW"):
            return self.flow()
        return self.dataset()

    # -- datasets -----------------------------------------------------------------------

    def dataset(self) -> list[Definition]:
        start = self.location()
        kind, private = self.dataset_kind()
        self.accept("IF", "NOT", "EXISTS")
        name = self.table_name()
        schema_text, expectations = self.column_group() if self.at_op("(") else (None, ())
        if schema_text:
            parse_schema(schema_text, location=start)  # a declared schema is checked when it loads
        options = self.dataset_options()
        dataset = Dataset(
            name=name,
            kind=kind,
            location=start,
            comment=options.comment,
            table_properties=options.properties,
            partition_cols=options.partition_cols,
            cluster_by=options.cluster_by,
            schema=schema_text,
            expectations=tuple(expectations),
            private=private,
        )
        if not self.accept("AS"):
            self.expect_end()
            if kind != "streaming_table":
                raise self.error(f"{_KIND_TEXT[kind]} {name} needs 'AS query'")
            return [dataset]
        sql, inputs_streaming = self.query(stream_files=kind == "streaming_table")
        flow = QueryFlow(
            name=str(name),
            target=name,
            location=start,
            streaming=inputs_streaming,
            sql=sql,
            is_default=True,
        )
        return [dataset, flow]

    def dataset_kind(self) -> tuple[DatasetKind, bool]:
        """The kind, and whether the dataset is private (not published to the catalog).

        ``TEMPORARY`` / ``PRIVATE`` tables and materialized views are private; a
        ``TEMPORARY VIEW`` is a temporary view.
        """
        temporary = self.accept("TEMPORARY") or self.accept("TEMP")
        private = self.accept("PRIVATE")
        streaming = self.accept("STREAMING") or self.accept("INCREMENTAL")
        self.accept("LIVE")
        materialized = self.accept("MATERIALIZED")
        if self.accept("TABLE"):
            return ("streaming_table" if streaming else "materialized_view"), temporary or private
        if self.accept("VIEW"):
            if materialized:
                return "materialized_view", temporary or private
            if private:
                raise self.error("PRIVATE applies to tables and materialized views; a TEMPORARY VIEW is never published")
            return "temporary_view", False
        raise self.error("expected STREAMING TABLE, MATERIALIZED VIEW, TEMPORARY VIEW or FLOW")

    def column_group(self) -> tuple[str | None, list[Expectation]]:
        columns: list[str] = []
        expectations: list[Expectation] = []
        for lo, hi in self.paren_items():
            first = self.tokens[lo]
            if first.is_word("CONSTRAINT"):
                expectation = self.constraint(lo, hi)
                if expectation is not None:
                    expectations.append(expectation)
            elif first.is_word("PRIMARY", "FOREIGN", "CHECK", "UNIQUE"):
                continue  # informational table constraints
            else:
                columns.append(self.span_text(lo, hi))
        return (", ".join(columns) or None), expectations

    def constraint(self, lo: int, hi: int) -> Expectation | None:
        sub = self.sub_cursor(lo, hi)
        location = sub.location()
        sub.expect("CONSTRAINT")
        name = sub.identifier()
        if not sub.accept("EXPECT"):
            return None  # PRIMARY KEY / FOREIGN KEY constraints are informational
        inner_lo, inner_hi = sub.paren_span()
        condition = sub.span_text(inner_lo, inner_hi).strip()
        if not condition:
            raise sub.error(f"expectation '{name}' has an empty condition")
        validate_expression(condition, location=location, what=f"expectation '{name}'")
        action: ExpectationAction = "warn"
        if sub.accept("ON", "VIOLATION"):
            if sub.accept("DROP", "ROW"):
                action = "drop"
            elif sub.accept("FAIL", "UPDATE"):
                action = "fail"
            elif sub.accept("QUARANTINE"):
                action = "quarantine"
            else:
                raise sub.error("expected DROP ROW, FAIL UPDATE or QUARANTINE after ON VIOLATION")
        sub.expect_end()
        return Expectation(name=name, condition=condition, action=action, location=location)

    def dataset_options(self) -> _DatasetOptions:
        options = _DatasetOptions()
        while not self.at_end() and not self.at_word("AS"):
            token = self.peek()
            if self.accept("COMMENT"):
                options.comment = self.string()
            elif self.accept("TBLPROPERTIES"):
                options.properties = self.properties()
            elif self.accept("PARTITIONED", "BY"):
                options.partition_cols = self.name_list()
            elif self.accept("CLUSTER", "BY"):
                if not (self.accept("AUTO") or self.accept("NONE")):
                    options.cluster_by = self.name_list()
            elif self.accept("USING"):
                fmt = self.identifier()
                if fmt.lower() != "delta":
                    raise self.error(f"only USING DELTA is supported, not '{fmt}'", token)
            elif self.at_word("WITH") and (after := self.peek(1)) is not None and after.is_word("ROW"):
                raise self.error(
                    "WITH ROW FILTER is a Unity Catalog row filter, which soundlake does not enforce locally; "
                    "filter the rows in the query (or apply the filter on Databricks after deploying)", token)
            elif self.at_word("SCHEDULE") or self.at_word("TRIGGER"):
                raise self.error(
                    f"{str(token.value).upper() if token else 'SCHEDULE'} is Databricks SQL's refresh schedule for tables outside pipelines; "
                    "in a pipeline the update's trigger decides (remove the clause; schedule `soundlake run`)", token)
            else:
                assert token is not None
                raise self.error(f"unsupported or misplaced clause starting at '{token.value}'", token)
        return options

    def properties(self) -> dict[str, str]:
        result: dict[str, str] = {}
        for lo, hi in self.paren_items():
            sub = self.sub_cursor(lo, hi)
            key_token = sub.peek()
            key = sub.string() if key_token is not None and key_token.kind == "string" else sub.dotted_name()
            sub.expect_op("=")
            value_token = sub.take()
            if value_token.kind not in ("string", "number", "word"):
                raise sub.error(f"invalid value for table property '{key}'", value_token)
            sub.expect_end()
            result[key] = value_token.value
        return result

    def name_list(self) -> tuple[str, ...]:
        names: list[str] = []
        for lo, hi in self.paren_items():
            sub = self.sub_cursor(lo, hi)
            names.append(sub.identifier())
            sub.expect_end()
        return tuple(names)

    def query(self, *, stream_files: bool = False) -> tuple[str, bool]:
        """Consume the rest as the query; return its text and whether it streams.

        ``stream_files``: a streaming table's query reads ``cloud_files(...)`` /
        ``read_files(...)`` written without ``STREAM`` as a stream (the legacy
        ``CREATE STREAMING LIVE TABLE x AS SELECT * FROM cloud_files(...)`` form).
        """
        first = self.peek()
        if first is None:
            raise self.error("expected a query after AS")
        location = self.location(first)
        sql = self.statement.text[first.start :].strip()
        if stream_files:
            sql = self._stream_file_reads(first.start)
        inputs = analyze_query(sql, catalog=self.catalog, schema=self.schema, location=location)
        if self.qualify:
            sql = qualify_tables(sql, Namespace(self.catalog, self.schema), location=location)
        self.pos = len(self.tokens)
        return sql, any(i.streaming for i in inputs)

    def _stream_file_reads(self, start: int) -> str:
        """The query text from ``start`` with ``STREAM`` before each bare file-reading call."""
        text = self.statement.text
        cuts: list[int] = []
        tokens = self.tokens
        for i in range(self.pos, len(tokens) - 1):
            token = tokens[i]
            if not token.is_word("READ_FILES", "CLOUD_FILES") or tokens[i + 1].value != "(":
                continue
            before = tokens[i - 1] if i > 0 else None
            before2 = tokens[i - 2] if i > 1 else None
            if before is not None and before.is_word("STREAM"):
                continue
            if before is not None and before.value == "(" and before2 is not None and before2.is_word("STREAM"):
                continue
            if before is not None and before.kind == "op" and before.value in (".",):
                continue
            cuts.append(token.start)
        pieces: list[str] = []
        last = start
        for cut in cuts:
            pieces.append(text[last:cut])
            pieces.append("STREAM ")
            last = cut
        pieces.append(text[last:])
        return "".join(pieces).strip()

    # -- flows --------------------------------------------------------------------------

    def flow(self) -> list[Definition]:
        name = self.identifier()
        once = self.accept("ONCE")
        if self.accept("COMMENT"):
            self.string()
        self.expect("AS")
        if self.accept("AUTO", "CDC"):
            once = self.accept("ONCE") or once
            self.expect("INTO")
            return [self.cdc_flow(name=name, once=once)]
        start = self.location()
        self.expect("INSERT", "INTO")
        once = self.accept("ONCE") or once
        target = self.table_name()
        self.accept("BY", "NAME")
        sql, streaming = self.query()
        return [
            QueryFlow(
                name=name,
                target=target,
                location=start,
                streaming=streaming,
                sql=sql,
                once=once,
                is_default=False,
            )
        ]

    def cdc_flow(self, *, name: str | None, once: bool) -> AutoCdcFlow:
        location = SourceLocation(self.file, self.statement.line, self.statement.number)
        target = self.table_name()
        self.expect("FROM")
        streaming = self.accept("STREAM")
        if streaming and self.at_op("("):
            lo, hi = self.paren_span()
            sub = self.sub_cursor(lo, hi)
            source = sub.table_name_with(self.catalog, self.schema)
            sub.expect_end()
        else:
            source = self.table_name()
        clauses = parse_cdc_clauses(self, location=location)
        return AutoCdcFlow(
            name=name or str(target),
            target=target,
            source=source,
            location=location,
            once=once,
            source_is_stream=streaming,
            **clauses,
        )


_KIND_TEXT = {
    "streaming_table": "streaming table",
    "materialized_view": "materialized view",
    "temporary_view": "temporary view",
}
