"""Plan and open a flow's inputs: new files, new Delta commits, snapshots, temporary views.

Planning turns a flow's ``FlowInput`` values into a JSON-able description of exactly what
one batch reads (the files, or the Delta version range and its added files). The
description is stored in the checkpoint before the batch runs, so a re-run after a crash
reads the same input. Opening turns the description into engine relations.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError, FlowError, SoundlakeError
from soundlake.engines.base import (
    ArrowRelation,
    DeltaRelation,
    Engine,
    FileStream,
    FunctionRelation,
    NativeRelation,
    Relation,
    RuleViolation,
    ViewRelation,
)
from soundlake.lake import delta
from soundlake.pipeline import autoloader as al
from soundlake.pipeline.context import RunContext
from soundlake.pipeline.definitions import Dataset, QueryFlow
from soundlake.pipeline.expectations import ExpectationMetrics, transpile_condition, violation_error
from soundlake.pipeline.globbing import has_glob
from soundlake.pipeline.planner import input_table
from soundlake.pipeline.sql.query import FlowInput


@dataclass
class Leaf:
    """A table or file input (after temporary views are expanded)."""

    key: str
    placeholder: str
    input: FlowInput
    streaming: bool
    mentions_metadata: bool


@dataclass
class ViewNode:
    """A temporary view read by a flow: its SQL and its own inputs."""

    key: str
    placeholder: str
    sql: str
    input: FlowInput
    children: list[Leaf | ViewNode] = field(default_factory=list)


Node = Leaf | ViewNode


@dataclass
class PlannedBatch:
    """What one batch reads (``entries``) and the source offsets after it (``after``)."""

    entries: dict[str, dict[str, Any]]
    after: dict[str, dict[str, Any]]
    has_new: bool
    missing: list[str]


def input_key(inp: FlowInput) -> str:
    """A stable identity of an input for checkpoints."""
    if inp.kind == "files":
        return f"files:{inp.path}"
    if inp.kind == "path":
        return f"delta:{inp.path}"
    return f"table:{inp.table}"


def expand(ctx: RunContext, sql: str, inputs: Sequence[FlowInput], *, prefix: str = "__sl_in", key_prefix: str = "") -> list[Node]:
    """Give every input a unique placeholder; replace temporary views by their inputs."""
    nodes: list[Node] = []
    for i, inp in enumerate(inputs):
        placeholder = f"{prefix}_{i}"
        renamed = dataclasses.replace(inp, placeholder=placeholder)
        key = key_prefix + input_key(inp)
        table = input_table(inp)
        view = ctx.view_flows.get(table) if table is not None else None
        if view is not None:
            flow = view.flow
            view_sql = flow.sql if isinstance(flow, QueryFlow) and flow.sql else ""
            node = ViewNode(key, placeholder, view_sql, renamed)
            children = [
                _restream(c, inp.streaming)
                for c in expand(ctx, view_sql, view.inputs, prefix=placeholder, key_prefix=f"view:{table}/")
            ]
            node.children = children
            nodes.append(node)
        else:
            nodes.append(Leaf(key, placeholder, renamed, inp.streaming, "_metadata" in sql.lower()))
    return nodes


def _restream(node: Node, outer_streaming: bool) -> Node:
    """A view read in batch mode reads its inputs in batch mode too."""
    if isinstance(node, Leaf):
        node.streaming = node.streaming and outer_streaming
    else:
        node.children = [_restream(c, outer_streaming) for c in node.children]
    return node


def leaves(nodes: Sequence[Node]) -> Iterator[Leaf]:
    """Every leaf input under ``nodes``."""
    for node in nodes:
        if isinstance(node, Leaf):
            yield node
        else:
            yield from leaves(node.children)


def _skip_change_commits(inp: FlowInput, ctx: RunContext, target: TableName) -> bool:
    options = {str(k).lower(): str(v).lower() for k, v in inp.options.items()}
    if options.get("skipchangecommits") == "true":
        return True
    dataset = ctx.datasets.get(target)
    props = dataset.table_properties if dataset is not None else {}
    return any(k.lower().endswith("skipchangecommits") and str(v).lower() == "true" for k, v in props.items())


def plan_batch(ctx: RunContext, nodes: Sequence[Node], sources: Mapping[str, Any], *, flow: str, target: TableName) -> PlannedBatch:
    """Describe what the next batch reads given the checkpointed source offsets."""
    entries: dict[str, dict[str, Any]] = {}
    after: dict[str, dict[str, Any]] = {}
    has_new = False
    missing: list[str] = []
    for leaf in leaves(nodes):
        prev = sources.get(leaf.key) or {}
        if leaf.input.kind == "files":
            entry, offsets, new = _plan_files(ctx, leaf, prev)
        else:
            planned = _plan_table(ctx, leaf, prev, flow=flow, target=target)
            if planned is None:
                missing.append(str(leaf.input.table))
                continue
            entry, offsets, new = planned
        entries[leaf.key] = entry
        if offsets is not None:
            after[leaf.key] = offsets
        has_new = has_new or (new and leaf.streaming)
    return PlannedBatch(entries, after, has_new, missing)


def _plan_files(ctx: RunContext, leaf: Leaf, prev: Mapping[str, Any]) -> tuple[dict[str, Any], dict[str, Any] | None, bool]:
    inp = leaf.input
    root = al.resolve_path(str(inp.path), ctx.base_dir)
    options = al.FileSourceOptions.parse(dict(inp.options), str(inp.path))
    processed = set(prev.get("files", ())) if leaf.streaming else set()
    stored = al.schema_from_json(prev["schema"]) if leaf.streaming and prev.get("schema") else None
    new_files = al.discover(root, options, processed)
    if not new_files and stored is None and options.schema is None and has_glob(str(inp.path)):
        # a pattern that matches nothing is a mistake; an empty landing folder is "no data yet"
        raise FlowError(f"read_files('{inp.path}'): no files match {root}")
    added: list[str] = []
    if not new_files and stored is not None:
        schema = stored
    else:
        schema, added = al.evolve_schema(stored, new_files, root, options)
    entry: dict[str, Any] = {
        "kind": "files",
        "root": root,
        "files": [f.to_json() for f in new_files],
        "schema": al.schema_to_json(schema) if schema is not None else None,
        "added_columns": added,
        "metadata": leaf.mentions_metadata,
        "path": str(inp.path),
        "options": {str(k): str(v) for k, v in inp.options.items()},
    }
    offsets = None
    if leaf.streaming:
        offsets = {
            "files": sorted(processed | {f.path for f in new_files}),
            "schema": entry["schema"],
        }
    return entry, offsets, bool(new_files)


def _plan_table(
    ctx: RunContext, leaf: Leaf, prev: Mapping[str, Any], *, flow: str, target: TableName
) -> tuple[dict[str, Any], dict[str, Any] | None, bool] | None:
    inp = leaf.input
    uri = al.resolve_path(str(inp.path), ctx.base_dir) if inp.kind == "path" else ctx.table_uri(inp.source_table)
    version = delta.table_version(uri, ctx.storage_options)
    if version is None:
        if inp.kind == "path":
            raise FlowError(f"{inp.describe()}: no Delta table at {uri}")
        return None
    if not leaf.streaming:
        return {"kind": "delta", "uri": uri, "version": version, "files": None}, None, True
    start = prev.get("version")
    if start is None:
        return {"kind": "delta", "uri": uri, "version": version, "files": None}, {"version": version}, True
    start = int(start)
    if version <= start:
        return {"kind": "delta", "uri": uri, "version": version, "files": []}, {"version": start}, False
    skip = _skip_change_commits(inp, ctx, target)
    added: list[str] = []
    for commit in delta.commits_between(uri, start, version, ctx.storage_options):
        if commit.changes_existing_rows:
            if skip:
                continue
            raise FlowError(
                f"flow '{flow}': source table {inp.table or inp.describe()} version {commit.version} "
                f"({commit.operation}) updated or deleted rows; a streaming read accepts appends "
                f"only. Set the read option skipChangeCommits = true to ignore such commits, "
                f"or run a full refresh of {target}"
            )
        added.extend(commit.added_files)
    entry = {"kind": "delta", "uri": uri, "version": version, "files": added}
    return entry, {"version": version}, bool(added)


class ReadGuard:
    """Remembers an error raised while Python produced rows for the engine, and the
    expectation counts of the temporary views the batch read (:func:`checked_view`)."""

    def __init__(self) -> None:
        self.error: BaseException | None = None
        self.view_metrics: list[ExpectationMetrics] = []

    def wrap(self, batches: Iterator[pa.RecordBatch]) -> Iterator[pa.RecordBatch]:
        try:
            yield from batches
        except BaseException as exc:
            self.error = exc
            raise

    def reraise(self, exc: BaseException) -> None:
        """Raise the original error if the engine wrapped one of ours."""
        if self.error is not None and self.error is not exc:
            raise self.error from None


def open_relations(
    ctx: RunContext,
    nodes: Sequence[Node],
    entries: Mapping[str, Mapping[str, Any]],
    guard: ReadGuard,
    overrides: Mapping[str, Relation] | None = None,
) -> dict[str, Relation]:
    """Engine relations for one planned batch.

    ``overrides`` maps input keys to relations the engine already has (the rows of a
    native stream's micro-batch); they replace the relation opened from the entry.
    """
    relations: dict[str, Relation] = {}
    dialect = ctx.engine.capabilities.sql_dialect
    overrides = overrides or {}
    for node in nodes:
        if isinstance(node, ViewNode):
            child_relations = open_relations(ctx, node.children, entries, guard, overrides)
            child_inputs = [c.input for c in node.children]
            sql = ctx.binder.bind(node.sql, child_inputs, dialect, relation_schemas(ctx.engine, child_relations))
            view = ctx.datasets.get(node.input.table) if node.input.table is not None else None
            if view is not None and view.expectations:
                relations[node.placeholder] = checked_view(ctx, view, sql, child_relations, guard)
            else:
                relations[node.placeholder] = ViewRelation(sql, child_relations)
            continue
        if node.key in overrides:
            relations[node.placeholder] = overrides[node.key]
            continue
        entry = entries.get(node.key)
        if entry is None:
            raise FlowError(f"input {node.key} is not available (the table does not exist yet)")
        relations[node.placeholder] = _relation(ctx, entry, guard)
    return relations


def checked_view(
    ctx: RunContext, view: Dataset, sql: str, relations: Mapping[str, Relation], guard: ReadGuard
) -> Relation:
    """The rows of a temporary view with expectations, after its rules.

    The view's query runs once for the batch (its rows are held in memory); each rule is
    counted on them (a row violates a rule only when its condition is FALSE), ``FAIL
    UPDATE`` fails the reading flow, ``DROP ROW`` removes the row. The counts are kept in
    ``guard.view_metrics`` and reported in the reading flow's ``data_quality``, each rule
    with ``dataset`` = the view.

    Raises:
        DefinitionError: a ``QUARANTINE`` rule (views have no table to quarantine into).
        ExpectationViolation: a ``FAIL UPDATE`` rule is violated.
    """
    rules = view.expectations
    for rule in rules:
        if rule.action == "quarantine":
            raise DefinitionError(
                f"{rule.location}: expectation '{rule.name}' on temporary view {view.name}: "
                "ON VIOLATION QUARANTINE needs a table; use DROP ROW or FAIL UPDATE on a view"
            )
    try:
        rows = ctx.engine.execute(sql, relations).read_all()
    except BaseException as exc:
        guard.reraise(exc)
        raise
    dialect = ctx.engine.capabilities.sql_dialect
    name = "__sl_view_rows"
    held = {name: ArrowRelation(rows, description=str(view.name))}
    holds = [f"coalesce(({transpile_condition(r.condition, dialect, ctx.binder.settings, rows.schema)}), TRUE)"
             for r in rules]
    sums = ", ".join(f"coalesce(sum(CASE WHEN {h} THEN 0 ELSE 1 END), 0) AS f{i}" for i, h in enumerate(holds))
    counts = ctx.engine.execute(f"SELECT count(*) AS n, {sums} FROM {name}", held).read_all().to_pylist()[0]
    failed = [int(counts[f"f{i}"]) for i in range(len(rules))]
    for i, rule in enumerate(rules):
        if rule.action == "fail" and failed[i]:
            bad = ctx.engine.execute(f"SELECT * FROM {name} WHERE NOT {holds[i]} LIMIT 1", held).read_all()
            raise violation_error(
                RuleViolation(i, bad.to_pylist()[0] if bad.num_rows else {}), rules, str(view.name), str(view.name)
            )
    kept = [h for h, r in zip(holds, rules) if r.action == "drop"]
    if kept:
        rows = ctx.engine.execute(f"SELECT * FROM {name} WHERE {' AND '.join(kept)}", held).read_all()
    total = int(counts["n"])
    guard.view_metrics.append(ExpectationMetrics(
        str(view.name), tuple(r.name for r in rules), total, rows.num_rows, total - rows.num_rows, 0, failed
    ))
    return ArrowRelation(rows, description=str(view.name))


def _relation(ctx: RunContext, entry: Mapping[str, Any], guard: ReadGuard) -> Relation:
    if entry["kind"] == "delta":
        files = entry.get("files")
        return DeltaRelation(
            entry["uri"], int(entry["version"]), None if files is None else tuple(files), ctx.storage_options
        )
    if entry.get("schema") is None:
        raise FlowError(f"read_files: no files found under {entry['root']}")
    schema = al.schema_from_json(entry["schema"])
    options_schema = al.read_schema(schema, bool(entry.get("metadata")))
    files = [al.FileInfo.from_json(f) for f in entry["files"]]
    options = al.FileSourceOptions.parse(entry.get("options") or {}, str(entry.get("path", entry["root"])))
    native = _engine_read(ctx, entry, schema, files, options)
    if native is not None:
        return native
    batches = al.read_files(
        entry["root"], files, schema, options, with_metadata=bool(entry.get("metadata")), ingestion_time=ctx.started
    )
    reader = pa.RecordBatchReader.from_batches(options_schema, guard.wrap(batches))
    return ArrowRelation(reader, description=entry["root"])


#: Arrow types an engine's own file reader returns unchanged (others need soundlake's reader).
NATIVE_TYPES = (
    pa.types.is_signed_integer,
    pa.types.is_floating,
    pa.types.is_string,
    pa.types.is_boolean,
    pa.types.is_date32,
    pa.types.is_decimal128,
    pa.types.is_binary,
)


def _micros(dtype: pa.DataType) -> bool:
    return bool(pa.types.is_timestamp(dtype) and dtype.unit == "us")


def engine_can_read(root: str, schema: pa.Schema, files: Sequence[al.FileInfo], options: al.FileSourceOptions) -> bool:
    """True when an engine's read of ``files`` with ``schema`` equals soundlake's reader's.

    Parquet only, types the engine reads unchanged, and every file's columns (footers)
    already of the tracked type: nothing to cast, rescue or match case-insensitively.
    """
    if options.format != "parquet" or not files:
        return False
    data = {f.name: f.type for f in schema if f.name != options.rescued_column}
    if not all(any(check(t) for check in NATIVE_TYPES) or _micros(t) for t in data.values()):
        return False
    for info in files:
        for field_ in al.file_schema(al.full_path(root, info.path), options):
            if data.get(field_.name) != al.normalise_type(field_.type, options):
                return False  # a new or case-mismatched column, or a value to cast/rescue
    return True


def _engine_read(
    ctx: RunContext, entry: Mapping[str, Any], schema: pa.Schema, files: list[al.FileInfo],
    options: al.FileSourceOptions,
) -> Relation | None:
    """The engine's own read of a batch's files (Spark), or None for soundlake's reader.

    An engine with a ``read_files(stream, paths)`` method (Spark, classic or Connect)
    reads the files where it runs when they fit the tracked schema, so the rows do not
    pass through this process.
    """
    read = getattr(ctx.engine, "read_files", None)
    root = entry["root"]
    if read is None or not engine_can_read(root, schema, files, options):
        return None
    rescued = options.rescued_column
    stream = FileStream(
        root=root,
        format=options.format,
        schema=pa.schema([f for f in schema if f.name != rescued]),
        checkpoint="",
        options={str(k): str(v) for k, v in (entry.get("options") or {}).items()},
        rescued_column=rescued,
        with_metadata=bool(entry.get("metadata")),
        ingestion_time=ctx.started,
        storage_options=ctx.storage_options,
    )
    relation: Relation = read(stream, [al.full_path(root, f.path) for f in files])
    return relation


def _reads_once(view: ViewRelation) -> bool:
    """True when a relation under ``view`` is a one-pass reader (rows read from files)."""
    for relation in view.relations.values():
        if isinstance(relation, ArrowRelation) and isinstance(relation.data, pa.RecordBatchReader):
            return True
        if isinstance(relation, ViewRelation) and _reads_once(relation):
            return True
    return False


def relation_schemas(engine: Engine, relations: Mapping[str, Relation]) -> dict[str, pa.Schema] | None:
    """The schema of each relation, for typing a query on the DuckDB engine (None elsewhere).

    Reads schemas only (``LIMIT 0``: Delta logs, Parquet footers, views bound over empty
    results), never the data. A relation whose schema cannot be read is left out (the
    query is then translated without its types).
    """
    if engine.capabilities.sql_dialect != "duckdb":
        return None
    schemas: dict[str, pa.Schema] = {}
    for name, relation in relations.items():
        if isinstance(relation, ArrowRelation):
            schema = getattr(relation.data, "schema", None)  # a Table or a one-pass reader
            if isinstance(schema, pa.Schema):
                schemas[name] = schema
            continue
        if isinstance(relation, (NativeRelation, FunctionRelation)):
            continue  # engine-native rows and Python functions: not run twice
        if isinstance(relation, ViewRelation) and _reads_once(relation):
            continue  # LIMIT 0 over the view would consume its one-pass file reader
        if isinstance(relation, DeltaRelation) and relation.version is not None:
            schemas[name] = delta.snapshot_schema(relation.uri, relation.version, relation.storage_options)
            continue
        try:
            reader = engine.execute(f"SELECT * FROM {name} LIMIT 0", {name: relation})
            schemas[name] = reader.schema
            reader.read_all()
        except SoundlakeError:
            continue
    return schemas
