"""``soundlake source create | load-sql | generate | simulate``."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import typer
from rich.progress import BarColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.table import Table

from soundlake.cli.common import check_rate, check_scale, console, open_project, seed_option
from soundlake.core.text import plural


def create() -> None:
    """Create the five reference tables at source.url (existing tables are kept)."""
    from soundlake.project import source_ops

    project = open_project()
    created = source_ops.create_source(project)
    where = source_ops.display_url(project)
    if created:
        console.print(f"created {', '.join(created)} at {where}", soft_wrap=True)
    else:
        console.print(f"all five tables already exist at {where}", soft_wrap=True)


def load_sql(
    files: list[Path] = typer.Argument(
        ..., help="SQL scripts (DDL + one INSERT per row), applied in order."
    ),
) -> None:
    """Load tutorial-format SQL scripts; every INSERT is an upsert by primary key."""
    from soundlake.project import source_ops

    project = open_project()
    result = source_ops.load_sql(project, files)
    console.print(
        f"loaded {plural(len(files), 'file')} into {source_ops.display_url(project)}", soft_wrap=True
    )
    table = Table("table", "rows applied")
    for name, rows in result.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        f"{result.total_rows:,} rows in {result.seconds:.2f}s ({result.rows_per_second:,.0f} rows/s); "
        f"{plural(result.ignored_statements, 'DDL statement')} ignored in favour of soundlake's schema"
    )


def generate(
    scale: float = typer.Option(
        0.01, "--scale", "-s", callback=check_scale, help="Size factor: S=1 is about 1,000,000 streams."
    ),
    seed: int = seed_option(0, "Random seed (same seed, same data)."),
    replace: bool = typer.Option(False, "--replace", help="Delete existing rows first."),
) -> None:
    """Fill the source with deterministic synthetic streaming data."""
    from soundlake.project import source_ops

    project = open_project()
    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        TextColumn("{task.completed:,}/{task.total:,}"),
        TimeElapsedColumn(),
        console=console,
        transient=True,
    ) as bar:
        tasks: dict[str, TaskID] = {}

        def progress(name: str, done: int, total: int) -> None:
            if name not in tasks:
                tasks[name] = bar.add_task(name, total=total)
            bar.update(tasks[name], completed=done)

        result = source_ops.generate(
            project, scale=scale, seed=seed, replace=replace, progress=progress
        )
    console.print(f"generated S={scale} seed={seed} into {result.url}", soft_wrap=True)
    table = Table("table", "rows")
    for name, rows in result.rows.items():
        table.add_row(name, f"{rows:,}")
    console.print(table)
    console.print(
        f"{result.total_rows:,} rows in {result.seconds:.2f}s: {result.rows_per_second:,.0f} rows/s "
        f"({result.streams_per_second:,.0f} streams/s)"
    )


def simulate(
    seed: int = seed_option(0, "Random seed of this batch."),
    rate: float = typer.Option(
        0.01, "--rate", "-r", callback=check_rate, help="Share of rows touched (0.01 = 1%)."
    ),
    bad_rows: bool = typer.Option(False, "--bad-rows", help="Also write deliberately bad rows."),
    summary_json: Path | None = typer.Option(
        None, "--summary-json", help="Write the full summary here."
    ),
    now: datetime | None = typer.Option(None, "--now", help="The batch time, UTC (default: now)."),
) -> None:
    """Apply one realistic batch of changes and print what changed."""
    from soundlake.project import source_ops

    project = open_project()
    summary = source_ops.simulate(
        project, seed=seed, rate=rate, bad_rows=bad_rows, now=now, summary_json=summary_json
    )
    console.print(
        f"simulated batch at {summary.now:%Y-%m-%d %H:%M:%S} UTC into {summary.url}", soft_wrap=True
    )
    table = Table("table", "change", "rows")
    for name, kinds in summary.counts().items():
        for kind, count in kinds.items():
            table.add_row(name, kind, f"{count:,}")
    console.print(table)
    if summary.bad:
        console.print(
            f"{plural(len(summary.bad), 'bad row')}: "
            + ", ".join(f"{b.table}#{b.key} ({', '.join(b.reasons)})" for b in summary.bad)
        )
    if summary_json is not None:
        console.print(f"summary written to {summary_json}")


def register(app: typer.Typer) -> None:
    """Add the ``source`` command group to ``app``."""
    group = typer.Typer(
        help="Create and fill the operational source database.", no_args_is_help=True
    )
    group.command("create")(create)
    group.command("load-sql")(load_sql)
    group.command("generate")(generate)
    group.command("simulate")(simulate)
    app.add_typer(group, name="source")
