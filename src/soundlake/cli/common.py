"""Helpers shared by CLI command modules."""

from __future__ import annotations

from typing import Any

from rich.console import Console

from soundlake.project.context import Project

console = Console()


def open_project(overrides: dict[str, Any] | None = None) -> Project:
    """Open the project selected by the global ``--project`` and ``--target`` options."""
    from soundlake.cli.main import GlobalOptions

    return Project.open(GlobalOptions.project, target=GlobalOptions.target, overrides=overrides)
