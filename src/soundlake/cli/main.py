"""The ``soundlake`` command: argument parsing and rendering only.

Each command group lives in its own module and registers itself on :data:`app`. Errors
derived from :class:`SoundlakeError` become one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console

from soundlake import __version__
from soundlake.core.errors import SoundlakeError

app = typer.Typer(
    name="soundlake",
    help="Local-first lakehouse: ingest -> bronze -> silver -> gold with declarative pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
err_console = Console(stderr=True)


class GlobalOptions:
    """Options shared by every command (set by the root callback)."""

    project: Path | None = None
    target: str | None = None


def _version(value: bool) -> None:
    if value:
        typer.echo(f"soundlake {__version__}")
        raise typer.Exit()


@app.callback()
def root(
    project: Optional[Path] = typer.Option(
        None, "--project", "-p", help="Project folder (default: search upwards for soundlake.yml)."
    ),
    target: Optional[str] = typer.Option(None, "--target", "-t", help="Target in soundlake.yml."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """soundlake: run the Spotify lakehouse pipeline locally, on Spark, or on Databricks."""
    GlobalOptions.project = project
    GlobalOptions.target = target


def _register_commands() -> None:
    from soundlake.cli import commands

    commands.register_all(app)


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map soundlake errors to exit codes."""
    _register_commands()
    try:
        # Without standalone mode click returns (not raises) the code of typer.Exit.
        code = app(args=argv, standalone_mode=False)
    except SoundlakeError as exc:
        err_console.print(f"[bold red]error:[/] {exc}", highlight=False, soft_wrap=True)
        sys.exit(exc.exit_code)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except typer.Abort:
        err_console.print("aborted")
        sys.exit(130)
    except Exception as exc:  # usage errors (typer vendors click: its exceptions have show())
        show = getattr(exc, "show", None)
        if callable(show) and isinstance(getattr(exc, "exit_code", None), int):
            show()
            sys.exit(exc.exit_code)  # type: ignore[attr-defined]
        raise
    if isinstance(code, int) and code != 0:
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    # Under ``python -m`` this file is ``__main__``, a second copy of the module: run the
    # imported ``soundlake.cli.main`` so that ``--project``/``--target`` land in the
    # GlobalOptions that ``soundlake.cli.common`` reads.
    from soundlake.cli.main import main as _main

    _main()
