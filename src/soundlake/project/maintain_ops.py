"""``soundlake maintain`` and the maintenance after updates: OPTIMIZE and VACUUM, safely.

Which tables: the pipeline's streaming tables and materialized views (private ones too),
their quarantine tables, other Delta tables in the lake and the event log. What each gets
comes from its table properties (:class:`soundlake.lake.maintenance.Policy`).

What VACUUM keeps, beyond Delta's retention window (time travel to any version inside it,
and to the last version before it):

- every version a flow's checkpoint still reads from: a streaming flow that read table T
  up to version v continues with the files committed after v, however old;
- every version a running ``soundlake query`` holds (:mod:`soundlake.lake.leases`).

Everything runs under the project's writer lock, so no update writes while files move.
After an update, :func:`after_update` compacts the tables it wrote once they hold
``maintenance.min_files`` small files, and VACUUMs a table at most once per
``maintenance.vacuum_interval`` (Databricks runs its maintenance within 24 hours of an
update).
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Mapping, Sequence
from typing import Any

from soundlake.catalog.names import TableName
from soundlake.core.errors import DefinitionError, UsageError
from soundlake.core.text import plural
from soundlake.lake import delta
from soundlake.lake.delta_log import listed_version
from soundlake.lake.leases import held_versions
from soundlake.lake.maintenance import Maintained, Policy, maintain_table, small_files
from soundlake.pipeline.autoloader import resolve_path
from soundlake.pipeline.context import dataset_uri, quarantine_name
from soundlake.pipeline.graph import Graph
from soundlake.project.catalog_ops import CatalogEntry, catalog_entries, find_entry
from soundlake.project.context import Project
from soundlake.project.pipeline_ops import load_graph, pipeline_state, writer_lock

MAINTAINED_KINDS = ("streaming table", "materialized view", "quarantine", "table", "event log")
_MARKERS = "maintenance"


def maintain(
    project: Project,
    tables: Sequence[str] = (),
    *,
    dry_run: bool = False,
    optimize: bool = True,
    vacuum: bool = True,
    graph: Graph | None = None,
) -> list[Maintained]:
    """Optimize and VACUUM ``tables`` (default: every Delta table of the project).

    Raises:
        UsageError: an unknown table, a view or bronze folder named, a bad property.
        LockedError: an update is running.
    """
    graph = graph or load_graph(project)
    targets = _targets(project, graph, tables)
    with writer_lock(project):
        return _maintain(project, graph, targets, dry_run=dry_run, optimize=optimize, vacuum=vacuum)


def after_update(project: Project, written: Iterable[TableName], graph: Graph) -> list[Maintained]:
    """The maintenance an update's tables get (the caller holds the writer lock).

    Cheap when there is nothing to do (a listing of each table's log and one small state
    document): a table is looked at for compaction once ``maintenance.min_files`` commits
    have landed since the last look, compacted when it then holds that many small files,
    and VACUUMed at most once per ``maintenance.vacuum_interval`` (its first sweep comes
    one interval after maintenance first sees it). ``maintenance.auto: false`` turns both
    off.
    """
    settings = project.config.maintenance
    if not settings.auto:
        return []
    state = pipeline_state(project)
    options = project.lake.storage_options
    now = time.time()
    chosen: list[tuple[CatalogEntry, dict[str, Any], bool, bool]] = []
    for name in sorted(set(written), key=str):
        for table in (name, quarantine_name(name)):
            uri = dataset_uri(project.lake, project.config.name, table, graph.datasets)
            version = listed_version(uri, options)
            if version is None:
                continue
            marker = state.read(_marker(str(table))) or {}
            if not marker:
                state.write(_marker(str(table)), {"vacuumed_at": now, "looked_at_version": version})
                continue
            looked = int(marker.get("looked_at_version", -1))
            compact = (version - looked >= settings.min_files
                       and small_files(uri, options) >= settings.min_files)
            sweep = now - float(marker.get("vacuumed_at", 0.0)) >= settings.vacuum_interval_seconds
            if version - looked >= settings.min_files or sweep:
                chosen.append((CatalogEntry(str(table), "table", uri, project.config.name), marker, compact, sweep))
    done = []
    protected = _protected(project, graph) if any(sweep for _, _, _, sweep in chosen) else {}
    for entry, marker, compact, sweep in chosen:
        if compact or sweep:
            done.append(_one(project, graph, entry, protected, dry_run=False, optimize=compact, vacuum=sweep))
        marker["looked_at_version"] = listed_version(entry.location, options)
        if sweep:
            marker["vacuumed_at"] = now
        state.write(_marker(entry.name), marker)
    return done


def _maintain(project: Project, graph: Graph, targets: list[CatalogEntry], *, dry_run: bool, optimize: bool,
              vacuum: bool) -> list[Maintained]:
    protected = _protected(project, graph) if vacuum else {}
    state = pipeline_state(project)
    done = []
    for entry in targets:
        done.append(_one(project, graph, entry, protected, dry_run=dry_run, optimize=optimize, vacuum=vacuum))
        if vacuum and not dry_run:
            marker = state.read(_marker(entry.name)) or {}
            state.write(_marker(entry.name), {**marker, "vacuumed_at": time.time()})
    return done


def _one(project: Project, graph: Graph, entry: CatalogEntry, protected: Mapping[str, set[int]], *,
         dry_run: bool, optimize: bool, vacuum: bool) -> Maintained:
    options = project.lake.storage_options
    details = delta.table_details(entry.location, options)
    properties = dict(details.configuration) if details else {}
    properties.update(_defined_properties(graph, entry.name))  # pipelines.* live in the definition
    policy = Policy.from_properties(properties, table=entry.name)
    return maintain_table(entry.name, entry.location, policy, keep_versions=protected.get(_norm(entry.location), ()),
                          optimize=optimize, vacuum=vacuum, dry_run=dry_run, storage_options=options)


def _defined_properties(graph: Graph, name: str) -> dict[str, str]:
    """The TBLPROPERTIES / ``table_properties`` of a pipeline dataset (empty for other tables)."""
    try:
        table = TableName.parse(name, catalog=graph.catalog, schema=graph.schema)
    except DefinitionError:
        return {}
    dataset = graph.datasets.get(table)
    return {str(k): str(v) for k, v in dataset.table_properties.items()} if dataset is not None else {}


def _entries(project: Project, graph: Graph, listed: list[CatalogEntry]) -> list[CatalogEntry]:
    """Every Delta table maintenance looks after (of the catalog's ``listed`` entries), private datasets included."""
    entries = [e for e in listed if e.kind in MAINTAINED_KINDS]
    for name, dataset in graph.datasets.items():
        if dataset.private and dataset.kind != "temporary_view":
            uri = dataset_uri(project.lake, project.config.name, name, graph.datasets)
            entries.append(CatalogEntry(str(name), "private " + dataset.kind.replace("_", " "), uri,
                                        project.config.name))
    return entries


def _targets(project: Project, graph: Graph, tables: Sequence[str]) -> list[CatalogEntry]:
    everything = catalog_entries(project, graph=graph)  # one walk of the lake
    entries = _entries(project, graph, everything)
    options = project.lake.storage_options
    if not tables:
        return [e for e in entries if delta.is_delta_table(e.location, options)]
    chosen = []
    for name in tables:
        entry = find_entry(everything + entries, name, graph)
        if entry.kind not in MAINTAINED_KINDS and not entry.kind.startswith("private"):
            raise UsageError(f"{entry.name} is a {entry.kind}: only Delta tables are maintained")
        if not delta.is_delta_table(entry.location, options):
            raise UsageError(f"{entry.name} has no Delta table yet (run an update first)")
        chosen.append(entry)
    return chosen


def _protected(project: Project, graph: Graph) -> dict[str, set[int]]:
    """Versions VACUUM must keep, per table location: checkpoints' reads and live readers."""
    options = project.lake.storage_options
    keep: dict[str, set[int]] = {}
    state = pipeline_state(project)
    current: dict[str, int | None] = {}
    for key in state.keys("checkpoints"):
        doc = state.read(key) or {}
        for source, offsets in dict(doc.get("sources") or {}).items():
            if not isinstance(offsets, dict) or offsets.get("version") is None:
                continue
            uri = _source_uri(project, graph, str(source))
            if uri is None:
                continue
            norm = _norm(uri)
            if norm not in current:
                current[norm] = delta.table_version(uri, options)
            latest = current[norm]
            if latest is None:
                continue
            # the flow continues with every commit after the version it read
            keep.setdefault(norm, set()).update(range(int(offsets["version"]) + 1, int(latest) + 1))
    for uri, versions in held_versions(project.lake).items():
        keep.setdefault(_norm(uri), set()).update(versions)
    return keep


def _source_uri(project: Project, graph: Graph, key: str) -> str | None:
    """The location of a checkpoint's input key (``table:c.s.t`` or ``delta:<path>``)."""
    kind, _, rest = key.partition(":")
    if kind == "delta":
        return resolve_path(rest, project.root)
    if kind != "table":
        return None
    try:
        name = TableName.parse(rest, catalog=graph.catalog, schema=graph.schema)
    except DefinitionError:
        return None
    return dataset_uri(project.lake, project.config.name, name, graph.datasets)


def _norm(uri: str) -> str:
    return uri.rstrip("/")


def _marker(table: str) -> str:
    return f"{_MARKERS}/{table.lower()}.json"


def summary(done: Maintained) -> str:
    """One line: what maintenance did to a table."""
    if done.skipped:
        return f"{done.table} not maintained: {done.skipped}"
    parts = []
    if done.optimized:
        parts.append(f"{done.optimized} rewrote {plural(done.rewritten_files, 'file')}")
    parts.append(f"VACUUM removed {plural(len(done.vacuumed), 'file')}")
    if done.kept_versions:
        parts.append(f"kept the files of {plural(done.kept_versions, 'version')} readers still need")
    return f"{done.table}: {', '.join(parts)} ({done.files_before} -> {done.files_after} files)"


def as_rows(done: Sequence[Maintained]) -> list[dict[str, Any]]:
    """JSON-ready rows of a maintenance run (``--format json``)."""
    return [
        {"table": d.table, "files_before": d.files_before, "files_after": d.files_after, "optimized": d.optimized,
         "rewritten_files": d.rewritten_files, "vacuumed_files": len(d.vacuumed), "kept_versions": d.kept_versions,
         "skipped": d.skipped}
        for d in done
    ]
