"""Ingest one table: recover, plan, stream rows into a Parquet batch, commit.

Commit protocol (each step durable before the next; a crash anywhere, then a re-run,
delivers every row exactly once):

1. stream ``SELECT ... WHERE cdc >= lower`` into ``bronze/<T>_cdc/_tmp/<file>.tmp``
   (row groups as batches arrive; memory bounded by one batch);
2. write the footer, which embeds the batch manifest, flush and fsync;
3. rename the file into ``bronze/<T>/<T>_<UTC>.parquet`` (now visible to readers);
4. write the manifest ``bronze/<T>_cdc/_manifests/<T>_<UTC>.json``;
5. replace ``bronze/<T>_cdc/cdc.json`` atomically with the new watermark (commit).

Recovery before every run: temp files are deleted (their rows are read again, since the
watermark did not move); a published file whose sequence number is above the committed
one is *adopted*: its manifest is (re)written from the footer and the watermark it
carries is committed. Published files are never deleted, because a reader may already
have consumed them.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from typing import Any

from soundlake.core.clock import utc_now
from soundlake.core.errors import ConfigError
from soundlake.ingest.config import IngestTable
from soundlake.ingest.faults import fault_point
from soundlake.ingest.results import IngestReporter, Mode, TableResult
from soundlake.ingest.watermark import (
    CdcValue,
    DeliveryTracker,
    Watermark,
    format_cdc,
    merged_state,
    parse_cdc,
    skip_delivered,
    to_scalar,
)
from soundlake.lake.bronze import BRONZE, BatchWriter, BronzeTable, batch_file_name
from soundlake.lake.storage import Lake
from soundlake.source.introspect import TableInfo, describe_table
from soundlake.source.reader import ReadRequest, read_batches


@dataclass(frozen=True)
class TableJob:
    """Everything one table's ingestion needs (immutable; one per worker)."""

    lake: Lake
    source_url: str
    spec: IngestTable
    run_id: str
    batch_rows: int
    from_date: str | None = None


@dataclass(frozen=True)
class Plan:
    """What to read: mode, inclusive lower bound and rows to skip at the watermark."""

    mode: Mode
    lower: CdcValue | None
    skip_at: CdcValue | None
    skip: dict[str, int]
    from_date_marker: str | None


def validate(job: TableJob) -> TableInfo:
    """Check that the table and its CDC column exist and suit a watermark.

    Raises:
        ConfigError: naming the unknown table or column.
    """
    info = describe_table(job.source_url, job.spec.schema_, job.spec.table)
    info.cdc_kind(job.spec.cdc_col)
    return info


def recover(bronze: BronzeTable, reporter: IngestReporter) -> tuple[Watermark, list[str]]:
    """Clean temp files and adopt batches published by a run that crashed before commit."""
    table = bronze.table
    removed = bronze.clear_temp()
    if removed:
        reporter.table_note(table, f"removed {removed} unfinished temp file(s)")
    state = Watermark.from_doc(bronze.read_watermark())
    manifests = {m["file"]: m for m in bronze.manifests()}
    pending = [
        m for m in manifests.values() if m.get("origin") == "soundlake" and m["seq"] > state.seq
    ]
    for name in bronze.data_files():
        if name in manifests:
            continue
        footer = bronze.footer_manifest(name)
        if footer is None:  # written by another tool (Data Factory): already delivered there
            bronze.write_manifest({"table": table, "file": name, "origin": "external", "seq": 0})
            continue
        bronze.write_manifest(footer)
        if footer["seq"] > state.seq:
            pending.append(footer)
    if not pending:
        return state, []
    last = max(pending, key=lambda m: m["seq"])
    state = Watermark.from_doc(last["watermark_after"])
    bronze.write_watermark(state.to_doc(committed_at=utc_now().isoformat()))
    adopted = sorted(m["file"] for m in pending)
    reporter.table_note(
        table, f"adopted {len(adopted)} batch(es) of an interrupted run: {', '.join(adopted)}"
    )
    return state, adopted


def plan(job: TableJob, state: Watermark, info: TableInfo) -> Plan:
    """Choose full load, incremental read or backfill (see README "Ingestion")."""
    kind = info.cdc_kind(job.spec.cdc_col)
    if job.from_date is not None:
        lower = parse_cdc(job.from_date, kind, what=f"--from-date for {job.spec.table}")
        return Plan("backfill", lower, None, {}, state.from_date)
    if job.spec.from_date is not None and job.spec.from_date != state.from_date:
        lower = parse_cdc(job.spec.from_date, kind, what=f"from_date of {job.spec.table}")
        return Plan("backfill", lower, None, {}, job.spec.from_date)
    value = state.value(kind)
    if value is None:
        return Plan("full", None, None, {}, state.from_date)
    return Plan("incremental", value, value, dict(state.boundary), state.from_date)


def ingest_table(job: TableJob, reporter: IngestReporter) -> TableResult:
    """Recover, then deliver the table's new rows as one bronze batch and commit.

    Raises:
        ConfigError: unknown table or column, bad ``from_date``.
        TransientError: a retry may cure it (nothing was committed).
        SourceError, StorageError: terminal failures.
    """
    started = time.monotonic()
    table = job.spec.table
    info = validate(job)
    kind = info.cdc_kind(job.spec.cdc_col)
    bronze = BronzeTable(job.lake, table)
    state, adopted = recover(bronze, reporter)
    the_plan = plan(job, state, info)
    reporter.table_started(table, the_plan.mode, state.text)
    cdc_index = [c.name for c in info.columns].index(info.column(job.spec.cdc_col).name)
    tracker = DeliveryTracker(cdc_index)
    writer = _stream(job, info, bronze, the_plan, tracker, reporter)
    files: tuple[str, ...] = ()
    after = state
    if writer is not None:
        seq = max([state.seq, *(int(m.get("seq", 0)) for m in bronze.manifests())]) + 1
        after = merged_state(
            state,
            tracker,
            kind=kind,
            mode=the_plan.mode,
            seq=seq,
            run_id=job.run_id,
            from_date=the_plan.from_date_marker,
        )
        manifest = _manifest(job, info, writer, tracker, the_plan, state, after)
        _commit(bronze, writer, manifest, after, table)
        files = (f"{BRONZE}/{table}/{writer.file_name}",)
    elif the_plan.from_date_marker != state.from_date:
        after = Watermark(
            state.text,
            state.boundary,
            state.seq,
            the_plan.from_date_marker,
            job.run_id,
            state.extra,
        )
        bronze.write_watermark(after.to_doc(committed_at=utc_now().isoformat()))
    return TableResult(
        table=table,
        status="ok",
        rows=tracker.rows,
        files=files,
        watermark_before=state.text,
        watermark_after=after.text,
        seconds=time.monotonic() - started,
        mode=the_plan.mode,
        adopted=tuple(adopted),
        null_cdc_rows=tracker.null_cdc_rows,
    )


def _stream(
    job: TableJob,
    info: TableInfo,
    bronze: BronzeTable,
    the_plan: Plan,
    tracker: DeliveryTracker,
    reporter: IngestReporter,
) -> BatchWriter | None:
    """Read and write the batches; None when no row was delivered (no file is left).

    Reading the next batch overlaps with writing the previous one (a single writer
    thread, at most one batch in flight), so memory holds about two batches.
    """
    request = ReadRequest(info, info.column(job.spec.cdc_col).name, the_plan.lower, job.batch_rows)
    remaining = Counter(the_plan.skip)
    writer: BatchWriter | None = None
    in_flight: Future[None] | None = None
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix=f"write-{info.table}") as pool:
        try:
            for batch in read_batches(request):
                if the_plan.lower is not None:  # exact filter (SQLite text compares loosely)
                    cdc = batch.column(tracker.cdc_index)
                    batch = batch.filter(_ge(cdc, the_plan.lower))
                if the_plan.skip_at is not None and remaining:
                    batch = skip_delivered(batch, tracker.cdc_index, the_plan.skip_at, remaining)
                if batch.num_rows == 0:
                    continue
                if writer is None:
                    writer = bronze.open_batch(batch_file_name(info.table), info.arrow_schema)
                if in_flight is not None:
                    in_flight.result()
                in_flight = pool.submit(writer.write, batch)
                tracker.update(batch)
                reporter.table_progress(info.table, tracker.rows)
                fault_point("query", info.table)
            if in_flight is not None:
                in_flight.result()
        except BaseException:
            if in_flight is not None:
                in_flight.cancel()
                wait([in_flight])
            if writer is not None:
                writer.abort()
            raise
    return writer


def _ge(cdc: Any, lower: CdcValue) -> Any:
    import pyarrow.compute as pc

    return pc.greater_equal(cdc, to_scalar(lower, cdc.type))


def _manifest(
    job: TableJob,
    info: TableInfo,
    writer: BatchWriter,
    tracker: DeliveryTracker,
    the_plan: Plan,
    before: Watermark,
    after: Watermark,
) -> dict[str, Any]:
    now = utc_now().isoformat()
    return {
        "origin": "soundlake",
        "table": info.table,
        "file": writer.file_name,
        "path": f"{BRONZE}/{info.table}/{writer.file_name}",
        "seq": after.seq,
        "run_id": job.run_id,
        "rows": tracker.rows,
        "null_cdc_rows": tracker.null_cdc_rows,
        "cdc_col": job.spec.cdc_col,
        "min_cdc": None if tracker.min is None else format_cdc(tracker.min),
        "max_cdc": None if tracker.max is None else format_cdc(tracker.max),
        "mode": the_plan.mode,
        "lower_bound": None if the_plan.lower is None else format_cdc(the_plan.lower),
        "watermark_before": before.text,
        "watermark_after": after.to_doc(committed_at=now),
        "written_at": now,
        "columns": [
            {"name": c.name, "sql_type": c.sql_type, "arrow_type": str(c.arrow_type)}
            for c in info.columns
        ],
    }


def _commit(
    bronze: BronzeTable, writer: BatchWriter, manifest: dict[str, Any], after: Watermark, table: str
) -> None:
    try:
        writer.finish(manifest)
    except BaseException:
        writer.abort()
        raise
    fault_point("before_rename", table)
    writer.publish()
    fault_point("before_manifest", table)
    bronze.write_manifest(manifest)
    fault_point("before_watermark", table)
    bronze.write_watermark(
        manifest["watermark_after"], before_replace=lambda: fault_point("watermark_write", table)
    )


def check_known_tables(specs: list[IngestTable], names: list[str] | None) -> list[IngestTable]:
    """The specs named in ``names`` (all when None).

    Raises:
        ConfigError: naming a table that is not in ``ingest.tables``.
    """
    if not names:
        return list(specs)
    by_name = {s.table.lower(): s for s in specs}
    chosen = []
    for name in names:
        spec = by_name.get(name.lower())
        if spec is None:
            known = ", ".join(s.table for s in specs) or "none configured"
            raise ConfigError(f"table '{name}' is not in ingest.tables (tables: {known})")
        chosen.append(spec)
    return chosen
