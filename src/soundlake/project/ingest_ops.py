"""``soundlake ingest`` and ingestion status: the project-level facade over ``ingest``."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundlake.catalog.lock import ProjectLock
from soundlake.ingest.results import IngestReporter, IngestResult
from soundlake.ingest.runner import run_tables
from soundlake.ingest.table import check_known_tables
from soundlake.ingest.watermark import Watermark
from soundlake.lake.bronze import BronzeTable, committed_batch_files
from soundlake.project.context import Project
from soundlake.source.dialects import Timeouts


def run_ingest(
    project: Project,
    tables: list[str] | None = None,
    from_date: str | None = None,
    reporter: IngestReporter | None = None,
) -> IngestResult:
    """Ingest the project's ``ingest.tables`` (or the named ones) into bronze.

    Args:
        project: The loaded project.
        tables: Table names to ingest (default: every configured table).
        from_date: Backfill start applied to every selected table for this run.
        reporter: Receives progress (default: none).

    Raises:
        ConfigError: an unknown table name, table or column in the source, or a bad date.
        LockedError: another ``soundlake ingest`` of this project is running.
    """
    config = project.config
    specs = check_known_tables(list(config.ingest.tables), tables)
    with ingest_lock(project):
        return run_tables(
            project.lake,
            project.source_url,
            config.ingest,
            pipeline=config.name,
            tables=specs,
            from_date=from_date,
            reporter=reporter,
            timeouts=Timeouts(config.source.connect_timeout, config.source.read_timeout),
        )


def ingest_lock(project: Project) -> ProjectLock:
    """One ingestion at a time per lake (separate from the pipeline's writer lock)."""
    if project.lake.is_local:
        path = Path(project.lake.uri("_soundlake", "ingest_lock.json"))
    else:
        path = project.root / ".soundlake" / "ingest_lock.json"
    return ProjectLock(path, what=f"ingestion of project '{project.config.name}'")


@dataclass(frozen=True)
class TableIngestStatus:
    """The bronze state of one configured table.

    Attributes:
        table: Source table name.
        watermark: ``cdc`` of ``cdc.json`` (None before the first load).
        committed_files: Lake-relative paths of committed batch files.
        manifests: Manifests of the table's batches, oldest first.
        rows: Rows in the committed soundlake batches.
        pending: Files published by a crashed run, adopted by the next ingest.
    """

    table: str
    watermark: str | None
    committed_files: tuple[str, ...]
    manifests: tuple[dict[str, Any], ...]
    rows: int
    pending: tuple[str, ...]


def ingest_status(project: Project) -> list[TableIngestStatus]:
    """The bronze state (watermark, batches, manifests) of every configured table."""
    statuses = []
    for spec in project.config.ingest.tables:
        bronze = BronzeTable(project.lake, spec.table)
        state = Watermark.from_doc(bronze.read_watermark())
        manifests = tuple(bronze.manifests())
        committed = tuple(committed_batch_files(project.lake, spec.table))
        names = {path.rsplit("/", 1)[-1] for path in committed}
        rows = sum(int(m.get("rows", 0)) for m in manifests if m.get("file") in names)
        pending = tuple(f for f in bronze.data_files() if f not in names)
        statuses.append(
            TableIngestStatus(spec.table, state.text, committed, manifests, rows, pending)
        )
    return statuses
