"""Registers every command group on the root app.

Each module below owns one group of commands and exposes ``register(app)``.
"""

from __future__ import annotations

import importlib

import typer

COMMAND_MODULES = (
    "soundlake.cli.pipeline_cmd",
    "soundlake.cli.init_cmd",
    "soundlake.cli.source_cmd",
    "soundlake.cli.ingest_cmd",
    "soundlake.cli.job_cmd",
    "soundlake.cli.demo_cmd",
    "soundlake.cli.bundle_cmd",
    "soundlake.cli.catalog_cmd",
)


def register_all(app: typer.Typer) -> None:
    """Import each command module and let it add its commands to ``app``."""
    if getattr(app, "_soundlake_registered", False):
        return
    for name in COMMAND_MODULES:
        importlib.import_module(name).register(app)
    app._soundlake_registered = True  # type: ignore[attr-defined]
