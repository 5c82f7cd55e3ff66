"""Pipeline commands: ``run``, ``dry-run``, ``events``, ``history``, ``query``, ``status``."""

from __future__ import annotations

import csv
import dataclasses
import io
import json
import threading
from typing import TYPE_CHECKING, Any

import typer
from rich.console import Console
from rich.table import Table
from rich.text import Text

from soundlake.cli.common import (
    check_engine,
    check_format,
    console,
    format_option,
    open_project,
    print_json,
    styled,
)
from soundlake.core.secrets import mask_secrets
from soundlake.core.text import plural
from soundlake.observe.counts import COUNT_COLUMNS, describe_counts, flow_counts

if TYPE_CHECKING:
    import pyarrow as pa

MAX_ROWS = 2**31 - 1  # --limit / --last


def _names(text: str | None) -> list[str] | None:
    if not text:
        return None
    return [n.strip() for n in text.split(",") if n.strip()]


def register(app: typer.Typer) -> None:
    """Add the pipeline commands to ``app``."""

    @app.command("run")
    def run(
        refresh: str | None = typer.Option(None, "--refresh", help="Refresh only these tables (comma-separated)."),
        full_refresh: str | None = typer.Option(
            None, "--full-refresh", help="Reset and reprocess these tables (comma-separated)."
        ),
        full_refresh_all: bool = typer.Option(False, "--full-refresh-all", help="Reset and reprocess every table."),
        reset_protected: bool = typer.Option(
            False,
            "--reset-protected",
            help="Let the full refresh also reset tables with pipelines.reset.allowed = false "
            "(their history is rebuilt from their sources).",
        ),
        engine: str | None = typer.Option(
            None, "--engine", callback=check_engine, help="duckdb or spark (default: from soundlake.yml)."
        ),
        fmt: str = format_option("table (progress lines and a summary) or json (the result only)"),
    ) -> None:
        """Run a pipeline update: every flow in dependency order."""
        from soundlake.project.pipeline_ops import run as run_update

        check_format(fmt)
        if full_refresh and full_refresh_all:
            raise typer.BadParameter("use --full-refresh or --full-refresh-all, not both")
        if reset_protected and not (full_refresh or full_refresh_all):
            raise typer.BadParameter("--reset-protected goes with --full-refresh or --full-refresh-all")
        project = open_project({"engine": engine} if engine else None)
        listener = ProgressListener(console)
        def update() -> Any:
            return run_update(
                project, listeners=[listener] if fmt == "table" else [], refresh=_names(refresh),
                full_refresh=_names(full_refresh), full_refresh_all=full_refresh_all,
                reset_protected=reset_protected, engine=engine,
            )

        if console.is_terminal and fmt == "table":
            with console.status("starting update...") as status:
                listener.status = status
                result = update()
        else:
            result = update()
        if fmt == "json":
            print_json(result)
        else:
            render_update(console, result)
            _hint_when_bronze_is_empty(project, result)
        if not result.ok:
            from soundlake.core.errors import FlowError

            failed = ", ".join(sorted(result.errors))
            raise FlowError(f"update {result.run_id} failed: {failed}")

    @app.command("rename-pipeline")
    def rename_pipeline(
        old: str = typer.Argument(..., help="The pipeline's previous name."),
        new: str = typer.Argument(..., help="The new name (already set as name: in soundlake.yml)."),
    ) -> None:
        """Rename the pipeline: move its state and hand its tables to the new name."""
        from soundlake.project.rename_ops import rename_pipeline as rename

        result = rename(open_project(), old, new)
        moved = "moved" if result.state_moved else "already moved"
        console.print(
            f"pipeline '{result.old}' renamed to '{result.new}': state {moved}, "
            f"{plural(len(result.tables), 'table')} handed over",
            highlight=False,
        )

    @app.command("dry-run")
    def dry_run() -> None:
        """Validate every definition and the graph; print it. Runs nothing."""
        from soundlake.project.pipeline_ops import dry_run as validate

        result = validate(open_project())
        console.print(result.render())
        console.print(styled("valid", "green"))

    @app.command("events")
    def events(
        run_id: str | None = typer.Option(None, "--run", help="Only this update id."),
        last: int = typer.Option(50, "--last", min=0, max=MAX_ROWS, help="Show the last N events."),
        fmt: str = typer.Option("table", "--format", help="table or json"),
    ) -> None:
        """Show the pipeline's event log."""
        from soundlake.project.pipeline_ops import events as read

        check_format(fmt, ("table", "json"))
        table = read(open_project(), run_id=run_id, last=last)
        rows = table.to_pylist()
        if not rows and fmt == "table":
            console.print("no runs yet: the event log is empty (start one with soundlake run)")
            return
        if fmt == "json":
            for row in rows:
                typer.echo(json.dumps(row, default=str))
            return
        grid = Table(title="event log", title_justify="left")
        for col in ("seq", "time", "level", "event_type", "flow / dataset", "message"):
            grid.add_column(col)
        for row in rows:
            origin = row["origin"] or {}
            grid.add_row(
                str(row["sequence"]), row["timestamp"].strftime("%H:%M:%S") if row["timestamp"] else "",
                row["level"], row["event_type"], origin.get("flow_name") or origin.get("dataset_name") or "",
                mask_secrets(row["message"] or ""),
            )
        console.print(grid)

    @app.command("history")
    def history(
        table: str = typer.Argument(..., help="Table name (catalog.schema.table, or shorter)."),
        limit: int = typer.Option(20, "--limit", min=0, max=MAX_ROWS, help="Show the last N commits."),
        fmt: str = format_option("table or json (one commit per line)"),
    ) -> None:
        """Show a table's Delta history (commits, operation, pipeline/run/flow metadata)."""
        from soundlake.project.pipeline_ops import history as read

        check_format(fmt)
        commits = read(open_project(), table, limit=limit)
        if fmt == "json":
            for commit in commits:
                print_json(commit)
            return
        title = f"history of {table} (rows added and deleted: the commit's Delta metrics; a rewrite adds the whole table)"
        grid = Table(title=Text(title), title_justify="left")
        for col in ("version", "timestamp", "operation", "rows added", "rows deleted", "run", "flow"):
            grid.add_column(col, justify="right" if col.startswith("rows") else "left")
        from datetime import datetime, timezone

        for c in commits:
            ts = datetime.fromtimestamp(int(c.get("timestamp", 0)) / 1000, tz=timezone.utc)
            metrics = c.get("operationMetrics") or {}
            grid.add_row(
                str(c.get("version", "")), ts.strftime("%Y-%m-%d %H:%M:%S"), str(c.get("operation", "")),
                _metric(metrics, _ADDED), _metric(metrics, _DELETED), str(c.get("run", ""))[:12], str(c.get("flow", "")),
            )
        console.print(grid)

    @app.command("query")
    def query(
        sql: str = typer.Argument(..., help="Spark SQL over the catalog's tables (read-only)."),
        fmt: str = typer.Option("table", "--format", help="table, csv or json"),
        limit: int | None = typer.Option(None, "--limit", min=0, max=MAX_ROWS, help="At most N rows."),
    ) -> None:
        """Run a read-only Spark SQL query over the lake's tables with DuckDB."""
        from soundlake.project.pipeline_ops import query as run_query

        check_format(fmt, ("table", "csv", "json"))

        result = run_query(open_project(), sql, limit=limit)
        render_rows(console, result, fmt)

    @app.command("status")
    def status(
        fmt: str = typer.Option("table", "--format", help="table or json"),
    ) -> None:
        """The last status of every flow, the counts of its last update with data, and its table's size."""
        from soundlake.project.pipeline_ops import status as read

        check_format(fmt, ("table", "json"))
        rows = read(open_project())
        if fmt == "json":
            for r in rows:
                typer.echo(json.dumps(dataclasses.asdict(r), default=str))
            return
        if not rows:
            console.print("no runs yet: start one with soundlake run (or soundlake job)")
            return
        grid = Table(
            title="flows (last update; the counts of the last update with data; the table's size now)",
            title_justify="left",
        )
        for col in ("flow", "status", "run", "time", "last update with data", "its counts", "table rows"):
            grid.add_column(col, justify="right" if col == "table rows" else "left")
        for r in rows:
            grid.add_row(
                r.flow, _color(r.status), r.run_id[:12], r.timestamp[:19], r.data_run_id[:12] or "-",
                r.data_summary or "-", f"{r.table_rows:,}" if r.table_rows is not None else "-",
            )
        console.print(grid)


_ADDED = ("num_added_rows", "numOutputRows", "num_output_rows")
_DELETED = ("num_deleted_rows", "numDeletedRows", "num_target_rows_deleted", "numTargetRowsDeleted")
"""Row metrics of a Delta commit: delta-rs names first, then Delta Lake's (Spark) names."""


def _metric(metrics: dict[str, object], names: tuple[str, ...]) -> str:
    """The first of ``names`` in a commit's operation metrics, formatted (``-``: not reported)."""
    for name in names:
        value = metrics.get(name)
        if value is not None:
            try:
                return f"{int(str(value)):,}"
            except ValueError:
                return str(value)
    return "-"


def _color(status: str) -> Text:
    color = {"COMPLETED": "green", "FAILED": "red", "SKIPPED": "yellow", "IDLE": "dim"}.get(status.strip())
    return styled(status, color)


def render_rows(out: Console, result: pa.Table, fmt: str) -> None:
    """Print query rows as a table, CSV or JSON lines, every value as Spark prints it.

    Values never pass through :mod:`datetime` (see :mod:`soundlake.core.spark_values`), so a
    date outside Python's range (year 0, -44, 10000) prints instead of failing; JSON lines
    are strict JSON (NaN and infinities as strings).
    """
    from soundlake.core.spark_values import json_value, spark_text, table_values

    check_format(fmt, ("table", "csv", "json"))
    columns = result.column_names
    rows = table_values(result)
    if fmt == "json":
        for row in rows:
            record = {name: json_value(value) for name, value in zip(columns, row, strict=True)}
            typer.echo(json.dumps(record, allow_nan=False))
        return
    if fmt == "csv":
        buffer = io.StringIO()
        writer = csv.writer(buffer)
        writer.writerow(columns)
        for row in rows:
            writer.writerow(["" if value is None else spark_text(value) for value in row])
        typer.echo(buffer.getvalue(), nl=False)
        return
    grid = Table()
    for col in columns:
        grid.add_column(col)
    for row in rows:
        grid.add_row(*[spark_text(value) for value in row])
    out.print(grid)
    out.print(plural(len(rows), "row"), style="dim")


class ProgressListener:
    """Prints each flow's progress as events arrive (one line per flow outcome)."""

    def __init__(self, out: Console) -> None:
        self.out = out
        self._lock = threading.Lock()
        self.status: Any = None
        self._running: dict[str, None] = {}

    def _spinner(self) -> None:
        if self.status is not None:
            names = ", ".join(n.rsplit(".", 1)[-1] for n in self._running) or "-"
            self.status.update(Text(f"running: {names}"))

    def on_event(self, event: Any) -> None:
        """Print flow outcomes and warnings; keep the spinner on the running flows."""
        if event.event_type == "flow_progress":
            status = (event.details.get("flow_progress") or {}).get("status")
            with self._lock:
                if status == "RUNNING":
                    self._running[event.flow] = None
                else:
                    self._running.pop(event.flow, None)
                self._spinner()
            if status in ("QUEUED", "RUNNING"):
                return
            progress = event.details.get("flow_progress") or {}
            extra = f": {describe_counts(progress)}" if status == "COMPLETED" else ""
            text = Text("  ")
            text.append(_color(f"{status:<10}"))
            text.append(f" {event.flow}{extra}")
            if status in ("FAILED", "SKIPPED"):
                text.append(f"\n      {mask_secrets(event.message)}")
        elif event.level in ("WARN", "ERROR") or event.event_type == "create_update":
            text = Text(mask_secrets(event.message))
        else:
            return
        with self._lock:
            self.out.print(text, soft_wrap=True)


def _hint_when_bronze_is_empty(project: Any, result: Any) -> None:
    """After an update that found nothing to do because bronze is empty: say what to run."""
    if not project.config.ingest.tables or any(f.status not in ("IDLE", "EXCLUDED") for f in result.flows.values()):
        return
    from soundlake.project.ingest_ops import ingest_status

    if any(s.rows or s.committed_files for s in ingest_status(project)):
        return
    console.print(
        "next: bronze holds no data yet, so every flow was idle; copy the source tables into bronze "
        "with 'soundlake ingest' (or ingest and run in one go with 'soundlake job')",
        soft_wrap=True,
    )


def render_update(out: Console, result: Any) -> None:
    """The update summary: one row per flow."""
    title = f"update {result.run_id}: {result.status} in {result.seconds:.1f} s"
    grid = Table(title=Text(title), title_justify="left")
    grid.add_column("flow")
    grid.add_column("status")
    for heading, _ in COUNT_COLUMNS:
        grid.add_column(heading, justify="right")
    grid.add_column("seconds", justify="right")
    for name, flow in result.flows.items():
        counts = flow_counts(flow.details()["flow_progress"]) if flow.status == "COMPLETED" else {}
        cells = [f"{value:,}" if (value := counts.get(metric)) is not None else "" for _, metric in COUNT_COLUMNS]
        grid.add_row(
            name, _color(flow.status), *cells, f"{flow.seconds:.2f}" if flow.seconds is not None else ""
        )
    out.print(grid)
    for name, message in result.errors.items():
        line = styled(f"{name}:", "red")
        line.append(f" {mask_secrets(message)}")
        out.print(line, soft_wrap=True)
