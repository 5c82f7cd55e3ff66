"""Helpers shared by CLI command modules.

Terminal output never interprets data: both consoles have rich markup, emoji codes and
highlighting off, so a value such as ``[bold]x[/bold]``, ``[/]`` or ``:x:`` (in a table
cell, a table name, an error message) is printed verbatim, and control characters (an ESC
that would start a terminal escape sequence) are shown as ``\\x1b``. Colour is added with
:class:`rich.text.Text` styles, never by formatting markup into strings.
"""

from __future__ import annotations

import dataclasses
import json
import os
import re
from typing import Any

import typer
from rich.console import Console
from rich.text import Text

from soundlake.project.context import Project

_ANSI = re.compile(r"\x1b\[[0-?]*[ -/]*[@-~]")
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """``text`` safe for a terminal: control characters (ESC, BEL, CR, ...) shown as ``\\xNN``."""
    return _CONTROL.sub(lambda m: f"\\x{ord(m.group(0)):02x}", text)


def strip_ansi(text: str) -> str:
    """``text`` without ANSI colour sequences (error texts of libraries carry some)."""
    return _ANSI.sub("", text)


SPARK_LOG_ENV = "SOUNDLAKE_SPARK_LOG"
"""Where the Spark engine's JVM writes its output (read by ``engines.spark.session``)."""

PLAIN_WIDTH = 1000
"""Output width when stdout is not a terminal and ``COLUMNS`` is not set."""


class SafeConsole(Console):
    """A console that prints strings literally: no markup, no emoji, no control characters."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(markup=False, emoji=False, highlight=False, **kwargs)
        if not self.is_terminal and not os.environ.get("COLUMNS"):
            # a CI log or a file: never cut a name to fit 80 columns; tables take their width
            self.width = PLAIN_WIDTH

    def render_str(self, text: str, **kwargs: Any) -> Text:
        """Every string printed (cells, titles, messages) goes through here."""
        return super().render_str(printable(text), **kwargs)


console = SafeConsole()
err_console = SafeConsole(stderr=True)


def styled(text: object, style: str | None = None) -> Text:
    """``text`` as literal rich text (never markup, control characters shown), optionally styled."""
    return Text(printable(str(text)), style=style or "")


MAX_SCALE = 1000.0
MAX_SEED = 2**32 - 1


def check_scale(value: float) -> float:
    """``--scale``: a positive size factor up to :data:`MAX_SCALE` (S=1: ~1,000,000 streams)."""
    if not 0 < value <= MAX_SCALE:  # also refuses nan and inf
        raise typer.BadParameter(f"{value} is not a scale in (0, {MAX_SCALE:g}]; S=1 is about 1,000,000 streams")
    return value


def check_rate(value: float) -> float:
    """``--rate``: the share of rows touched, in (0, 1]."""
    if not 0 < value <= 1:
        raise typer.BadParameter(f"{value} is not a share of rows in (0, 1]; 0.01 touches 1%")
    return value


def seed_option(default: int, help_text: str) -> Any:
    """A ``--seed`` option: an integer in [0, 2**32 - 1] (numpy's seed range)."""
    return typer.Option(default, "--seed", min=0, max=MAX_SEED, help=help_text)


ENGINES = ("duckdb", "spark")


def check_engine(value: str | None) -> str | None:
    """``--engine``: one of :data:`ENGINES` (None: the engine in soundlake.yml)."""
    if value is not None and value not in ENGINES:
        raise typer.BadParameter(f"unknown engine '{value}' (choose {', '.join(ENGINES)})")
    return value


def check_format(fmt: str, known: tuple[str, ...] = ("table", "json")) -> None:
    """``--format``: one of ``known``, else a usage error naming the choices."""
    if fmt not in known:
        raise typer.BadParameter(f"unknown format '{fmt}' (choose {', '.join(known)})", param_hint="'--format'")


def format_option(help_text: str = "table or json") -> Any:
    """A ``--format`` option (checked with :func:`check_format`)."""
    return typer.Option("table", "--format", help=help_text)


def print_json(value: Any) -> None:
    """``value`` (a dataclass, dict or list) as one line of JSON on stdout."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        value = dataclasses.asdict(value)
    typer.echo(json.dumps(value, default=str))


def open_project(overrides: dict[str, Any] | None = None) -> Project:
    """Open the project selected by the global ``--project`` and ``--target`` options."""
    from soundlake.cli.main import GlobalOptions

    project = Project.open(GlobalOptions.project, target=GlobalOptions.target, overrides=overrides)
    if not GlobalOptions.verbose and project.lake.is_local:
        # the Spark engine's JVM output (Ivy, log4j) goes to a file, not between our lines
        os.environ.setdefault(SPARK_LOG_ENV, os.path.join(project.lake.root, "_soundlake", "logs", "spark.log"))
    return project
