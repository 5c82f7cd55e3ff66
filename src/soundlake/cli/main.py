"""The ``soundlake`` command: argument parsing and rendering only.

Each command group lives in its own module and registers itself on :data:`app`. Errors
derived from :class:`SoundlakeError` become one line on stderr and a non-zero exit code.
"""

from __future__ import annotations

import errno
import logging
import sys
from pathlib import Path
from typing import Any

import typer
import typer.main
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
    context_settings={"help_option_names": ["-h", "--help"]},
)

#: Options of the root command that may also be written after the command name.
GLOBAL_VALUE_OPTIONS = ("--project", "-p", "--target", "-t")
GLOBAL_FLAGS = ("--verbose", "-v")


class GlobalOptions:
    """Options shared by every command (set by the root callback)."""

    project: Path | None = None
    target: str | None = None
    verbose: bool = False


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
    verbose: bool = typer.Option(
        False, "--verbose", "-v", help="Also show the Spark engine's own log (default: a file under the lake)."
    ),
) -> None:
    """soundlake: run the Spotify lakehouse pipeline locally, on Spark, or on Databricks."""
    GlobalOptions.project = project
    GlobalOptions.target = target
    GlobalOptions.verbose = verbose


def _register_commands() -> None:
    from soundlake.cli import commands

    commands.register_all(app)


def hoist_global_options(argv: list[str]) -> list[str]:
    """``argv`` with ``--project``/``--target``/``--verbose`` moved before the command name.

    ``soundlake run --project demo`` then means ``soundlake --project demo run``, as users
    expect from tools such as git or dbt. Values after ``--`` are never touched.
    """
    hoisted: list[str] = []
    rest: list[str] = []
    seen_command = False
    i = 0
    while i < len(argv):
        arg = argv[i]
        if arg == "--":
            rest.extend(argv[i:])
            break
        name = arg.split("=", 1)[0]
        if seen_command and arg in GLOBAL_FLAGS:
            hoisted.append(arg)
            i += 1
            continue
        if seen_command and name in GLOBAL_VALUE_OPTIONS:
            if "=" in arg:
                hoisted.append(arg)
            else:
                hoisted.extend(argv[i : i + 2])
                i += 1
            i += 1
            continue
        if not arg.startswith("-") and not seen_command:
            seen_command = not (rest and rest[-1] in GLOBAL_VALUE_OPTIONS)
        rest.append(arg)
        i += 1
    if not hoisted:
        return argv
    first = next(
        (j for j, a in enumerate(rest) if not a.startswith("-") and not (j and rest[j - 1] in GLOBAL_VALUE_OPTIONS)),
        len(rest),
    )
    return [*rest[:first], *hoisted, *rest[first:]]


def plain_metavars(command: Any) -> None:
    """Help shows ``--engine TEXT`` and bare flags, not typer's ``<str>``/``<bool>`` labels.

    ``command`` is the click command typer builds (typer ships its own click, so the
    parameters are recognised by their attributes).
    """
    for param in command.params:
        kind = getattr(param, "param_type_name", "")
        if kind == "option" and param.metavar is None:
            param.metavar = "" if param.is_flag else _metavar(param)
        elif kind == "argument" and param.metavar is None:
            label = _metavar(param)
            param.metavar = str(param.name).upper()
            param.display_type_rich = lambda ctx, label=label: label
    make_help = command.get_help_option

    def bare_help(ctx: Any) -> Any:
        option = make_help(ctx)
        if option is not None:
            option.metavar = ""
        return option

    command.get_help_option = bare_help
    for sub in getattr(command, "commands", {}).values():
        plain_metavars(sub)


_METAVARS = {"str": "TEXT", "int": "INTEGER", "float": "NUMBER", "path": "PATH", "bool": "BOOLEAN"}


def _metavar(param: Any) -> str:
    label = str(param.display_type(None)).strip("<>")
    many = label.startswith("list[")
    if many:
        label = label[len("list[") : -1]
    if label.endswith("range"):
        label = label.split()[0]  # typer's "int range" (the bounds are in the help text)
    label = _METAVARS.get(label, label.upper() if "|" not in label else label)
    return f"{label}..." if many or param.multiple else label


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
        command = typer.main.get_command(app)
        plain_metavars(command)
        args = hoist_global_options(list(sys.argv[1:] if argv is None else argv))
        code = command.main(args=args, prog_name="soundlake", standalone_mode=False)
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
