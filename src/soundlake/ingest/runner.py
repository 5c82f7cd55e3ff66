"""Run the table list: a bounded worker pool, retries with backoff, an alert on failure.

Each table is an independent job (its own connection, watermark and files; nothing
mutable is shared between workers). A transient error (connection drop, lock) is
retried with exponential backoff up to ``ingest.retries`` attempts; any other error
fails the table at once. A failing table never stops the others.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import replace

from soundlake.core.errors import ConfigError, SoundlakeError, TransientError
from soundlake.core.ids import new_run_id
from soundlake.core.memory import prefer_system_allocator, release_freed_memory
from soundlake.ingest.alert import alert_payload, post_alert
from soundlake.ingest.config import IngestConfig, IngestTable
from soundlake.ingest.results import IngestReporter, IngestResult, NullReporter, TableResult
from soundlake.ingest.table import TableJob, ingest_table, validate
from soundlake.lake.storage import Lake
from soundlake.source.dialects import Timeouts

MAX_BACKOFF_SECONDS = 30.0


def run_tables(
    lake: Lake,
    source_url: str,
    config: IngestConfig,
    *,
    pipeline: str,
    tables: list[IngestTable] | None = None,
    from_date: str | None = None,
    reporter: IngestReporter | None = None,
    run_id: str | None = None,
    timeouts: Timeouts | None = None,
) -> IngestResult:
    """Ingest ``tables`` (default: all of ``config.tables``) in parallel.

    Configuration errors (unknown table or column) are raised before any table runs,
    so a typo never leaves a half-done run.

    Raises:
        ConfigError: naming the unknown table or column.
    """
    started = time.monotonic()
    prefer_system_allocator()  # freed batches go back to one heap, not per-thread segments
    reporter = reporter or NullReporter()
    run_id = run_id or new_run_id()
    specs = _unique(list(config.tables if tables is None else tables))
    jobs = [
        TableJob(
            lake,
            source_url,
            spec,
            run_id,
            config.batch_rows,
            from_date,
            lookback=config.lookback_of(spec),
            timeouts=timeouts or Timeouts(),
            future_tolerance=config.future_tolerance,
        )
        for spec in specs
    ]
    jobs = _validate_all(jobs)
    workers = max(1, min(config.workers, len(jobs) or 1))
    with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="ingest") as pool:
        futures = [pool.submit(_with_retries, job, config, reporter) for job in jobs]
        results = tuple(f.result() for f in futures)
    release_freed_memory()  # the batches of every table are gone: give their pages back
    alert_sent, alert_error = False, None
    if config.alert_url and any(r.status == "failed" for r in results):
        alert_error = post_alert(config.alert_url, alert_payload(pipeline, run_id, results))
        alert_sent = alert_error is None
    return IngestResult(
        run_id, pipeline, results, alert_sent, alert_error, time.monotonic() - started
    )


def _unique(specs: list[IngestTable]) -> list[IngestTable]:
    """Each bronze folder once: two jobs for one table would write it in parallel.

    Raises:
        ConfigError: when two different entries name the same table.
    """
    chosen: dict[str, IngestTable] = {}
    for spec in specs:
        other = chosen.get(spec.table.lower())
        if other is None:
            chosen[spec.table.lower()] = spec
        elif other != spec:
            raise ConfigError(
                f"table '{spec.table}' is listed twice with different settings: remove one entry"
            )
    return list(chosen.values())


def _validate_all(jobs: list[TableJob]) -> list[TableJob]:
    """Describe every table before any worker reads (see ``TableJob.described``)."""
    described = []
    for job in jobs:
        try:
            described.append(replace(job, described=validate(job)))
        except ConfigError:
            raise
        except SoundlakeError:
            described.append(job)  # an unreachable source fails the table itself (and sends the alert)
    return described


def _with_retries(job: TableJob, config: IngestConfig, reporter: IngestReporter) -> TableResult:
    started = time.monotonic()
    table = job.spec.table
    attempt = 0
    while True:
        attempt += 1
        try:
            result = replace(ingest_table(job, reporter), attempts=attempt)
            result = replace(result, seconds=time.monotonic() - started)
            break
        except TransientError as exc:
            if attempt >= config.retries:
                result = _failed(table, str(exc), attempt, started)
                break
            delay = min(MAX_BACKOFF_SECONDS, config.backoff_seconds * 2 ** (attempt - 1))
            reporter.table_retry(table, attempt, str(exc), delay)
            time.sleep(delay)
        except SoundlakeError as exc:
            result = _failed(table, str(exc), attempt, started)
            break
        except Exception as exc:  # noqa: BLE001 (an unexpected bug must not stop the other tables)
            result = _failed(table, f"{type(exc).__name__}: {exc}", attempt, started)
            break
    reporter.table_finished(result)
    return result


def _failed(table: str, error: str, attempts: int, started: float) -> TableResult:
    return TableResult(
        table=table,
        status="failed",
        error=error,
        attempts=attempts,
        seconds=time.monotonic() - started,
    )
