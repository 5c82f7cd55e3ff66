"""Ingest one table: recover, plan, stream rows into a Parquet batch, commit.

Commit protocol (each step durable before the next; a crash anywhere, then a re-run,
delivers every row exactly once):

1. stream ``SELECT ... WHERE cdc >= lower`` into ``bronze/<T>_cdc/_tmp/<file>.tmp``
   (row groups as batches arrive; memory bounded by one batch);
1b. with a look-back window: write the new window set under a new sidecar name
   (``bronze/<T>_cdc/_fingerprints/``), not yet referenced by ``cdc.json``; with
   ``deletes: true``, append the delete events and write the delivered-key sidecar
   (``bronze/<T>_cdc/_keys/``) the same way;
2. write the footer, which embeds the batch manifest, flush and fsync;
3. rename the file into ``bronze/<T>/<T>_<UTC>.parquet`` (now visible to readers);
4. write the manifest ``bronze/<T>_cdc/_manifests/<T>_<UTC>.json``;
5. replace ``bronze/<T>_cdc/cdc.json`` atomically with the new watermark (commit);
6. delete window and key sidecars that ``cdc.json`` does not name.

What is read and skipped: see ``ingest.watermark`` (tie boundary), ``ingest.window``
(look-back), ``ingest.special`` (NULL and future CDC values), ``ingest.delivered``
(backfills), ``ingest.evolution`` (schema changes) and ``ingest.deletes``.

Recovery before every run: temp files are deleted (their rows are read again, since the
watermark did not move); a published file whose sequence number is above the committed
one is *adopted*: its manifest is (re)written from the footer and the watermark it
carries is committed (the sidecar it names was written before the file was finished).
Published files are never deleted, because a reader may already have consumed them.
"""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field, replace
from typing import Any

import pyarrow as pa

from soundlake.core.clock import utc_now, utc_stamp
from soundlake.core.errors import ConfigError, StorageError
from soundlake.ingest.config import IngestTable, check_table_names
from soundlake.ingest.deletes import (
    compare,
    delete_events,
    key_columns,
    known_keys,
    source_keys,
    with_flag,
    write_schema,
)
from soundlake.ingest.delivered import bronze_hashes, hex_counts
from soundlake.ingest.evolution import prefix_width, previous_columns, schema_changes
from soundlake.ingest.faults import fault_point
from soundlake.ingest.results import IngestReporter, Mode, TableResult
from soundlake.ingest.special import SpecialRows, future_limit
from soundlake.ingest.watermark import (
    CdcKind,
    CdcValue,
    DeliveryTracker,
    Watermark,
    format_cdc,
    merged_state,
    parse_cdc,
    skip_delivered,
    to_scalar,
)
from soundlake.ingest.window import (
    HASH_NAME,
    LookbackValue,
    WindowFilter,
    WindowTracker,
    combine_sets,
    empty_set,
    lookback_value,
    since_filter,
    window_start,
)
from soundlake.lake.bronze import BRONZE, KEYS_DIR, BatchWriter, BronzeTable, batch_file_name
from soundlake.lake.storage import Lake
from soundlake.source.dialects import Timeouts
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
    lookback: str = "0"
    timeouts: Timeouts = field(default_factory=Timeouts)
    future_tolerance: str = "1d"
    described: TableInfo | None = None
    """The table as :func:`validate` found it before the workers started (None: not yet).

    On SQLite the description goes through Python's ``sqlite3`` and the rows through
    ADBC's own copy of SQLite. Two copies of SQLite must never have one database open at
    the same time in one process (each ignores the other's locks and WAL index: a crash
    or a corrupt read; sqlite.org/howtocorrupt.html 2.2.1), so the runner describes every
    table before any worker reads and the workers reuse it.
    """


@dataclass(frozen=True)
class Plan:
    """What to read: mode, inclusive lower bound and rows to skip.

    Attributes:
        skip_at, skip: Rows delivered at exactly the watermark, by JSON fingerprint (the
            tie boundary of runs without a look-back window).
        windowed: True when a look-back window set is kept (``lookback`` > 0, or a
            window already exists).
        covered: Lowest CDC value from which every delivered row is in the window set
            after this run's read (None: every value, as after a full load).
        window_set: The committed window set (None when not windowed).
        delivered: For a backfill, ``(cdc, hash)`` of the committed bronze rows at or
            after its lower bound: re-read rows found there are not delivered again.
    """

    mode: Mode
    lower: CdcValue | None
    skip_at: CdcValue | None
    skip: dict[str, int]
    from_date_marker: str | None
    lookback: LookbackValue | None = None
    windowed: bool = False
    covered: CdcValue | None = None
    window_set: pa.Table | None = None
    delivered: pa.Table | None = None


def validate(job: TableJob) -> TableInfo:
    """Check that the table and its CDC column exist and suit a watermark.

    Raises:
        ConfigError: naming the unknown table or column.
    """
    info = describe_table(job.source_url, job.spec.schema_, job.spec.table, job.timeouts)
    lookback_value(job.lookback, info.cdc_kind(job.spec.cdc_col), job.spec.table)
    if job.spec.deletes:
        key_columns(job.spec, info, info.cdc_kind(job.spec.cdc_col))
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
        bronze.prune_fingerprints(_sidecar(state))
        bronze.prune_fingerprints(_keys_file(state), KEYS_DIR)
        return state, []
    last = max(pending, key=lambda m: m["seq"])
    state = Watermark.from_doc(last["watermark_after"])
    bronze.write_watermark(state.to_doc(committed_at=utc_now().isoformat()))
    bronze.prune_fingerprints(_sidecar(state))
    bronze.prune_fingerprints(_keys_file(state), KEYS_DIR)
    adopted = sorted(m["file"] for m in pending)
    reporter.table_note(
        table, f"adopted {len(adopted)} batch(es) of an interrupted run: {', '.join(adopted)}"
    )
    return state, adopted


def _keys_file(state: Watermark) -> str | None:
    return None if state.keys is None else state.keys.get("file")


def _sidecar(state: Watermark) -> str | None:
    return None if state.window is None else state.window.get("fingerprints")


def plan(
    job: TableJob,
    state: Watermark,
    info: TableInfo,
    bronze: BronzeTable,
    notes: list[str] | None = None,
) -> Plan:
    """Choose full load, incremental read or backfill (see README "Ingestion").

    ``notes`` receives what the user should know (a window set rebuilt from bronze).
    """
    kind = info.cdc_kind(job.spec.cdc_col)
    lookback = lookback_value(job.lookback, kind, job.spec.table)
    windowed = lookback is not None or state.window is not None
    window_set = None
    if windowed:
        window_set = _window_set(bronze, state, info, job.spec.cdc_col, notes)
    since = _since(state, kind)
    marker = state.from_date
    mode: Mode
    if job.from_date is not None or (
        job.spec.from_date is not None and job.spec.from_date != state.from_date
    ):
        if job.from_date is not None:
            lower = parse_cdc(job.from_date, kind, what=f"--from-date for {job.spec.table}")
        else:
            assert job.spec.from_date is not None
            lower = parse_cdc(job.spec.from_date, kind, what=f"from_date of {job.spec.table}")
            marker = job.spec.from_date
        covered = lower if since is None else min(lower, since)
        cdc_name = info.column(job.spec.cdc_col).name
        delivered = bronze_hashes(bronze, info.arrow_schema, cdc_name, lower)
        return Plan(
            "backfill", lower, None, {}, marker, lookback, windowed, covered, window_set, delivered
        )
    value = state.value(kind)
    if value is None:
        return Plan("full", None, None, {}, marker, lookback, windowed, None, window_set)
    mode, lower = "incremental", value
    if windowed:
        assert since is not None
        lower = max(window_start(value, lookback), since)
    return Plan(
        mode, lower, value, dict(state.boundary), marker, lookback, windowed, lower, window_set
    )


def _since(state: Watermark, kind: CdcKind) -> CdcValue | None:
    """From where the committed window set is complete.

    A ``cdc.json`` without a window (written before the window was enabled, or by Data
    Factory) covers only the watermark value itself: the window then grows as the
    watermark moves on, instead of re-delivering rows of the past ``lookback``.
    """
    window = state.window or {}
    if window.get("since") is not None and window.get("hash") == HASH_NAME:
        return parse_cdc(str(window["since"]), kind, what="window start in cdc.json")
    return state.value(kind)


def _window_set(
    bronze: BronzeTable,
    state: Watermark,
    info: TableInfo,
    cdc_col: str,
    notes: list[str] | None = None,
) -> pa.Table:
    """The committed window set; rebuilt from bronze when its sidecar is missing or corrupt.

    Bronze holds every delivered row, so hashing its rows from the window start gives the
    set the sidecar held (rows of other writers included, which only prevents repeats).
    """
    cdc = info.column(cdc_col)
    name = _sidecar(state)
    if name is None or (state.window or {}).get("hash") != HASH_NAME:
        return empty_set(cdc.arrow_type)
    try:
        return bronze.read_fingerprints(name).cast(empty_set(cdc.arrow_type).schema)
    except (StorageError, pa.ArrowInvalid, KeyError) as exc:
        if notes is not None:
            notes.append(
                f"look-back fingerprints {name} unreadable ({type(exc).__name__}): "
                "rebuilt from the committed bronze rows"
            )
        since = _since(state, info.cdc_kind(cdc_col))
        return bronze_hashes(bronze, info.arrow_schema, cdc.name, since).cast(
            empty_set(cdc.arrow_type).schema
        )


def ingest_table(job: TableJob, reporter: IngestReporter) -> TableResult:
    """Recover, then deliver the table's new rows as one bronze batch and commit.

    Raises:
        ConfigError: unknown table or column, bad ``from_date``.
        TransientError: a retry may cure it (nothing was committed).
        SourceError, StorageError: terminal failures.
    """
    started = time.monotonic()
    table = job.spec.table
    info = job.described or validate(job)
    kind = info.cdc_kind(job.spec.cdc_col)
    bronze = BronzeTable(job.lake, table)
    state, adopted = recover(bronze, reporter)
    previous = previous_columns(bronze)
    evolution = schema_changes(table, info, previous)
    cdc_name = info.column(job.spec.cdc_col).name
    notes: list[str] = []
    the_plan = plan(job, state, info, bronze, notes)
    for note in notes:
        reporter.table_note(table, note)
    reporter.table_started(table, the_plan.mode, state.text)
    cdc_index = [c.name for c in info.columns].index(cdc_name)
    tracker = DeliveryTracker(cdc_index, boundary=not the_plan.windowed)
    prefix = prefix_width(info, previous)
    window = _window_parts(the_plan, cdc_index, info.column(cdc_name).arrow_type, prefix)
    special = SpecialRows(
        cdc_index,
        future_limit(kind, job.future_tolerance, utc_now()),
        known_nulls=_known_nulls(bronze, state, info, cdc_name),
        known_future=state.future,
    )
    dedupe = None
    if the_plan.delivered is not None and window is None:
        dedupe = WindowFilter(cdc_index, the_plan.delivered)
    keys = key_columns(job.spec, info, kind) if job.spec.deletes else None
    sink = Sink(write_schema(info) if keys else info.arrow_schema, keys)
    writer = _stream(job, info, bronze, the_plan, tracker, reporter, window, special, dedupe, sink)
    deleted = 0
    keys_doc: dict[str, Any] | None = None
    if keys is not None:
        writer, deleted, alive = _deletes(job, info, bronze, state, keys, kind, sink, writer)
        if writer is not None:
            keys_doc = {"file": f"{table}_{utc_stamp()}.parquet", "rows": alive.num_rows}
            keys_doc["columns"] = keys
            bronze.write_fingerprints(keys_doc["file"], alive, KEYS_DIR)
    files: tuple[str, ...] = ()
    after = state
    if writer is not None:
        seq = max([state.seq, *(int(m.get("seq", 0)) for m in bronze.manifests())]) + 1
        after = merged_state(
            state,
            tracker,
            kind=kind,
            mode="incremental",  # every run delivers only rows not delivered yet
            seq=seq,
            run_id=job.run_id,
            from_date=the_plan.from_date_marker,
        )
        after = replace(after, nulls=special.next_nulls(), future=special.next_future())
        if keys_doc is not None:
            after = replace(after, keys=keys_doc)
        if window is not None:
            after = _next_window(job, bronze, the_plan, window, after, kind)
            fault_point("fingerprints", table)
        manifest = _manifest(job, info, writer, tracker, the_plan, state, after)
        manifest.update(
            rows=tracker.rows,
            null_cdc_rows=special.null_rows,
            future_rows=special.future_rows,
            future_max_cdc=None if special.future_max is None else format_cdc(special.future_max),
            future_tolerance=job.future_tolerance,
            reread_rows=tracker.read_rows,
            schema_evolution=evolution,
            deleted_rows=deleted,
        )
        manifest["rows"] = writer.rows  # every row of the file, delete events included
        _commit(bronze, writer, manifest, after, table)
        if window is not None:
            fault_point("before_cleanup", table)
            bronze.prune_fingerprints(_sidecar(after))
        if keys_doc is not None:
            bronze.prune_fingerprints(keys_doc["file"], KEYS_DIR)
        files = (f"{BRONZE}/{table}/{writer.file_name}",)
    elif the_plan.from_date_marker != state.from_date:
        after = replace(state, from_date=the_plan.from_date_marker, run_id=job.run_id)
        bronze.write_watermark(after.to_doc(committed_at=utc_now().isoformat()))
    warnings = _warnings(table, special, evolution, the_plan, tracker)
    for warning in warnings:
        reporter.table_note(table, warning)
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
        null_cdc_rows=special.null_rows,
        future_rows=special.future_rows,
        deleted_rows=deleted,
        reread_rows=tracker.read_rows,
        schema_evolution=tuple(evolution),
        warnings=warnings,
    )


def _warnings(
    table: str,
    special: SpecialRows,
    evolution: list[dict[str, Any]],
    the_plan: Plan,
    tracker: DeliveryTracker,
) -> tuple[str, ...]:
    """What the run tells the user beside the row count (each a one-line warning)."""
    out: list[str] = []
    if special.future_rows:
        top = "" if special.future_max is None else format_cdc(special.future_max)
        out.append(
            f"WARNING {special.future_rows} row(s) dated beyond now + future_tolerance "
            f"(up to {top}) delivered; they do not move the watermark: check the source's "
            "clock or the values of the CDC column"
        )
    if special.null_rows:
        out.append(f"{special.null_rows} row(s) with a NULL CDC value delivered")
    for event in evolution:
        change = event["change"]
        detail = f"{event.get('from', '')} -> {event.get('to', '')}".strip(" ->")
        out.append(f"schema evolution: column '{event['column']}' {change} ({detail})")
    if the_plan.mode == "backfill":
        out.append(
            f"backfill re-read {tracker.read_rows} row(s), delivered {tracker.rows} not yet in "
            "bronze"
        )
    return tuple(out)


@dataclass
class Sink:
    """How batches are written: the file schema, and the keys delivered (with deletes)."""

    schema: pa.Schema
    keys: list[str] | None = None
    delivered: list[pa.Table] = field(default_factory=list)

    def prepare(self, batch: pa.RecordBatch) -> pa.RecordBatch:
        """``batch`` in the file schema (``_deleted`` NULL), its keys remembered."""
        if self.keys is None:
            return batch
        self.delivered.append(pa.Table.from_batches([batch]).select(self.keys))
        return with_flag(batch, self.schema)


def _deletes(
    job: TableJob,
    info: TableInfo,
    bronze: BronzeTable,
    state: Watermark,
    keys: list[str],
    kind: CdcKind,
    sink: Sink,
    writer: BatchWriter | None,
) -> tuple[BatchWriter | None, int, pa.Table]:
    """Compare key sets and append the delete events to the batch (see ``ingest.deletes``)."""
    known = known_keys(bronze, info, keys, _keys_file(state))
    delivered = pa.concat_tables(
        [known.slice(0, 0), *(t.cast(known.schema) for t in sink.delivered)]
    )
    gone, alive = compare(known, delivered, source_keys(info, keys, job.batch_rows), keys)
    if gone.num_rows == 0:
        return writer, 0, alive
    events = delete_events(gone, sink.schema, info.column(job.spec.cdc_col).name, kind, utc_now())
    if writer is None:
        writer = bronze.open_batch(batch_file_name(info.table), sink.schema)
    try:
        writer.write(events)
    except BaseException:
        writer.abort()
        raise
    return writer, events.num_rows, alive


def _known_nulls(
    bronze: BronzeTable, state: Watermark, info: TableInfo, cdc_name: str
) -> dict[str, int]:
    """The delivered NULL-CDC rows (seeded from bronze for a state older than the set)."""
    if state.nulls is not None or state.text is None:
        return dict(state.nulls or {})
    return hex_counts(
        bronze_hashes(bronze, info.arrow_schema, cdc_name, None, nulls=True).column("fp").to_numpy()
    )


Window = tuple[WindowFilter, WindowTracker]


def _window_parts(
    the_plan: Plan, cdc_index: int, cdc_type: pa.DataType, prefix: int | None = None
) -> Window | None:
    """The filter and tracker of a windowed run (None without a window)."""
    if not the_plan.windowed or the_plan.window_set is None:
        return None
    known = empty_set(cdc_type)
    if the_plan.mode == "incremental":
        known = since_filter(the_plan.window_set, the_plan.lower)
    elif the_plan.delivered is not None:  # a backfill: what bronze holds from its bound
        known = the_plan.delivered.cast(known.schema)
    legacy_at = the_plan.skip_at if the_plan.skip else None
    window_filter = WindowFilter(
        cdc_index, known, legacy_at=legacy_at, legacy=the_plan.skip, prefix=prefix
    )
    return window_filter, WindowTracker(cdc_type, the_plan.lookback)


def _next_window(
    job: TableJob,
    bronze: BronzeTable,
    the_plan: Plan,
    window: Window,
    after: Watermark,
    kind: CdcKind,
) -> Watermark:
    """Write the window set of ``after`` to a new sidecar and name it in the state."""
    window_filter, tracker = window
    for cdc, fps in window_filter.carried:
        tracker.add(cdc, fps)
    top = after.value(kind)
    since: CdcValue | None = None
    if top is not None:
        since = window_start(top, the_plan.lookback)
        if the_plan.covered is not None:
            since = max(since, the_plan.covered)
    assert the_plan.window_set is not None
    entries = combine_sets(
        since_filter(the_plan.window_set, since),
        since_filter(tracker.entries(), since),
        mode="incremental",  # the run delivered only rows not in the set (or bronze)
    )
    name = f"{job.spec.table}_{after.seq:08d}_{utc_stamp()}.parquet"
    bronze.write_fingerprints(name, entries)
    state = {
        "lookback": job.lookback,
        "since": None if since is None else format_cdc(since),
        "fingerprints": name,
        "rows": entries.num_rows,
        "hash": HASH_NAME,
    }
    return replace(after, boundary={}, window=state)


def _stream(
    job: TableJob,
    info: TableInfo,
    bronze: BronzeTable,
    the_plan: Plan,
    tracker: DeliveryTracker,
    reporter: IngestReporter,
    window: Window | None = None,
    special: SpecialRows | None = None,
    dedupe: WindowFilter | None = None,
    sink: Sink | None = None,
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
                tracker.read_rows += batch.num_rows
                extra = None
                if special is not None:
                    batch, extra = special.split(batch)
                if window is not None:
                    batch, fps = window[0].apply(batch)
                elif dedupe is not None:
                    batch, _ = dedupe.apply(batch)
                elif the_plan.skip_at is not None and remaining:
                    batch = skip_delivered(batch, tracker.cdc_index, the_plan.skip_at, remaining)
                out = batch if extra is None else _concat(batch, extra)
                if out.num_rows == 0:
                    continue
                schema = info.arrow_schema if sink is None else sink.schema
                if writer is None:
                    writer = bronze.open_batch(batch_file_name(info.table), schema)
                if in_flight is not None:
                    in_flight.result()
                in_flight = pool.submit(writer.write, out if sink is None else sink.prepare(out))
                tracker.update(batch)
                tracker.rows += out.num_rows - batch.num_rows
                if window is not None:
                    window[1].add(batch.column(tracker.cdc_index), fps)
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
    """Rows at or after ``lower``, and rows with a NULL CDC value (always read)."""
    import pyarrow.compute as pc

    return pc.fill_null(pc.greater_equal(cdc, to_scalar(lower, cdc.type)), True)


def _concat(first: pa.RecordBatch, second: pa.RecordBatch) -> pa.RecordBatch:
    if first.num_rows == 0:
        return second
    table = pa.Table.from_batches([first, second.cast(first.schema)])
    return table.combine_chunks().to_batches()[0]


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
        "lookback": job.lookback,
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
    """The specs named in ``names`` (all when None), each once, in the order first named.

    Raises:
        ConfigError: naming a table that is not in ``ingest.tables`` or is not a safe name.
    """
    if not names:
        return list(specs)
    by_name = {s.table.lower(): s for s in specs}
    chosen: list[IngestTable] = []
    for name in check_table_names(names):
        spec = by_name.get(name.lower())
        if spec is None:
            known = ", ".join(s.table for s in specs) or "none configured"
            raise ConfigError(f"table '{name}' is not in ingest.tables (tables: {known})")
        if all(spec is not other for other in chosen):
            chosen.append(spec)
    return chosen
