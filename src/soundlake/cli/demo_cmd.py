"""``soundlake demo`` and ``soundlake report``."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import typer
from rich.table import Table

from soundlake.cli.common import check_scale, console, open_project, seed_option, styled
from soundlake.cli.job_cmd import ingest_reporter
from soundlake.cli.pipeline_cmd import ProgressListener


def register(app: typer.Typer) -> None:
    """Add ``demo`` and ``report`` to ``app``."""

    @app.command("demo")
    def demo(
        directory: Path = typer.Argument(Path("soundlake-demo"), help="Folder for the demo project."),
        scale: float = typer.Option(1.0, "--scale", callback=check_scale, help="Data scale (1 = about 1,000,000 streams; about 15 s on 2 cores)."),
        seed: int = seed_option(7, "Random seed for the generated data."),
        force: bool = typer.Option(False, "--force", help="Replace the folder if it is not empty."),
    ) -> None:
        """Run the Spotify reference project end to end: generate, ingest, run, change, run again."""
        from soundlake.project.demo import run_demo

        with ingest_reporter() as reporter:
            result = run_demo(
                directory,
                scale=scale,
                seed=seed,
                force=force or _is_default_demo_dir(directory),
                on_step=lambda text: console.rule(styled(text, "bold")),
                ingest_reporter=reporter,
                listeners=[ProgressListener(console)],
            )
        render_demo(result)
        if not result.ok:
            raise typer.Exit(1)

    @app.command("report")
    def report(
        output: Path | None = typer.Option(None, "--output", "-o", help="HTML file to write."),
    ) -> None:
        """Write the self-contained HTML report (graph, expectations, runs, mart charts)."""
        from soundlake.project.report_ops import write_report

        path = write_report(open_project(), output)
        console.print(f"report written to {path}")


def _is_default_demo_dir(directory: Path) -> bool:
    """The default folder holds only a previous demo: re-running the demo replaces it."""
    return directory == Path("soundlake-demo") and (directory / "soundlake.yml").is_file()


def _table(title: str, columns: list[str], rows: list[list[Any]]) -> Table:
    table = Table(title=title, title_justify="left")
    for column in columns:
        table.add_column(column, justify="right" if column in ("rows", "passed", "failed") else "left")
    for row in rows:
        table.add_row(*[f"{v:,}" if isinstance(v, int) else str(v) for v in row])
    return table


def render_demo(result: Any) -> None:
    """Print what a user should see after the demo."""
    console.rule(styled("what happened", "bold green"))
    console.print(_table("rows per layer", ["layer", "table", "rows"],
                         [[r.layer, r.table, r.rows] for r in result.layers]))
    console.print(_table("expectations (second run)", ["dataset", "expectation", "passed", "failed"],
                         [[e.dataset, e.expectation, e.passed, e.failed] for e in result.expectations]))
    if result.quarantine:
        console.print(_table("quarantined rows", ["table", "rows"],
                             [[name, n] for name, n in sorted(result.quarantine.items())]))
    if result.history_user is not None and result.history:
        columns = [c for c in ("user_id", "user_name", "subscription_type", "end_date",
                               "__START_AT", "__END_AT") if c in result.history[0]]
        console.print(_table(f"SCD2 history of user {result.history_user} (gold.dim_user)", columns,
                             [[row[c] for c in columns] for row in result.history]))
    changes = [[table, kind, n] for table, kinds in result.simulation.counts().items() for kind, n in kinds.items()]
    console.print(_table("simulated changes (second run)", ["table", "change", "rows"], changes))
    console.print(f"project: {result.project_dir}")
    console.print(f"report:  {result.report}")
    console.print("next: cd into the project and try 'soundlake status', 'soundlake events', "
                  "'soundlake query \"SELECT * FROM gold.mart_daily_listening LIMIT 5\"'")
