"""The ``soundlake`` command: argument parsing and rendering only.

Each command group lives in its own module and registers itself on :data:`app`. Errors
derived from :class:`SoundlakeError` become one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import errno
import logging
import sys
from pathlib import Path

import typer
from rich.text import Text

from soundlake import __version__
from soundlake.core.errors import SoundlakeError
from soundlake.core.secrets import mask_secrets

app = typer.Typer(
    name="soundlake",
    help="Local-first lakehouse: ingest -> bronze -> silver -> gold with declarative pipelines.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)


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
    project: Path | None = typer.Option(
        None, "--project", "-p", help="Project folder (default: search upwards for soundlake.yml)."
    ),
    target: str | None = typer.Option(None, "--target", "-t", help="Target in soundlake.yml."),
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True, help="Show the version."),
) -> None:
    """soundlake: run the Spotify lakehouse pipeline locally, on Spark, or on Databricks."""
    GlobalOptions.project = project
    GlobalOptions.target = target


def _register_commands() -> None:
    from soundlake.cli import commands

    commands.register_all(app)


def one_line(text: str) -> str:
    """``text`` on one line: its lines stripped and joined, secrets in URLs masked."""
    from soundlake.cli.common import printable, strip_ansi

    lines = (line.strip() for line in strip_ansi(str(text)).splitlines())
    return printable(mask_secrets(" | ".join(line for line in lines if line)))


def _fail(message: str, code: int) -> None:
    from soundlake.cli.common import err_console

    err_console.print(styled_error(message), soft_wrap=True)
    sys.exit(code)


def styled_error(message: str) -> Text:
    """``error: <message>`` with the prefix in red and the message printed verbatim."""
    text = Text("error:", style="bold red")
    text.append(" " + one_line(message))
    return text


def _os_message(exc: OSError) -> str:
    """A file-system error on one line: what failed, on which path, and the fix."""
    what = exc.strerror or str(exc)
    where = f" {exc.filename}" if exc.filename else ""
    if exc.errno in (errno.EACCES, errno.EPERM, errno.EROFS):
        return f"cannot write{where}: {what}; check that the lake (storage in soundlake.yml) is writable"
    if exc.errno == errno.ENOSPC:
        return f"cannot write{where}: {what}; free disk space or move storage elsewhere"
    return f"cannot access{where}: {what}"


def _usage_message(exc: Exception) -> str:
    """A click usage error on one line, with where to find help."""
    message = exc.format_message()  # type: ignore[attr-defined]
    ctx = getattr(exc, "ctx", None)
    path = getattr(ctx, "command_path", None) if ctx is not None else None
    where = path.replace("python -m soundlake.cli.main", "soundlake") if path else "soundlake"
    return f"{message} (see '{where} --help')"


def main(argv: list[str] | None = None) -> None:
    """Entry point: run the CLI and map errors to one line on stderr and an exit code.

    Deliberate errors (:class:`SoundlakeError`) keep their exit code; usage errors exit 2;
    Ctrl-C exits 130; any other exception is a bug or an environment problem (a full disk,
    a read-only folder) and is still reported on one line, exit 1, without a traceback.
    """
    _register_commands()
    logging.getLogger("sqlglot").setLevel(logging.ERROR)  # parser warnings are not for users
    try:
        # Without standalone mode click returns (not raises) the code of typer.Exit.
        code = app(args=argv, standalone_mode=False)
    except SoundlakeError as exc:
        _fail(str(exc), exc.exit_code)
    except typer.Exit as exc:
        if exc.exit_code == 130:  # typer turns Ctrl-C into Exit(130)
            _fail("interrupted", 130)
        sys.exit(exc.exit_code)
    except (typer.Abort, KeyboardInterrupt):
        _fail("interrupted", 130)
    except RecursionError:
        _fail("the input is nested too deeply to analyse; simplify the query or definition", 1)
    except OSError as exc:  # the lake or project folder: missing, read-only, full
        _fail(_os_message(exc), 1)
    except Exception as exc:  # noqa: BLE001 (usage errors, then anything else: one line, never a traceback)
        code = getattr(exc, "exit_code", None)
        if callable(getattr(exc, "format_message", None)) and isinstance(code, int):
            _fail(_usage_message(exc), code)
        _fail(f"unexpected {type(exc).__name__}: {exc}", 1)
    if code == 130:  # Ctrl-C: typer returns the code of its Exit(130)
        _fail("interrupted", 130)
    if isinstance(code, int) and code != 0:
        sys.exit(code)


if __name__ == "__main__":  # pragma: no cover
    # Under ``python -m`` this file is ``__main__``, a second copy of the module: run the
    # imported ``soundlake.cli.main`` so that ``--project``/``--target`` land in the
    # GlobalOptions that ``soundlake.cli.common`` reads.
    from soundlake.cli.main import main as _main

    _main()
