"""Column-level lineage: which input columns each dataset column is computed from.

Every flow of an update plan is walked in run order. A query flow (SQL, or the Spark SQL a
Python DataFrame renders) is bound to its inputs' schemas and each result column is traced
through the query with sqlglot's lineage (through CTEs, subqueries, joins, expressions and
``*``); its direct inputs are the columns of the flow's inputs that reach it. An AUTO CDC
flow carries each column of its source to the same column of its target (minus the
excluded ones), and ``__START_AT`` / ``__END_AT`` come from ``sequence_by``; a snapshot flow
carries its source's columns. Inputs are named as the user wrote them: a dataset or table
(``c.s.t``) or files (``files:<path>``). A column whose query cannot be traced (unknown
input schema, a construct sqlglot does not follow) has no edges and is reported in
``untraced``, never guessed.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow as pa
import sqlglot
from sqlglot import exp
from sqlglot.errors import SqlglotError
from sqlglot.lineage import Node, lineage
from sqlglot.optimizer.qualify import qualify

from soundlake.catalog.names import TableName
from soundlake.pipeline.binding import input_schema
from soundlake.pipeline.definitions import AutoCdcFlow, QueryFlow, SnapshotCdcFlow
from soundlake.pipeline.planner import FlowPlan, UpdatePlan
from soundlake.pipeline.sql.dialect import SPARK_SQL
from soundlake.pipeline.sql.query import FlowInput, bind_query

SchemaOf = Callable[[TableName], pa.Schema | None]


@dataclass(frozen=True, order=True)
class ColumnRef:
    """One column of a dataset, table (``c.s.t``) or set of files (``files:<path>``)."""

    relation: str
    column: str

    def __str__(self) -> str:
        return f"{self.relation}.{self.column}"


@dataclass
class Lineage:
    """The column graph of a pipeline: each column's direct inputs, per flow."""

    edges: dict[ColumnRef, set[ColumnRef]] = field(default_factory=dict)
    columns: dict[str, list[str]] = field(default_factory=dict)
    flows: dict[ColumnRef, set[str]] = field(default_factory=dict)
    untraced: dict[str, str] = field(default_factory=dict)
    """Flow name -> why its columns could not be traced."""

    def add(self, target: ColumnRef, sources: set[ColumnRef], flow: str) -> None:
        """Record that ``flow`` computes ``target`` from ``sources``."""
        self.edges.setdefault(target, set()).update(sources)
        self.flows.setdefault(target, set()).add(flow)
        known = self.columns.setdefault(target.relation, [])
        if target.column not in known:
            known.append(target.column)

    def upstream(self, start: ColumnRef) -> Iterator[tuple[ColumnRef, ColumnRef]]:
        """Every edge ``(column, its input)`` reachable from ``start`` towards the sources."""
        seen: set[ColumnRef] = set()
        stack = [start]
        while stack:
            node = stack.pop()
            for source in sorted(self.edges.get(node, ())):
                yield node, source
                if source not in seen:
                    seen.add(source)
                    stack.append(source)

    def downstream(self, start: ColumnRef) -> Iterator[tuple[ColumnRef, ColumnRef]]:
        """Every edge ``(input, column computed from it)`` reachable from ``start``."""
        readers: dict[ColumnRef, set[ColumnRef]] = {}
        for target, sources in self.edges.items():
            for source in sources:
                readers.setdefault(source, set()).add(target)
        seen: set[ColumnRef] = set()
        stack = [start]
        while stack:
            node = stack.pop()
            for target in sorted(readers.get(node, ())):
                yield node, target
                if target not in seen:
                    seen.add(target)
                    stack.append(target)


def input_name(inp: FlowInput) -> str:
    """How lineage names an input: ``c.s.t`` for tables, ``files:<path>`` for files."""
    if inp.kind == "files":
        return f"files:{inp.path}"
    if inp.kind == "path":
        return f"delta:{inp.path}"
    return str(inp.source_table)


def column_lineage(
    plan: UpdatePlan, *, catalog: str, schema: str, base_dir: Path, stored: SchemaOf
) -> Lineage:
    """Trace every column of every flow of ``plan`` (see the module docstring).

    ``stored`` gives the schema of a table in the lake (None when absent); datasets not
    written yet take the columns traced for them earlier in the walk.
    """
    result = Lineage()
    schemas: dict[TableName, pa.Schema] = {}
    for fp in plan.flows:
        flow = fp.flow
        target = str(fp.target)
        if isinstance(flow, AutoCdcFlow):
            _cdc(result, fp, flow, schemas, stored)
        elif isinstance(flow, SnapshotCdcFlow):
            source = flow.source
            columns = _columns(source, schemas, stored) if source is not None else None
            for column in columns or ():
                result.add(ColumnRef(target, column), {ColumnRef(str(source), column)}, fp.name)
        elif isinstance(flow, QueryFlow) and flow.sql is not None:
            traced = _query(result, fp, flow, catalog=catalog, schema=schema, base_dir=base_dir,
                            schemas=schemas, stored=stored)
            if traced is not None:
                schemas.setdefault(fp.target, traced)
    return result


def _columns(table: TableName, schemas: dict[TableName, pa.Schema], stored: SchemaOf) -> list[str] | None:
    found = schemas.get(table) or stored(table)
    return None if found is None else list(found.names)


def _cdc(result: Lineage, fp: FlowPlan, flow: AutoCdcFlow, schemas: dict[TableName, pa.Schema],
         stored: SchemaOf) -> None:
    columns = _columns(flow.source, schemas, stored)
    if columns is None:
        result.untraced[fp.name] = f"the columns of {flow.source} are not known yet"
        return
    keep = list(flow.column_list) if flow.column_list else [c for c in columns if c not in set(flow.except_column_list or ())]
    source, target = str(flow.source), str(fp.target)
    for column in keep:
        result.add(ColumnRef(target, column), {ColumnRef(source, column)}, fp.name)
    if flow.stored_as_scd_type == 2:
        sequence = {ColumnRef(source, c) for c in flow.sequence_by if c in columns}
        for column in ("__START_AT", "__END_AT"):
            result.add(ColumnRef(target, column), set(sequence), fp.name)


def _query(
    result: Lineage, fp: FlowPlan, flow: QueryFlow, *, catalog: str, schema: str, base_dir: Path,
    schemas: dict[TableName, pa.Schema], stored: SchemaOf,
) -> pa.Schema | None:
    assert flow.sql is not None
    known: dict[str, pa.Schema] = {}
    for inp in fp.inputs:
        found = input_schema(inp, schemas, stored, base_dir, flow.sql)
        if found is None:
            result.untraced[fp.name] = f"the columns of {inp.describe()} are not known yet"
            return None
        known[inp.placeholder] = found
    by_placeholder = {inp.placeholder: input_name(inp) for inp in fp.inputs}
    mapping: dict[str, object] = {key: {f.name: "STRING" for f in s} for key, s in known.items()}
    try:
        bound = bind_query(flow.sql, fp.inputs, catalog=catalog, schema=schema, dialect="spark")
        tree = qualify(sqlglot.parse_one(bound, read=SPARK_SQL), schema=mapping, dialect=SPARK_SQL,
                       validate_qualify_columns=False)
        outputs = list(tree.named_selects) if isinstance(tree, exp.Query) else []
    except (SqlglotError, ValueError) as exc:
        result.untraced[fp.name] = f"its query cannot be traced ({str(exc).splitlines()[0]})"
        return None
    target = str(fp.target)
    # sqlglot lower-cases names (Spark is case-insensitive); report them as written
    spelled = {n.lower(): n for s in known.values() for n in s.names}
    stored_target = stored(fp.target)
    spelled.update({n.lower(): n for n in _written_names(bound)})
    spelled.update({n.lower(): n for n in (stored_target.names if stored_target is not None else ())})
    names = {key: _Spelling(by_placeholder[key], {n.lower(): n for n in s.names}) for key, s in known.items()}
    out_names: list[str] = []
    for column in outputs:
        shown = spelled.get(column.lower(), column)
        out_names.append(shown)
        try:
            node = lineage(column, tree, schema=mapping, dialect=SPARK_SQL)
        except (SqlglotError, ValueError, KeyError) as exc:
            result.untraced[fp.name] = f"column {shown} cannot be traced ({str(exc).splitlines()[0]})"
            continue
        result.add(ColumnRef(target, shown), set(_leaves(node, names)), fp.name)
    return pa.schema([(c, pa.string()) for c in out_names])


@dataclass(frozen=True)
class _Spelling:
    """An input's name in lineage and its columns as spelled (lower-case name -> name)."""

    relation: str
    columns: dict[str, str]


def _written_names(sql: str) -> list[str]:
    """The result column names of ``sql`` as written (aliases and plain columns)."""
    try:
        tree = sqlglot.parse_one(sql, read=SPARK_SQL)
    except SqlglotError:
        return []
    return [n for n in tree.named_selects if n != "*"] if isinstance(tree, exp.Query) else []


def _leaves(node: Node, names: dict[str, _Spelling]) -> Iterator[ColumnRef]:
    """The input columns at the ends of a sqlglot lineage tree."""
    stack = [node]
    while stack:
        current = stack.pop()
        if current.downstream:
            stack.extend(current.downstream)
            continue
        source = current.source
        if isinstance(source, exp.Table):
            spelling = names.get(source.name)
            if spelling is not None:
                column = current.name.split(".")[-1].strip('"`')
                yield ColumnRef(spelling.relation, spelling.columns.get(column.lower(), column))
