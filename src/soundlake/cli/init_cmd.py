"""``soundlake init``."""

from __future__ import annotations

import os
from pathlib import Path

import typer

from soundlake.cli.common import console
from soundlake.core.text import plural
from soundlake.project.scaffold import init_project


def register(app: typer.Typer) -> None:
    """Add ``init`` to ``app``."""

    @app.command("init")
    def init(
        directory: Path = typer.Argument(Path("."), help="Folder to create the project in."),
        force: bool = typer.Option(False, "--force", help="Overwrite an existing soundlake.yml."),
    ) -> None:
        """Scaffold a working soundlake project (the Spotify reference project)."""
        written = init_project(directory, force=force)
        console.print(f"created {plural(len(written), 'file')} in {directory.resolve()}")
        for path in written:
            console.print(f"  {path.relative_to(directory.resolve())}")
        where = os.path.relpath(directory.resolve())
        console.print("next steps:")
        for step in (
            f"cd {where}",
            "soundlake source generate --scale 0.01   # fill the source database with synthetic data",
            "soundlake job                            # ingest into bronze, then run the pipeline",
            "soundlake status                         # what every flow did",
        ):
            console.print(f"  {step}", soft_wrap=True)
