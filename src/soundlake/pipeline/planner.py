"""Plan an update: which flows run, in what order, which tables are reset.

The planner works on plain values (datasets, flows and each flow's inputs), so it does
not depend on how the graph was validated. Selection follows Databricks:

- no selection: every flow runs (a refresh);
- ``refresh=[a, b]``: flows into ``a`` and ``b`` run, the others are EXCLUDED;
- ``full_refresh=[a]``: ``a`` is reset (truncated, checkpoints cleared) and runs;
- ``full_refresh_all``: every table is reset, except those with
  ``pipelines.reset.allowed = false`` (they refresh normally, with a warning).
  Naming such a table in ``full_refresh`` is an error.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from functools import cached_property

from soundlake.catalog.names import TableName
from soundlake.core.errors import GraphError
from soundlake.pipeline.dag import CycleError, Dag
from soundlake.pipeline.definitions import (
    AutoCdcFlow,
    Dataset,
    Flow,
    FlowKind,
    QueryFlow,
    SnapshotCdcFlow,
)
from soundlake.pipeline.sql.query import FlowInput
from soundlake.pipeline.streaming_rules import deduplicates_a_stream


@dataclass(frozen=True)
class FlowPlan:
    """One flow of the update.

    Attributes:
        name: Flow name (checkpoint and app-transaction identity).
        flow: The definition.
        inputs: What its query reads (``FlowInput`` values of the SQL front end).
        dataset: The target dataset.
        upstream: Names of flows in this pipeline whose targets this flow reads.
        selected: False when excluded by a selective refresh.
    """

    name: str
    flow: Flow
    inputs: tuple[FlowInput, ...]
    dataset: Dataset
    upstream: frozenset[str] = frozenset()
    selected: bool = True

    @property
    def target(self) -> TableName:
        """The target table."""
        return self.flow.target

    @property
    def has_quarantine(self) -> bool:
        """Whether the target has a quarantine table (a ``quarantine`` expectation)."""
        return any(e.action == "quarantine" for e in self.dataset.expectations)

    @property
    def kind(self) -> FlowKind:
        """``view``, ``materialized_view``, ``streaming``, ``once``, ``auto_cdc`` or ``snapshot_cdc``."""
        if self.dataset.kind == "temporary_view":
            return "view"
        if isinstance(self.flow, AutoCdcFlow):
            return "auto_cdc"
        if isinstance(self.flow, SnapshotCdcFlow):
            return "snapshot_cdc"
        if self.dataset.kind == "materialized_view":
            return "materialized_view"
        if isinstance(self.flow, QueryFlow) and self.flow.once:
            return "once"
        return "streaming"


@dataclass(frozen=True)
class UpdatePlan:
    """The flows of one update in dependency order, and the tables to reset first."""

    flows: tuple[FlowPlan, ...]
    resets: tuple[TableName, ...] = ()
    warnings: tuple[str, ...] = ()
    datasets: Mapping[TableName, Dataset] = field(default_factory=dict)

    def flow(self, name: str) -> FlowPlan:
        """The plan of the flow ``name``."""
        for plan in self.flows:
            if plan.name == name:
                return plan
        raise KeyError(name)

    @cached_property
    def dag(self) -> Dag:
        """The flows and the flows each one depends on."""
        return Dag.of((p.name, p.upstream) for p in self.flows)

    def downstream(self, name: str) -> set[str]:
        """Every flow that (transitively) reads what ``name`` writes."""
        return self.dag.downstream(name)


def input_table(inp: FlowInput) -> TableName | None:
    """The table a ``FlowInput`` reads, or None for files."""
    return inp.table if inp.kind == "table" else None


def plan_update(
    datasets: Iterable[Dataset],
    flows: Sequence[tuple[str, Flow, Sequence[FlowInput]]],
    *,
    catalog: str,
    schema: str,
    refresh: Sequence[str] | None = None,
    full_refresh: Sequence[str] | None = None,
    full_refresh_all: bool = False,
    reset_protected: bool = False,
) -> UpdatePlan:
    """Order the flows and apply the refresh selection.

    Args:
        datasets: Every dataset of the pipeline.
        flows: ``(name, flow, inputs)`` for every flow, in definition order.
        catalog: Default catalog for selection names.
        schema: Default schema for selection names.
        refresh: Tables to refresh (others excluded).
        full_refresh: Tables to reset and refresh.
        full_refresh_all: Reset every table that allows it.
        reset_protected: Also reset tables protected by ``pipelines.reset.allowed = false``
            (an explicit override: their history is rebuilt from what their sources hold).

    Raises:
        GraphError: unknown selected names, a protected table named for full refresh, or
            a dependency cycle.
    """
    by_name = {d.name: d for d in datasets}
    writers: dict[TableName, list[str]] = {}
    for name, flow, _ in flows:
        writers.setdefault(flow.target, []).append(name)

    def resolve(names: Sequence[str] | None, what: str) -> set[TableName]:
        out = set()
        for text in names or ():
            table = TableName.parse(text, catalog=catalog, schema=schema)
            if table not in by_name:
                known = ", ".join(sorted(str(d) for d in by_name)) or "none"
                raise GraphError(f"{what}: no dataset named '{text}' in this pipeline (datasets: {known})")
            out.add(table)
        return out

    refresh_set = resolve(refresh, "--refresh")
    full_set = resolve(full_refresh, "--full-refresh")
    warnings: list[str] = []
    for table in sorted(full_set):
        if not by_name[table].reset_allowed and not reset_protected:
            raise GraphError(
                f"--full-refresh: table {table} has pipelines.reset.allowed = false and cannot be reset",
                hint="add --reset-protected to rebuild it (and its history) from its sources",
            )
    if full_refresh_all:
        for table, ds in by_name.items():
            if ds.kind == "temporary_view":
                continue
            if ds.reset_allowed or reset_protected:
                full_set.add(table)
            else:
                warnings.append(f"{table}: pipelines.reset.allowed = false; refreshed without reset")
    selection = refresh_set | full_set
    plans: list[FlowPlan] = []
    for name, flow, inputs in flows:
        upstream: set[str] = set()
        for inp in inputs:
            source = input_table(inp)
            if source is not None:
                upstream.update(w for w in writers.get(source, ()) if w != name)
        dataset = by_name.get(flow.target)
        if dataset is None:
            raise GraphError(f"flow '{name}' writes {flow.target}, which is not defined")
        if isinstance(flow, QueryFlow) and flow.native is not None and flow.sql is not None \
                and any(i.streaming for i in inputs) and deduplicates_a_stream(flow.sql):
            warnings.append(
                f"{flow.location}: flow '{name}': dropDuplicates/distinct on a stream de-duplicates each "
                "micro-batch here; Spark keeps every key it has seen (state without a watermark), so a key "
                "that comes back in a later update is dropped on Databricks and kept here"
            )
        selected = not selection or flow.target in selection or (full_refresh_all and not refresh_set)
        plans.append(FlowPlan(name, flow, tuple(inputs), dataset, frozenset(upstream), selected))
    ordered = _topological(plans)
    resets = tuple(sorted(t for t in full_set if by_name[t].kind != "temporary_view"))
    final = tuple(_with_selection(ordered))
    return UpdatePlan(final, resets, tuple(warnings), dict(by_name))


def _topological(plans: list[FlowPlan]) -> list[FlowPlan]:
    by_name = {p.name: p for p in plans}
    try:
        order = Dag.of((p.name, p.upstream) for p in plans).order()
    except CycleError as exc:
        raise GraphError(f"dependency cycle among flows: {exc}") from None
    return [by_name[name] for name in order]


def _with_selection(plans: list[FlowPlan]) -> Iterable[FlowPlan]:
    """Temporary views are computed inside their readers; they follow no selection."""
    for plan in plans:
        if plan.kind == "view" and not plan.selected:
            yield FlowPlan(plan.name, plan.flow, plan.inputs, plan.dataset, plan.upstream, True)
        else:
            yield plan
