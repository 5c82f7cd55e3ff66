"""``soundlake job``: ingest then run the pipeline (what a scheduler calls)."""

from __future__ import annotations

import contextlib
import dataclasses
from collections.abc import Iterator

import typer

from soundlake.cli.common import (
    check_engine,
    check_format,
    console,
    format_option,
    open_project,
    print_json,
    styled,
)
from soundlake.cli.ingest_cmd import PlainReporter, RichReporter, ingest_json, render_summary
from soundlake.cli.pipeline_cmd import ProgressListener, render_update


@contextlib.contextmanager
def ingest_reporter() -> Iterator[PlainReporter]:
    """A progress-bar reporter on a terminal, plain lines otherwise."""
    if console.is_terminal:
        with RichReporter(console) as reporter:
            yield reporter
    else:
        yield PlainReporter(console)


def register(app: typer.Typer) -> None:
    """Add ``job`` to ``app``."""

    @app.command("job")
    def job(
        engine: str | None = typer.Option(None, "--engine", callback=check_engine, help="duckdb or spark (default: from soundlake.yml)."),
        keep_going: bool = typer.Option(
            False, "--keep-going", help="Run the pipeline even when a table failed to ingest."
        ),
        fmt: str = format_option("table (progress lines and summaries) or json (the results only)"),
    ) -> None:
        """Ingest every configured table into bronze, then run a pipeline update."""
        from soundlake.project.job import run_job

        check_format(fmt)
        project = open_project({"engine": engine} if engine else None)
        if fmt == "json":
            quiet = run_job(project, run_pipeline_after_ingest_failure=keep_going)
            update = dataclasses.asdict(quiet.update) if quiet.update is not None else None
            print_json({"ok": quiet.ok, "ingest": ingest_json(quiet.ingest), "update": update})
            if not quiet.ok:
                raise typer.Exit(1)
            return
        with ingest_reporter() as reporter:
            result = run_job(
                project,
                ingest_reporter=reporter,
                listeners=[ProgressListener(console)],
                run_pipeline_after_ingest_failure=keep_going,
                after_ingest=lambda ingested: render_summary(console, ingested),
            )
        if result.update is None:
            console.print(styled("ingestion failed: the pipeline update did not run", "red"))
        else:
            render_update(console, result.update)
        if not result.ok:
            raise typer.Exit(1)
