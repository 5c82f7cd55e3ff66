"""``soundlake bundle DIR``: write the project as a Databricks Asset Bundle."""

from __future__ import annotations

from pathlib import Path

import typer

from soundlake.cli.common import console, open_project
from soundlake.core.text import plural
from soundlake.project.bundle import write_bundle


def register(app: typer.Typer) -> None:
    """Add ``bundle`` to ``app``."""

    @app.command("bundle")
    def bundle(
        directory: Path = typer.Argument(..., help="Folder to write the bundle to."),
        compute: str = typer.Option("serverless", "--compute", help="serverless | classic"),
        force: bool = typer.Option(False, "--force", help="Write into a non-empty folder."),
    ) -> None:
        """Write a Databricks Asset Bundle (databricks.yml, pipeline and job resources)."""
        if compute not in ("serverless", "classic"):
            raise typer.BadParameter("--compute must be serverless or classic")
        result = write_bundle(open_project(), directory, compute=compute, force=force)  # type: ignore[arg-type]
        console.print(f"wrote a Databricks Asset Bundle with {plural(len(result.files), 'file')} to {result.root}")
        for note in result.rewrites:
            console.print(f"  rewritten: {note}")
        console.print("deploy with: databricks bundle deploy -t dev (see docs/databricks.md)")
