"""Browsing the catalog: what tables exist, what each one is, and who writes and reads it.

``soundlake catalog`` lists catalogs, schemas and tables as Unity Catalog shows them: the
pipeline's published datasets (streaming tables, materialized views, temporary views,
which are not stored), their quarantine tables, other Delta tables in the lake (external
to the pipeline), the pipeline's event log and the bronze folders ingestion writes.
``soundlake describe`` gives one table's kind, comment, columns (types, nullability,
comments), expectations, properties, partitioning and clustering, size, Delta version,
last update (pipeline, run, flow) and the flows that write and read it. Everything is read
from the definitions and the Delta logs: no data file is scanned.
"""

from __future__ import annotations

import fnmatch
import json
import posixpath
import re
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

import pyarrow as pa
import pyarrow.fs as pafs

from soundlake.catalog.names import TableName
from soundlake.catalog.state import STATE_DIR
from soundlake.core.errors import UsageError
from soundlake.lake import delta
from soundlake.lake.bronze import BRONZE
from soundlake.pipeline.context import dataset_uri, quarantine_name
from soundlake.pipeline.definitions import Dataset
from soundlake.pipeline.graph import Graph
from soundlake.pipeline.sql.spark_types import spark_type_text
from soundlake.project.context import Project
from soundlake.project.pipeline_ops import event_log_uri, load_graph

KINDS = {"streaming_table": "streaming table", "materialized_view": "materialized view", "temporary_view": "view"}
"""Dataset kinds as Databricks names them."""


@dataclass(frozen=True)
class CatalogEntry:
    """One table (or folder) of the catalog.

    ``name`` is ``catalog.schema.table``; the event log is ``<catalog>.<schema>.
    event_log_<pipeline>`` and a bronze folder ``bronze.<Table>`` (they are not tables of
    the catalog, but users look for them beside the tables).
    """

    name: str
    kind: str
    location: str
    pipeline: str | None = None


@dataclass(frozen=True)
class ColumnInfo:
    """A column as ``DESCRIBE`` shows it."""

    name: str
    data_type: str
    nullable: bool
    comment: str | None


@dataclass
class TableInfo:
    """What ``soundlake describe`` shows of one table."""

    name: str
    kind: str
    location: str
    comment: str | None = None
    columns: list[ColumnInfo] = field(default_factory=list)
    expectations: list[dict[str, str]] = field(default_factory=list)
    properties: dict[str, str] = field(default_factory=dict)
    partitioned_by: list[str] = field(default_factory=list)
    clustered_by: list[str] = field(default_factory=list)
    rows: int | None = None
    files: int | None = None
    size_bytes: int | None = None
    version: int | None = None
    last_update: dict[str, Any] = field(default_factory=dict)
    written_by: list[str] = field(default_factory=list)
    read_by: list[str] = field(default_factory=list)
    defined_at: str | None = None

    def as_dict(self) -> dict[str, Any]:
        """Plain JSON-ready values (``--format json``)."""
        out = dict(self.__dict__)
        out["columns"] = [c.__dict__ for c in self.columns]
        return out


def catalog_entries(project: Project, pattern: str | None = None, *, graph: Graph | None = None) -> list[CatalogEntry]:
    """Every table of the project, sorted by name; ``pattern`` is a glob over the full name
    (``gold.*``, ``*dim_*``); a name of one or two parts also matches with the defaults.

    ``graph``: the project's loaded graph, when the caller has it (loading runs the
    pipeline files, so each command loads it once).
    """
    graph = graph or load_graph(project)
    entries: dict[str, CatalogEntry] = {}
    pipeline = project.config.name
    for name, dataset in graph.datasets.items():
        if dataset.private or dataset.kind == "sink":  # a sink is no table (a delta sink's table is listed below)
            continue
        location = "" if dataset.kind == "temporary_view" else dataset_uri(project.lake, pipeline, name, graph.datasets)
        entries[str(name)] = CatalogEntry(str(name), KINDS[dataset.kind], location, pipeline)
        if any(rule.action == "quarantine" for rule in dataset.expectations):
            q = quarantine_name(name)
            entries[str(q)] = CatalogEntry(str(q), "quarantine", project.lake.uri(*q.parts), pipeline)
    for parts, uri in _lake_tables(project):
        text = ".".join(parts)
        if text not in entries:
            kind = "quarantine" if text.endswith("_quarantine") and text[: -len("_quarantine")] in entries else "table"
            entries[text] = CatalogEntry(text, kind, uri)
    log = f"{graph.catalog}.{graph.schema}.event_log_{pipeline}"
    entries[log] = CatalogEntry(log, "event log", event_log_uri(project), pipeline)
    for table in project.config.ingest.tables:
        text = f"{BRONZE}.{table.table}"
        entries[text] = CatalogEntry(text, "bronze folder", project.lake.uri(BRONZE, table.table))
    found = sorted(entries.values(), key=lambda e: e.name.lower())
    if pattern:
        wanted = _patterns(pattern, graph)
        found = [e for e in found if any(fnmatch.fnmatch(e.name.lower(), p) for p in wanted)]
    return found


def describe_table(project: Project, name: str, *, graph: Graph | None = None) -> TableInfo:
    """One table's description (see the module docstring).

    Raises:
        UsageError: when no table of the catalog has that name.
    """
    graph = graph or load_graph(project)
    entry = find_entry(catalog_entries(project, graph=graph), name, graph)
    info = TableInfo(entry.name, entry.kind, entry.location)
    table = TableName.parse(entry.name, catalog=graph.catalog, schema=graph.schema) if entry.kind != "bronze folder" else None
    dataset = graph.datasets.get(table) if table is not None else None
    if dataset is not None:
        _from_definition(info, dataset, graph)
    if entry.kind == "bronze folder":
        _bronze(info, project)
    elif entry.location:
        _from_delta(info, entry.location, project)
    return info


def _from_definition(info: TableInfo, dataset: Dataset, graph: Graph) -> None:
    info.comment = dataset.comment
    info.expectations = [{"name": r.name, "condition": r.condition, "action": r.action} for r in dataset.expectations]
    info.properties = {str(k): str(v) for k, v in dataset.table_properties.items()}
    info.clustered_by = list(dataset.cluster_by)
    info.partitioned_by = list(dataset.partition_cols)
    info.defined_at = str(dataset.location)
    for flow_name, node in graph.flows.items():
        if node.flow.target == dataset.name:
            info.written_by.append(flow_name)
        if any(i.table == dataset.name for i in node.inputs):
            info.read_by.append(str(node.flow.target))


def _from_delta(info: TableInfo, uri: str, project: Project) -> None:
    details = delta.table_details(uri, project.lake.storage_options)
    if details is None:
        return  # defined, not written yet (or a view)
    comments = {c.name: c for c in details.columns}
    info.columns = [
        ColumnInfo(f.name, _type_text(f.type), comments[f.name].nullable if f.name in comments else f.nullable,
                   comments[f.name].comment if f.name in comments else None)
        for f in details.schema
    ]
    info.comment = info.comment or details.description
    info.properties = {**details.configuration, **info.properties}  # the definition's TBLPROPERTIES too
    info.partitioned_by = info.partitioned_by or list(details.partition_columns)
    info.rows, info.files, info.size_bytes, info.version = (
        details.num_records, details.num_files, details.size_bytes, details.version,
    )
    commit = details.last_commit
    stamp = commit.get("timestamp")
    info.last_update = {
        "time": datetime.fromtimestamp(stamp / 1000, timezone.utc).isoformat() if isinstance(stamp, int) else None,
        "operation": commit.get("operation"),
        "pipeline": commit.get("pipeline"),
        "run": commit.get("run"),
        "flow": commit.get("flow"),
    }


def _bronze(info: TableInfo, project: Project) -> None:
    fs, root = project.lake.filesystem()
    folder = posixpath.join(root, BRONZE, info.name.split(".", 1)[1])
    files = [f for f in fs.get_file_info(pafs.FileSelector(folder, allow_not_found=True)) if f.is_file]
    info.files = len(files)
    info.size_bytes = sum(f.size or 0 for f in files)


def _type_text(arrow: Any) -> str:
    text = spark_type_text(arrow) or str(arrow)
    return text.lower().replace("`", "").replace(": ", ":").replace(", ", ",")


def _lake_tables(project: Project) -> Iterator[tuple[tuple[str, str, str], str]]:
    """``(catalog, schema, table)`` and location of every Delta table under the lake root."""
    fs, root = project.lake.filesystem()

    def folders(path: str) -> list[str]:
        return sorted(f.base_name for f in fs.get_file_info(pafs.FileSelector(path, allow_not_found=True))
                      if f.type == pafs.FileType.Directory)

    for catalog in folders(root):
        if catalog in (STATE_DIR, BRONZE) or catalog.startswith((".", "_")):
            continue
        for schema in folders(posixpath.join(root, catalog)):
            for table in folders(posixpath.join(root, catalog, schema)):
                if "_delta_log" in folders(posixpath.join(root, catalog, schema, table)):
                    yield (catalog, schema, table), project.lake.uri(catalog, schema, table)


def _patterns(pattern: str, graph: Graph) -> list[str]:
    text = pattern.lower()
    parts = text.split(".")
    out = [text]
    if len(parts) == 1:
        out += [f"{graph.catalog}.{graph.schema}.{text}".lower(), f"{graph.catalog}.{text}".lower()]
    elif len(parts) == 2:
        out.append(f"{graph.catalog}.{text}".lower())
    return out


def find_entry(entries: list[CatalogEntry], name: str, graph: Graph) -> CatalogEntry:
    """The entry named ``name`` (one, two or three parts, any case, backticks allowed).

    Raises:
        UsageError: when no entry has that name.
    """
    wanted = name.strip().strip("`").lower()
    candidates = [wanted]
    parts = wanted.split(".")
    if len(parts) == 1:
        candidates.append(f"{graph.catalog}.{graph.schema}.{wanted}".lower())
    elif len(parts) == 2 and parts[0] != BRONZE.lower():
        candidates.append(f"{graph.catalog}.{wanted}".lower())
    for entry in entries:
        if entry.name.lower() in candidates:
            return entry
    raise UsageError(f"no table named '{name}' in the catalog (soundlake catalog lists them)")


_NAME = r"([`\w.]+)"
_STATEMENTS = [
    ("catalogs", re.compile(r"SHOW\s+CATALOGS", re.IGNORECASE)),
    ("schemas", re.compile(rf"SHOW\s+(?:SCHEMAS|DATABASES)(?:\s+(?:IN|FROM)\s+{_NAME})?", re.IGNORECASE)),
    ("tables", re.compile(rf"SHOW\s+TABLES(?:\s+(?:IN|FROM)\s+{_NAME})?", re.IGNORECASE)),
    ("properties", re.compile(rf"SHOW\s+TBLPROPERTIES\s+{_NAME}", re.IGNORECASE)),
    ("history", re.compile(rf"DESC(?:RIBE)?\s+HISTORY\s+{_NAME}", re.IGNORECASE)),
    ("describe", re.compile(rf"DESC(?:RIBE)?\s+(?:TABLE\s+)?(EXTENDED\s+)?{_NAME}", re.IGNORECASE)),
]


def catalog_statement(project: Project, sql: str) -> pa.Table | None:
    """The answer to ``SHOW CATALOGS|SCHEMAS|TABLES [IN ...]``, ``DESCRIBE [EXTENDED] t``,
    ``DESCRIBE HISTORY t`` or ``SHOW TBLPROPERTIES t``, with Databricks' column names; None
    for any other statement (a query)."""
    text = " ".join(sql.strip().rstrip(";").split())
    for what, pattern in _STATEMENTS:
        match = pattern.fullmatch(text)
        if match is None:
            continue
        if what in ("catalogs", "schemas", "tables"):
            return _listing(project, what, match.group(1) if match.groups() else None)
        if what == "describe":
            return _describe_rows(describe_table(project, match.group(2)), extended=bool(match.group(1)))
        info = describe_table(project, match.group(1))
        if what == "properties":
            keys = sorted(info.properties)
            return pa.table({"key": keys, "value": [info.properties[k] for k in keys]})
        return _history(project, info)
    return None


def _listing(project: Project, what: str, within: str | None) -> pa.Table:
    graph = load_graph(project)
    tables = [e for e in catalog_entries(project, graph=graph) if e.kind != "bronze folder"]
    parts = [e.name.split(".") for e in tables]
    if what == "catalogs":
        return pa.table({"catalog": sorted({p[0] for p in parts})})
    scope = (within or (graph.catalog if what == "schemas" else f"{graph.catalog}.{graph.schema}")).replace("`", "")
    if what == "schemas":
        return pa.table({"databaseName": sorted({p[1] for p in parts if p[0].lower() == scope.lower()})})
    scope_parts = scope.split(".")
    catalog, schema = (graph.catalog, scope_parts[0]) if len(scope_parts) == 1 else scope_parts[:2]
    rows = sorted((p[1], p[2], e.kind == "view") for p, e in zip(parts, tables, strict=True)
                  if p[0].lower() == catalog.lower() and p[1].lower() == schema.lower())
    return pa.table({"database": [r[0] for r in rows], "tableName": [r[1] for r in rows],
                     "isTemporary": [r[2] for r in rows]})


def _describe_rows(info: TableInfo, *, extended: bool) -> pa.Table:
    rows = [(c.name, c.data_type, c.comment) for c in info.columns]
    if extended:
        rows += [("", "", None), ("# Detailed Table Information", "", None)]
        catalog, schema, name = (info.name.split(".") + ["", "", ""])[:3]
        rows += [("Catalog", catalog, None), ("Database", schema, None), ("Table", name, None),
                 ("Type", info.kind.upper(), None), ("Location", info.location, None), ("Provider", "delta", None)]
        if info.comment:
            rows.append(("Comment", info.comment, None))
        if info.properties:
            shown = ",".join(f"{k}={v}" for k, v in sorted(info.properties.items()))
            rows.append(("Table Properties", f"[{shown}]", None))
    return pa.table({"col_name": [r[0] for r in rows], "data_type": [r[1] for r in rows],
                     "comment": pa.array([r[2] for r in rows], pa.string())})


def _history(project: Project, info: TableInfo) -> pa.Table:
    if not info.location:
        raise UsageError(f"{info.name} is a view: it has no history")
    commits = delta.history(info.location, project.lake.storage_options)
    return pa.table({
        "version": pa.array([c.get("version") for c in commits], pa.int64()),
        "timestamp": pa.array([datetime.fromtimestamp(c["timestamp"] / 1000, timezone.utc) for c in commits],
                              pa.timestamp("ms", tz="UTC")),
        "operation": [str(c.get("operation", "")) for c in commits],
        "operationParameters": [json.dumps(c.get("operationParameters") or {}, sort_keys=True) for c in commits],
        "pipeline": [c.get("pipeline") for c in commits],
        "update_id": [c.get("run") for c in commits],
        "flow": [c.get("flow") for c in commits],
        "operationMetrics": [json.dumps(c.get("operationMetrics") or {}, sort_keys=True) for c in commits],
    })


@dataclass(frozen=True)
class Restored:
    """What ``soundlake restore`` did: the table, the version restored, the new version, and
    what the next update will do about it (for tables a pipeline owns)."""

    table: str
    restored_version: int
    new_version: int
    removed_files: int
    restored_files: int
    consequence: str
    changed: bool = True
    """False when the table already was at that version (nothing was written)."""


def restore_table(project: Project, name: str, *, version: int | None = None, timestamp: str | None = None,
                  force: bool = False) -> Restored:
    """Write a Delta RESTORE commit to ``version`` or ``timestamp`` (Delta's time-travel rules).

    A table the pipeline writes is refused without ``force``: its checkpoints then run
    ahead of its rows. With ``force`` the next update refuses to continue such a
    streaming table or AUTO CDC target until it is rebuilt (``--full-refresh``), and
    recomputes such a materialized view (``pipeline.integrity``).

    Raises:
        UsageError: a view, a bronze folder, the event log, no version/timestamp (or both),
            or a pipeline's table without ``force``.
    """
    from soundlake.lake.delta_log import inspect_table
    from soundlake.project.pipeline_ops import writer_lock

    if (version is None) == (timestamp is None):
        raise UsageError("give --version N or --timestamp T (one of them)")
    graph = load_graph(project)
    entry = find_entry(catalog_entries(project, graph=graph), name, graph)
    if entry.kind in ("view", "bronze folder", "event log") or not entry.location:
        raise UsageError(f"{entry.name} is a {entry.kind}: only Delta tables can be restored")
    options = project.lake.storage_options
    wanted = delta.time_travel_version(
        entry.location, "VERSION" if version is not None else "TIMESTAMP",
        str(version) if version is not None else str(timestamp), options, name=entry.name,
    )
    log = inspect_table(entry.location, (), options)
    if log.version == wanted:
        return Restored(entry.name, wanted, wanted, 0, 0, "", changed=False)
    owner = log.owner
    consequence = ""
    if owner is not None:
        kind = entry.kind
        if kind == "materialized view":
            consequence = f"the next update of pipeline '{owner}' recomputes {entry.name} from its inputs"
        else:
            consequence = (f"the next update of pipeline '{owner}' refuses to continue {entry.name} until you "
                           f"rebuild it: soundlake run --full-refresh {entry.name}")
        if not force:
            raise UsageError(
                f"{entry.name} is a {kind} written by pipeline '{owner}': restoring it puts its rows behind its "
                f"checkpoints, and {consequence}",
                hint="add --force to restore it anyway",
            )
    with writer_lock(project):  # no update runs while the table changes under it
        metrics = delta.restore(entry.location, wanted, options)
        now = delta.table_version(entry.location, options)
    return Restored(entry.name, wanted, int(now or 0), int(metrics.get("numRemovedFile", 0)),
                    int(metrics.get("numRestoredFile", 0)), consequence)
