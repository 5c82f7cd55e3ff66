"""Rename a pipeline explicitly: move its state and hand its tables to the new name.

A table belongs to the pipeline named by its newest pipeline commit, and pipeline state
lives under ``_soundlake/pipelines/<name>/``; changing ``name:`` in ``soundlake.yml``
alone therefore makes the next update refuse the tables (it would otherwise reprocess
everything into them). ``soundlake rename-pipeline OLD NEW`` (with ``name: NEW``
already in ``soundlake.yml``) moves the state folder and writes one empty commit per
table that names the new pipeline and carries the flows' app transactions under the new
name, so the next update continues exactly where the old name stopped.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from soundlake.catalog.names import TableName
from soundlake.catalog.state import StateStore, move_state, state_exists
from soundlake.core.errors import ConfigError, StorageError
from soundlake.lake.delta_log import claim_table, inspect_table
from soundlake.pipeline.context import quarantine_name
from soundlake.project.context import Project
from soundlake.project.pipeline_ops import load_graph, writer_lock


@dataclass
class RenameResult:
    """What a rename did: the state folder moved and the tables handed over."""

    old: str
    new: str
    state_moved: bool = False
    tables: list[str] = field(default_factory=list)


def rename_pipeline(project: Project, old: str, new: str) -> RenameResult:
    """Rename pipeline ``old`` to ``new`` (the name ``soundlake.yml`` now gives).

    Raises:
        ConfigError: when ``new`` is not the project's name, or ``old`` equals it.
        StorageError: when ``new`` already has checkpoints, or nothing belongs to ``old``.
    """
    if new != project.config.name:
        raise ConfigError(
            f"rename-pipeline: soundlake.yml names the pipeline '{project.config.name}', not '{new}'",
            hint=f"set name: {new} in soundlake.yml first, then run `soundlake rename-pipeline {old} {new}`",
        )
    if old == new:
        raise ConfigError(f"rename-pipeline: the old and the new name are both '{new}'")
    lake = project.lake
    graph = load_graph(project)
    result = RenameResult(old, new)
    with writer_lock(project):
        source, target = StateStore(lake, old), StateStore(lake, new)
        if state_exists(target):
            if any(True for _ in target.keys("checkpoints")):
                raise StorageError(
                    f"rename-pipeline: pipeline '{new}' already has state at {target.root}; "
                    f"nothing was changed",
                    hint="rename to a name that has never run, or remove that folder if it is unused",
                )
            # only the event log of updates that were refused: it holds nothing of value
            target.delete_tree("event_log")
            target.delete_tree(".")
        flows: dict[TableName, list[str]] = {}
        for name in graph.order:
            node = graph.flows[name]
            if graph.datasets[node.target].kind != "temporary_view":
                flows.setdefault(node.target, []).append(name)
        claims: list[tuple[str, dict[str, int]]] = []
        for table, names in sorted(flows.items()):
            for each in (table, quarantine_name(table)):
                uri = lake.uri(*each.parts)
                log = inspect_table(uri, [f"{old}:{n}" for n in names], lake.storage_options)
                if log.exists and log.owner == old:
                    txns = {f"{new}:{n}": log.transactions[f"{old}:{n}"] for n in names if f"{old}:{n}" in log.transactions}
                    claims.append((uri, txns))
                    result.tables.append(str(each))
        if not claims and not state_exists(source):
            raise StorageError(
                f"rename-pipeline: no state and no table of pipeline '{old}' found; nothing was changed"
            )
        # tables first, then the state: a rename interrupted in between is finished by
        # running it again (the tables already name the new pipeline, the state moves)
        meta = {"reason": "rename-pipeline", "renamed_from": old}
        for uri, txns in claims:
            claim_table(uri, new, txns, metadata=meta, storage_options=lake.storage_options)
        if state_exists(source):
            move_state(source, target)
            result.state_moved = True
    return result
