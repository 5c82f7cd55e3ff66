"""``soundlake lineage`` and OpenLineage export: a column's path back to the source database.

The pipeline's column graph (:mod:`soundlake.pipeline.lineage`) ends at the files a flow
reads. Files under a bronze folder that ingestion writes are the copy of one source table:
each of their columns is the source column of the same name (``_``-prefixed columns are
ingestion's own, such as ``_deleted``), so the path continues to
``source:<schema>.<Table>.<column>``, the table and column ingestion read.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pyarrow as pa

from soundlake.catalog.names import TableName
from soundlake.core.clock import utc_now
from soundlake.core.errors import DefinitionError, UsageError
from soundlake.lake import delta
from soundlake.lake.bronze import BRONZE
from soundlake.observe.openlineage import DatasetRef, FlowRun, build_event, send
from soundlake.pipeline import autoloader as al
from soundlake.pipeline.context import dataset_uri
from soundlake.pipeline.lineage import ColumnRef, Lineage, column_lineage, input_name
from soundlake.pipeline.planner import UpdatePlan
from soundlake.pipeline.runner import UpdateResult
from soundlake.project.context import Project
from soundlake.project.pipeline_ops import load_graph, plan_for
from soundlake.source.db import safe_url


@dataclass(frozen=True)
class LineageEdge:
    """``column`` is computed from ``source`` (by ``flow``; ingestion for source columns)."""

    column: str
    source: str
    flow: str


def project_lineage(project: Project, plan: UpdatePlan | None = None) -> Lineage:
    """The column graph of the project's pipeline, extended to the source database's columns.

    ``plan``: the update plan when the caller has one (an update that just ran); else the
    definitions are loaded and planned here.
    """
    if plan is None:
        plan = plan_for(project, load_graph(project))
    lake, pipeline, config = project.lake, project.config.name, project.config

    def stored(table: TableName) -> pa.Schema | None:
        return delta.table_schema(dataset_uri(lake, pipeline, table, plan.datasets), lake.storage_options)

    found = column_lineage(plan, catalog=config.catalog, schema=config.schema_, base_dir=project.root, stored=stored)
    bronze = {
        _normal(lake.uri(BRONZE, t.table)): f"source:{t.schema_ + '.' if t.schema_ else ''}{t.table}"
        for t in config.ingest.tables
    }
    for sources in list(found.edges.values()):
        for source in sources:
            if not source.relation.startswith("files:"):
                continue
            table = bronze.get(_normal(al.resolve_path(source.relation[len("files:"):], project.root)))
            if table is not None and not source.column.startswith("_"):
                found.add(source, {ColumnRef(table, source.column)}, "ingest")
    return found


def _normal(path: str) -> str:
    return path if "://" in path else str(Path(path).resolve())


def lineage_edges(project: Project, name: str, *, downstream: bool = False) -> list[LineageEdge]:
    """The edges from ``name`` (``table`` or ``table.column``, 1-3 name parts plus a column)
    towards the sources (or, ``downstream``, towards what reads it), nearest first.

    Raises:
        UsageError: when ``name`` is neither a dataset nor a column of one.
    """
    found = project_lineage(project)
    starts = _starts(found, name, project)
    edges: list[LineageEdge] = []
    seen: set[tuple[ColumnRef, ColumnRef]] = set()
    for start in starts:
        walk = found.downstream(start) if downstream else found.upstream(start)
        for a, b in walk:
            if (a, b) in seen:
                continue
            seen.add((a, b))
            computed, source = (b, a) if downstream else (a, b)
            flows = ", ".join(sorted(found.flows.get(computed, {"?"})))
            edges.append(LineageEdge(str(computed), str(source), flows))
    return edges


def _starts(found: Lineage, name: str, project: Project) -> list[ColumnRef]:
    config = project.config
    text = name.strip().replace("`", "")
    candidates: list[tuple[str, str | None]] = [(text, None)]
    if "." in text:
        prefix, last = text.rsplit(".", 1)
        candidates.append((prefix, last))
    for table_text, column in candidates:
        try:
            parsed = TableName.parse(table_text, catalog=config.catalog, schema=config.schema_)
        except DefinitionError:  # more than three name parts: read the last one as a column
            parsed = None
        columns = found.columns.get(str(parsed)) if parsed is not None else None
        if parsed is None or columns is None:
            continue
        table = str(parsed)
        if column is None:
            return [ColumnRef(table, c) for c in columns]
        match = [c for c in columns if c.lower() == column.lower()]
        if match:
            return [ColumnRef(table, match[0])]
        raise UsageError(f"{table} has no column '{column}' (columns: {', '.join(columns)})")
    raise UsageError(f"no dataset or dataset column named '{name}' (soundlake catalog lists the datasets)")


def export_openlineage(project: Project, plan: UpdatePlan, result: UpdateResult) -> int:
    """Send the OpenLineage events of ``result``'s flows (see :mod:`soundlake.observe.openlineage`)
    where ``openlineage:`` in soundlake.yml says; return how many were sent.

    ``plan`` is the update's own plan (the definitions are not loaded again). Flows that
    did nothing (IDLE, SKIPPED) send none.
    """
    config = project.config.openlineage
    if config is None:
        return 0
    found = project_lineage(project, plan)
    namespace = config.namespace or project.config.name
    lake_ns = _lake_namespace(project)
    source_ns = safe_url(project.config.source.url)

    def dataset(relation: str) -> DatasetRef:
        if relation.startswith("files:"):
            return DatasetRef("file", al.resolve_path(relation[len("files:"):], project.root))
        if relation.startswith("delta:"):
            return DatasetRef("file", al.resolve_path(relation[len("delta:"):], project.root))
        if relation.startswith("source:"):
            return DatasetRef(source_ns, relation[len("source:"):])
        return DatasetRef(lake_ns, relation)

    now = utc_now()
    runs: list[FlowRun] = []
    for fp in plan.flows:
        outcome = result.flows.get(fp.name)
        if outcome is None or outcome.status not in ("COMPLETED", "FAILED"):
            continue
        target = str(fp.target)
        columns = [c for c in found.columns.get(target, []) if fp.name in found.flows.get(ColumnRef(target, c), ())]
        lineage = {
            c: sorted(((dataset(s.relation), s.column) for s in found.edges.get(ColumnRef(target, c), ())),
                      key=lambda pair: (pair[0].name, pair[1]))
            for c in columns
        }
        runs.append(FlowRun(
            pipeline=namespace, flow=fp.name, update_id=result.run_id, status=outcome.status, time=now,
            inputs=[dataset(input_name(i)) for i in fp.inputs], output=dataset(target),
            columns=[(c, None) for c in columns], lineage=lineage,
        ))
    events = [build_event(r) for r in runs]
    send(events, url=config.url, file=project.root / config.file if config.file else None)
    return len(events)


def _lake_namespace(project: Project) -> str:
    root = project.lake.uri()
    return root if "://" in root else f"file://{Path(root).resolve()}"
