"""The dataset graph: flows, what they read, and validation before anything runs.

Rules (each violation raises :class:`~soundlake.core.errors.GraphError` naming locations):

- Dataset names and flow names are unique (both definitions are named).
- Every flow writes to a dataset defined in the pipeline. AUTO CDC flows (and snapshot
  flows) write only to streaming tables; append flows (``CREATE FLOW ... INSERT INTO``,
  ``@append_flow``) only to streaming tables; a materialized view or temporary view has
  exactly its own default flow. A streaming table needs at least one flow.
- A streaming table's flows read at least one ``STREAM(...)`` input unless they run
  ``ONCE``; a materialized view reads no ``STREAM(...)`` input, and no flow streams from a
  materialized view (it is recomputed, not appended to).
- Names read are resolved against the pipeline's datasets first. A name that the pipeline
  does not define is an *external* Delta table (``storage/<catalog>/<schema>/<table>``,
  which must exist at run time) only when written with a schema or catalog
  (``silver.users``, ``cat.silver.users``); a one-part name or a ``LIVE.`` name that is
  not defined is an error (almost always a typo). For AUTO CDC sources (only the resolved
  name is known) an undefined source in the default catalog and schema is an error.
- No cycles: the error names the cycle as ``a -> b -> a``.
- Expectation names are unique per dataset.

Flow names: a dataset's default flow is named by the dataset's full name
(``catalog.schema.table``); ``CREATE FLOW f`` flows keep their own name; legacy
``APPLY CHANGES INTO t`` flows are named by the target's full name.
"""

from __future__ import annotations

import difflib
from collections.abc import Mapping
from dataclasses import dataclass

from soundlake.catalog.names import TableName, validate_flow_name
from soundlake.core.errors import GraphError
from soundlake.core.text import plural
from soundlake.pipeline.dag import CycleError, Dag
from soundlake.pipeline.definitions import (
    AutoCdcFlow,
    Dataset,
    Flow,
    QueryFlow,
    Registry,
    SnapshotCdcFlow,
)
from soundlake.pipeline.file_checks import check_file_reads
from soundlake.pipeline.sql.query import FlowInput, analyze_query


@dataclass(frozen=True)
class FlowNode:
    """One flow and what it reads.

    ``inputs`` are the query's inputs (:func:`~soundlake.pipeline.sql.query.analyze_query`);
    an AUTO CDC flow has one table input (streaming unless its source is read in batch);
    a snapshot flow has one batch table input, or none when its source is a function.
    """

    flow: Flow

    inputs: tuple[FlowInput, ...]

    @property
    def name(self) -> str:
        """The flow's unique name."""
        return self.flow.name

    @property
    def target(self) -> TableName:
        """The dataset the flow writes."""
        return self.flow.target

    @property
    def reads(self) -> tuple[TableName, ...]:
        """The table names read (pipeline datasets and external tables), in input order."""
        return tuple(i.table for i in self.inputs if i.kind == "table" and i.table is not None)


class Graph:
    """A validated pipeline graph (build it with :func:`build_graph`).

    Attributes:
        datasets: Every dataset by name, in definition order.
        flows: Every flow by its unique name, in definition order.
        order: Flow names in a topological order (a flow comes after every flow writing a
            dataset it reads); ties keep definition order.
        external: Tables read that the pipeline does not define.
        catalog: Default catalog used to resolve names.
        schema: Default schema used to resolve names.
    """

    def __init__(
        self,
        datasets: Mapping[TableName, Dataset],
        flows: Mapping[str, FlowNode],
        order: tuple[str, ...],
        *,
        catalog: str,
        schema: str,
    ) -> None:
        self.datasets = datasets
        self.flows = flows
        self.order = order
        self.catalog = catalog
        self.schema = schema
        self.external: frozenset[TableName] = frozenset(
            t for node in flows.values() for t in node.reads if t not in datasets
        )
        self._writers: dict[TableName, list[str]] = {}
        for name, node in flows.items():
            self._writers.setdefault(node.target, []).append(name)

    def flows_into(self, target: TableName) -> list[str]:
        """Names of the flows writing ``target``, in definition order."""
        return list(self._writers.get(target, []))

    def readers_of(self, table: TableName) -> list[str]:
        """Names of the flows that read ``table`` directly, in topological order."""
        return [n for n in self.order if table in self.flows[n].reads]

    def upstream_flows(self, flow_name: str) -> set[str]:
        """Flows that ``flow_name`` depends on, transitively (not including itself)."""
        seen: set[str] = set()
        stack = [flow_name]
        while stack:
            for table in self.flows[stack.pop()].reads:
                for writer in self._writers.get(table, []):
                    if writer not in seen:
                        seen.add(writer)
                        stack.append(writer)
        seen.discard(flow_name)
        return seen

    def downstream_of(self, flow_name: str) -> set[str]:
        """Flows that transitively read the target of ``flow_name`` (not including itself)."""
        seen: set[str] = set()
        stack = [self.flows[flow_name].target]
        done: set[TableName] = set()
        while stack:
            table = stack.pop()
            if table in done:
                continue
            done.add(table)
            for reader in self.readers_of(table):
                if reader not in seen:
                    seen.add(reader)
                    stack.append(self.flows[reader].target)
        seen.discard(flow_name)
        return seen

    def upstream_datasets(self, target: TableName) -> set[TableName]:
        """Pipeline datasets that the flows into ``target`` read, transitively."""
        result: set[TableName] = set()
        stack = [target]
        while stack:
            for flow in self._writers.get(stack.pop(), []):
                for table in self.flows[flow].reads:
                    if table in self.datasets and table not in result:
                        result.add(table)
                        stack.append(table)
        return result

    def downstream_datasets(self, target: TableName) -> set[TableName]:
        """Pipeline datasets written by flows that transitively read ``target``."""
        result: set[TableName] = set()
        for writer in self._writers.get(target, []):
            result.update(self.flows[n].target for n in self.downstream_of(writer))
        result.discard(target)
        return result

    def dataset_order(self) -> tuple[TableName, ...]:
        """Dataset names in the order their first flow runs."""
        seen: dict[TableName, None] = {}
        for flow_name in self.order:
            seen.setdefault(self.flows[flow_name].target, None)
        for table in self.datasets:
            seen.setdefault(table, None)
        return tuple(seen)

    def render(self) -> str:
        """A text tree of datasets and their flows, in run order (for ``dry-run``)."""
        lines = [f"pipeline graph: {plural(len(self.datasets), 'dataset')}, {plural(len(self.flows), 'flow')}"]
        for table in self.dataset_order():
            dataset = self.datasets[table]
            extras = [plural(len(dataset.expectations), "expectation")] if dataset.expectations else []
            if dataset.sink is not None:
                extras.append(dataset.sink.describe())
            lines.append(f"{table}  ({_KIND_TEXT[dataset.kind]}{'; ' if extras else ''}{', '.join(extras)})")
            for name in self.flows_into(table):
                node = self.flows[name]
                lines.append(f"  <- {_flow_label(node)}")
                for item in node.inputs:
                    origin = "" if item.kind != "table" or item.table in self.datasets else "  [external]"
                    lines.append(f"       reads {item.describe()}{origin}")
        return "\n".join(lines)


def _flow_label(node: FlowNode) -> str:
    flow = node.flow
    if isinstance(flow, AutoCdcFlow):
        kind = f"auto cdc, scd type {flow.stored_as_scd_type}"
    elif isinstance(flow, SnapshotCdcFlow):
        kind = f"auto cdc from snapshot, scd type {flow.stored_as_scd_type}"
    else:
        kind = "default" if flow.is_default else "append"
        kind += ", streaming" if any(i.streaming for i in node.inputs) else ", batch"
    once = ", once" if not isinstance(flow, SnapshotCdcFlow) and flow.once else ""
    return f"flow {flow.name} [{kind}{once}]"


def build_graph(
    registry: Registry, *, catalog: str | None = None, schema: str | None = None
) -> Graph:
    """Analyze every flow's inputs and validate the whole graph.

    Args:
        registry: The definitions from every library file.
        catalog: Default catalog for unqualified names (default ``registry.catalog``).
        schema: Default schema for unqualified names (default ``registry.schema``).

    Raises:
        GraphError: for duplicates, undefined targets or names, misplaced flows, batch
            inputs of streaming tables, stream inputs of materialized views, and cycles.
        DefinitionError: when a query does not parse.
    """
    catalog = catalog or registry.catalog
    schema = schema or registry.schema
    datasets = _unique_datasets(registry.datasets)
    flows: dict[str, FlowNode] = {}
    for flow in registry.flows:
        validate_flow_name(flow.name, where=str(flow.location))
        if flow.name in flows:
            other = flows[flow.name].flow
            raise GraphError(
                f"flow '{flow.name}' is defined twice: at {other.location} and at {flow.location}"
            )
        flows[flow.name] = FlowNode(flow, _inputs(flow, catalog=catalog, schema=schema))
        check_file_reads(flow, flows[flow.name].inputs)
    for node in flows.values():
        _check_target(node, datasets)
        _check_reads(node, datasets, catalog=catalog, schema=schema)
    _check_datasets_have_flows(datasets, flows)
    order = _topological_order(flows)
    return Graph(datasets, flows, order, catalog=catalog, schema=schema)


def _unique_datasets(definitions: list[Dataset]) -> dict[TableName, Dataset]:
    datasets: dict[TableName, Dataset] = {}
    for dataset in definitions:
        if dataset.name in datasets:
            other = datasets[dataset.name]
            raise GraphError(
                f"dataset {dataset.name} is defined twice: at {other.location} and at {dataset.location}"
            )
        names: dict[str, object] = {}
        for expectation in dataset.expectations:
            if expectation.name in names:
                raise GraphError(
                    f"{expectation.location}: expectation '{expectation.name}' is defined twice "
                    f"on {dataset.name} (names are unique per dataset)"
                )
            names[expectation.name] = expectation
        datasets[dataset.name] = dataset
    return datasets


def _inputs(flow: Flow, *, catalog: str, schema: str) -> tuple[FlowInput, ...]:
    if isinstance(flow, QueryFlow):
        if flow.sql is None:
            return ()  # a Python function not yet turned into SQL: inputs unknown
        inputs = analyze_query(flow.sql, catalog=catalog, schema=schema, location=flow.location)
        for inp in inputs:
            if inp.as_of is not None:
                raise GraphError(
                    f"{flow.location}: flow '{flow.name}' reads {inp.describe()}: time travel is not "
                    "supported in pipeline flows (they read each table's current version)",
                    hint="time travel works in `soundlake query`",
                )
        return inputs
    if isinstance(flow, AutoCdcFlow):
        return (
            FlowInput(
                kind="table",
                streaming=flow.source_is_stream,
                table=flow.source,
                placeholder="__sl_in_0",
                written=str(flow.source),
            ),
        )
    if flow.source is not None:
        return (
            FlowInput(
                kind="table", streaming=False, table=flow.source, placeholder="__sl_in_0",
                written=str(flow.source),
            ),
        )
    return ()


_KIND_TEXT = {
    "streaming_table": "streaming table",
    "materialized_view": "materialized view",
    "temporary_view": "temporary view",
    "sink": "sink",
}


def _check_target(node: FlowNode, datasets: Mapping[TableName, Dataset]) -> None:
    flow = node.flow
    dataset = datasets.get(flow.target)
    if dataset is None:
        raise GraphError(
            f"{flow.location}: flow '{flow.name}' writes {flow.target}, which the pipeline does not "
            "define",
            hint=f"declare it, e.g. CREATE OR REFRESH STREAMING TABLE {flow.target}",
        )
    kind = _KIND_TEXT[dataset.kind]
    if dataset.kind == "sink":
        _check_sink_flow(node, dataset, datasets)
        return
    if isinstance(flow, (AutoCdcFlow, SnapshotCdcFlow)) and dataset.kind != "streaming_table":
        raise GraphError(
            f"{flow.location}: AUTO CDC flow '{flow.name}' writes {flow.target}, a {kind} "
            f"(defined at {dataset.location}); its target must be a streaming table"
        )
    if not isinstance(flow, QueryFlow):
        return
    if not flow.is_default and dataset.kind != "streaming_table":
        raise GraphError(
            f"{flow.location}: append flow '{flow.name}' writes {flow.target}, a {kind} "
            f"(defined at {dataset.location}); append flows need a streaming table target"
        )
    if flow.sql is None:
        return
    streaming = any(i.streaming for i in node.inputs)
    if dataset.kind == "streaming_table" and not streaming and not flow.once:
        raise GraphError(
            f"{flow.location}: flow '{flow.name}' into streaming table {flow.target} reads no "
            "streaming input",
            hint="read with STREAM(name) or STREAM read_files(...), run it ONCE, "
            "or define a MATERIALIZED VIEW instead",
        )
    if dataset.kind == "materialized_view" and streaming:
        names = ", ".join(i.describe() for i in node.inputs if i.streaming)
        raise GraphError(
            f"{flow.location}: materialized view {flow.target} reads a stream ({names})",
            hint="drop STREAM(...) (a materialized view recomputes from batch reads) "
            "or define a STREAMING TABLE",
        )


def _check_sink_flow(node: FlowNode, sink: Dataset, datasets: Mapping[TableName, Dataset]) -> None:
    """Only streaming append flows write a sink (Databricks: ``@append_flow(target=sink)``)."""
    flow = node.flow
    table = sink.sink.table if sink.sink is not None else None
    if table is not None and table in datasets:
        raise GraphError(
            f"{sink.location}: sink {sink.name} writes table {table}, a dataset of this pipeline "
            f"(defined at {datasets[table].location}); a sink writes a table outside the pipeline",
            hint="give the sink another tableName, or a path",
        )
    where = f"{flow.location}: flow '{flow.name}' writes sink {flow.target} (defined at {sink.location})"
    if not isinstance(flow, QueryFlow) or flow.is_default:
        raise GraphError(f"{where}; only append flows write a sink", hint="use @append_flow(target=...)")
    if flow.once:
        raise GraphError(
            f"{where}: a once flow is a batch query, and a sink takes only streaming flows",
            hint="read the input with spark.readStream / STREAM(...) and drop once=True",
        )
    if flow.sql is not None and not any(i.streaming for i in node.inputs):
        raise GraphError(
            f"{where}: the flow reads no stream (a batch flow), and a sink takes only streaming flows",
            hint="read the input with spark.readStream.table(...) / dlt.read_stream(...) / STREAM(...)",
        )


def _check_reads(
    node: FlowNode, datasets: Mapping[TableName, Dataset], *, catalog: str, schema: str
) -> None:
    flow = node.flow
    for item in node.inputs:
        if item.kind != "table" or item.table is None:
            continue
        source = datasets.get(item.table)
        if source is not None and source.kind == "sink":
            raise GraphError(
                f"{flow.location}: flow '{flow.name}' reads '{item.written or item.table}', a sink (defined "
                f"at {source.location}); a sink is written by append flows and cannot be read",
                hint="read the streaming table the sink's flows read, or the sink's Delta table by path "
                "once the pipeline has written it",
            )
        if source is not None:
            if item.streaming and source.kind == "materialized_view":
                raise GraphError(
                    f"{flow.location}: flow '{flow.name}' streams from materialized view {item.table} "
                    f"(defined at {source.location}); a materialized view is recomputed, not appended to",
                    hint="read it without STREAM(...), or define it as a STREAMING TABLE",
                )
            continue
        parts = item.written.split(".") if item.written else []
        live = bool(parts) and parts[0].strip("`").lower() == "live"
        if isinstance(flow, (AutoCdcFlow, SnapshotCdcFlow)):
            internal_guess = (item.table.catalog, item.table.schema) == (catalog.lower(), schema.lower())
        elif isinstance(flow, QueryFlow) and flow.written is not None and not live:
            # spark.read.table("name") / spark.table("name"): the project's default catalog
            # and schema, as on Databricks; an absent table fails the input check by name
            internal_guess = False
        else:
            internal_guess = live or len(parts) < 2
        if internal_guess:
            close = difflib.get_close_matches(str(item.table), [str(d) for d in datasets], n=1)
            hint = f"did you mean {close[0]}? " if close else ""
            raise GraphError(
                f"{flow.location}: flow '{flow.name}' reads '{item.written or item.table}', which the "
                f"pipeline does not define (resolved as {item.table})",
                hint=hint + "define it in the pipeline, or name an external table as schema.table "
                "or catalog.schema.table",
            )


def _check_datasets_have_flows(
    datasets: Mapping[TableName, Dataset], flows: Mapping[str, FlowNode]
) -> None:
    written = {node.target for node in flows.values()}
    for name, dataset in datasets.items():
        if name not in written:
            raise GraphError(
                f"{dataset.location}: {_KIND_TEXT[dataset.kind]} {name} has no flow",
                hint="add an @append_flow(target=...) that reads a stream" if dataset.kind == "sink"
                else "add AS query, or an append flow or AUTO CDC flow INTO it",
            )


def _topological_order(flows: Mapping[str, FlowNode]) -> tuple[str, ...]:
    writers: dict[TableName, list[str]] = {}
    for name, node in flows.items():
        writers.setdefault(node.target, []).append(name)
    dag = Dag.of((name, (w for table in node.reads for w in writers.get(table, ()))) for name, node in flows.items())
    try:
        return dag.order()
    except CycleError as exc:
        raise _cycle_error(exc.loop, flows) from None


def _cycle_error(loop: list[str], flows: Mapping[str, FlowNode]) -> GraphError:
    tables = " -> ".join(str(flows[name].target) for name in loop)
    where = "; ".join(f"{name} at {flows[name].flow.location}" for name in dict.fromkeys(loop))
    return GraphError(f"the pipeline has a cycle: {tables} (flows: {where})")
