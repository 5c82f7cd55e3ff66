"""``soundlake report``: gather the event log, row counts and marts, render one HTML file."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

from soundlake.catalog.names import TableName
from soundlake.core.clock import utc_now
from soundlake.core.errors import SoundlakeError
from soundlake.demo.report_marts import aggregate_sql, mart_charts
from soundlake.lake import delta
from soundlake.observe.events import read_events
from soundlake.observe.report import render_report, report_data_from_events
from soundlake.project.context import Project
from soundlake.project.ingest_ops import ingest_status
from soundlake.project.lineage_ops import project_lineage
from soundlake.project.pipeline_ops import event_log_uri, load_graph, query


def stored_tables(project: Project) -> list[TableName]:
    """Every stored dataset of the pipeline, plus quarantine tables that exist, sorted."""
    graph = load_graph(project)
    names: list[TableName] = []
    for name, dataset in graph.datasets.items():
        if dataset.kind == "temporary_view":
            continue
        names.append(name)
        quarantine = TableName(name.catalog, name.schema, f"{name.name}_quarantine")
        if delta.is_delta_table(project.lake.uri(*quarantine.parts), project.lake.storage_options):
            names.append(quarantine)
    return sorted(names)


def row_counts(project: Project, tables: list[TableName] | None = None) -> dict[str, int]:
    """Rows in each stored table (tables not written yet are left out)."""
    counts: dict[str, int] = {}
    for name in tables if tables is not None else stored_tables(project):
        uri = project.lake.uri(*name.parts)
        if delta.is_delta_table(uri, project.lake.storage_options):
            counts[str(name)] = int(delta.open_table(uri, project.lake.storage_options).count())
    return counts


def mart_rows(project: Project, tables: list[TableName]) -> dict[str, list[dict[str, Any]]]:
    """The marts' rows summed by the engine to the grain of the report's charts.

    Every row of each mart counts (``aggregate_sql``); only the grouped rows reach Python.
    """
    marts: dict[str, list[dict[str, Any]]] = {}
    for name in tables:
        if not name.name.startswith("mart_"):
            continue
        schema = delta.table_schema(project.lake.uri(*name.parts), project.lake.storage_options)
        sql = aggregate_sql(str(name), schema.names) if schema is not None else None
        if sql is not None:
            marts[name.name] = query(project, sql).to_pylist()
    return marts


def lineage_rows(project: Project) -> tuple[tuple[str, str, str, str], ...]:
    """Every column lineage edge ``(dataset, column, input, input column)``, sorted.

    The report is written whatever happens here: definitions that cannot be planned give
    no lineage panel (``soundlake lineage`` names the error).
    """
    try:
        found = project_lineage(project)
    except SoundlakeError:
        return ()
    return tuple(sorted((t.relation, t.column, s.relation, s.column)
                        for t, sources in found.edges.items() for s in sources))


def write_report(project: Project, output: Path | None = None) -> Path:
    """Render the project's report to ``output`` (default ``<storage>/_soundlake/report.html``
    for a local lake, else ``report.html`` in the project folder) and return its path."""
    tables = stored_tables(project)
    events = read_events(event_log_uri(project), project.lake.storage_options).to_pylist()
    counts = row_counts(project, tables)
    counts.update({status.table: status.rows for status in ingest_status(project)})
    data = report_data_from_events(
        events,
        mart_charts(mart_rows(project, tables)),
        row_counts=counts,
        title=f"soundlake report: {project.config.name}",
        generated_at=utc_now().strftime("%Y-%m-%d %H:%M UTC"),
    )
    data = dataclasses.replace(data, lineage=lineage_rows(project))
    if output is None:
        base = Path(project.lake.root) / "_soundlake" if project.lake.is_local else project.root
        output = base / "report.html"
    output.parent.mkdir(parents=True, exist_ok=True)
    output.write_text(render_report(data), encoding="utf-8")
    return output
