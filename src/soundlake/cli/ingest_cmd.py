"""``soundlake ingest``: source tables to bronze Parquet, with progress and a summary."""

from __future__ import annotations

import dataclasses
import threading
from typing import Any

import typer
from rich.console import Console
from rich.progress import (
    BarColumn,
    Progress,
    SpinnerColumn,
    TaskID,
    TextColumn,
    TimeElapsedColumn,
)
from rich.table import Table
from rich.text import Text
from typing_extensions import Self

from soundlake.cli.common import (
    SafeConsole,
    check_format,
    console,
    format_option,
    open_project,
    print_json,
    printable,
    styled,
)
from soundlake.core.secrets import mask_secrets
from soundlake.core.text import plural
from soundlake.ingest.results import IngestResult, Mode, TableResult


def _check_from_date(value: str | None) -> str | None:
    """``--from-date``: an ISO date/timestamp or an integer, refused before any table runs."""
    if value is None:
        return None
    from soundlake.core.errors import ConfigError
    from soundlake.ingest.watermark import parse_cdc

    for kind in ("integer", "timestamp"):
        try:
            parse_cdc(value, kind)
            return value
        except ConfigError:
            continue
    raise typer.BadParameter(f"'{value}' is not a date, timestamp or integer (for example 2026-01-31)")


def register(app: typer.Typer) -> None:
    """Add ``ingest`` to ``app``."""

    @app.command("ingest")
    def ingest(
        table: list[str] | None = typer.Option(
            None,
            "--table",
            help="Ingest only this table (repeatable; default: every table in ingest.tables).",
        ),
        from_date: str | None = typer.Option(
            None,
            "--from-date",
            callback=_check_from_date,
            help="Backfill: read rows with the CDC column at or after this value "
            "(an ISO date or timestamp such as 2026-01-31, or an integer for integer CDC columns).",
        ),
        fmt: str = format_option("table (progress lines and a summary) or json (the result only)"),
    ) -> None:
        """Copy new and changed source rows to bronze/<Table>/ and move each watermark."""
        from soundlake.project.ingest_ops import run_ingest

        check_format(fmt)
        project = open_project()
        if fmt == "json":
            result = run_ingest(project, tables=table or None, from_date=from_date)
            print_json(ingest_json(result))
        elif console.is_terminal:
            with RichReporter(console) as reporter:
                result = run_ingest(
                    project, tables=table or None, from_date=from_date, reporter=reporter
                )
        else:
            result = run_ingest(
                project, tables=table or None, from_date=from_date, reporter=PlainReporter(console)
            )
        if fmt == "table":
            render_summary(console, result)
        if not result.ok:
            # SystemExit, not typer.Exit: main() runs click with standalone_mode=False,
            # which turns typer.Exit into a return value that main() does not pass on.
            raise SystemExit(1)


class PlainReporter:
    """One line per event, for logs and pipes."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self._lock = threading.Lock()

    def _line(self, text: str | Text) -> None:
        with self._lock:
            self.out.print(_masked(text), soft_wrap=True)

    def table_started(self, table: str, mode: Mode, watermark: str | None) -> None:
        """Print the start line."""
        self._line(f"{table}: {mode} load from watermark {watermark or '-'}")

    def table_progress(self, table: str, rows: int) -> None:
        """Progress is only shown on terminals."""

    def table_retry(self, table: str, attempt: int, error: str, delay: float) -> None:
        """Print the retry."""
        self._line(f"{table}: attempt {attempt} failed ({error}); retrying in {delay:.1f}s")

    def table_note(self, table: str, message: str) -> None:
        """Print the note."""
        self._line(f"{table}: {message}")

    def table_finished(self, result: TableResult) -> None:
        """Print the end line."""
        if result.status == "ok":
            deleted = f", {result.deleted_rows} deleted" if result.deleted_rows else ""
            self._line(
                f"{result.table}: {plural(result.rows, 'row')}{deleted}, "
                f"watermark {result.watermark_after or '-'}"
            )
        else:
            self._line(f"{result.table}: FAILED: {result.error}")


class RichReporter(PlainReporter):
    """A progress bar per table (rows written so far)."""

    def __init__(self, out: Console) -> None:
        super().__init__(out)
        self.progress = Progress(
            SpinnerColumn(),
            TextColumn("{task.description:<12}"),
            BarColumn(),
            TextColumn("{task.completed:>12,.0f} rows"),
            TimeElapsedColumn(),
            console=out,
        )
        self._tasks: dict[str, TaskID] = {}

    def __enter__(self) -> Self:
        self.progress.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.progress.stop()

    def _task(self, table: str) -> TaskID:
        with self._lock:
            if table not in self._tasks:
                self._tasks[table] = self.progress.add_task(table, total=None)
            return self._tasks[table]

    def _line(self, text: str | Text) -> None:
        self.progress.console.print(_masked(text), soft_wrap=True)

    def table_started(self, table: str, mode: Mode, watermark: str | None) -> None:
        """Show the table's bar."""
        self.progress.update(self._task(table), description=f"{table} ({mode})")

    def table_progress(self, table: str, rows: int) -> None:
        """Advance the table's bar."""
        self.progress.update(self._task(table), completed=rows)

    def table_finished(self, result: TableResult) -> None:
        """Complete the table's bar."""
        task = self._task(result.table)
        self.progress.update(task, total=max(result.rows, 1), completed=max(result.rows, 1))
        if result.status != "ok":
            self._line(_failed_line(f"{result.table}: FAILED:", result.error))


def _masked(text: str | Text) -> Text:
    """``text`` as literal rich text with secrets masked (never parsed as markup)."""
    if isinstance(text, Text):
        text.plain = printable(mask_secrets(text.plain))
        return text
    return styled(mask_secrets(text))


def _failed_line(prefix: str, error: str | None) -> Text:
    line = styled(prefix, "red")
    line.append(f" {mask_secrets(error or '')}")
    return line


def ingest_json(result: IngestResult) -> dict[str, Any]:
    """The ingestion's result as JSON values (with its derived ``ok`` and ``rows``)."""
    return {**dataclasses.asdict(result), "ok": result.ok, "rows": result.rows}


def render_summary(out: Console, result: IngestResult) -> None:
    """The summary table: table, status, rows, files, watermark before/after, seconds."""
    grid = Table(title=f"ingest run {result.run_id}", title_justify="left")
    for name, justify in (
        ("table", "left"),
        ("status", "left"),
        ("mode", "left"),
        ("rows", "right"),
        ("files", "right"),
        ("watermark before", "left"),
        ("watermark after", "left"),
        ("seconds", "right"),
    ):
        grid.add_column(name, justify=justify, no_wrap=True)  # type: ignore[arg-type]
    for t in result.tables:
        status = styled("ok") if t.status == "ok" else styled("failed", "red")
        if t.adopted:
            status.append(f" (+{len(t.adopted)} adopted)")
        grid.add_row(
            t.table,
            status,
            t.mode or "-",
            f"{t.rows:,}",
            str(len(t.files)),
            t.watermark_before or "-",
            t.watermark_after or "-",
            f"{t.seconds:.2f}",
        )
    if not out.is_terminal:  # logs and pipes: full values rather than a fit to 80 columns
        out = SafeConsole(file=out.file, width=max(out.width, 160))
    out.print(grid)
    line = f"{plural(result.rows, 'row')} in {result.seconds:.2f}s"
    deleted = sum(t.deleted_rows for t in result.tables)
    if deleted:
        line += f"; {plural(deleted, 'delete event')}"
    if result.failed:
        line += f"; failed: {', '.join(t.table for t in result.failed)}"
        for t in result.failed:
            out.print(_failed_line(f"{t.table}:", t.error), soft_wrap=True)
    if result.alert_sent:
        line += "; alert sent"
    elif result.alert_error:
        line += f"; alert NOT sent: {mask_secrets(result.alert_error)}"
    out.print(line, highlight=False)
    for t in result.tables:
        for warning in t.warnings:
            if warning.startswith("WARNING"):
                out.print(f"[yellow]{t.table}:[/] {warning}", highlight=False, soft_wrap=True)
