"""The composition root: a loaded project with its lake and settings.

Every CLI command makes one call on a :class:`Project`; the functions that do the work
live in the ``project`` modules for each stage (source, ingest, pipeline, ...).
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Any

from soundlake.lake.storage import Lake
from soundlake.project.config import LoadedProject, ProjectConfig, load_project


@dataclass(frozen=True)
class Project:
    """A loaded soundlake project."""

    loaded: LoadedProject
    lake: Lake

    @classmethod
    def open(
        cls,
        project_dir: Path | None = None,
        *,
        target: str | None = None,
        overrides: dict[str, Any] | None = None,
    ) -> Project:
        """Load ``soundlake.yml`` (searching upwards when ``project_dir`` is None)."""
        loaded = load_project(project_dir, target=target, overrides=overrides)
        config = loaded.config
        lake = Lake.at(config.storage, base=loaded.root, storage_options=config.storage_options)
        return cls(loaded=loaded, lake=lake)

    @property
    def config(self) -> ProjectConfig:
        """The validated configuration."""
        return self.loaded.config

    @property
    def root(self) -> Path:
        """The project folder."""
        return self.loaded.root

    @property
    def source_url(self) -> str:
        """The source URL with a relative SQLite path resolved against the project folder."""
        url = self.config.source.url
        prefix = "sqlite:///"
        if url.startswith(prefix) and not url.startswith("sqlite:////"):
            rel = url[len(prefix):]
            if rel and rel != ":memory:":
                return prefix + str((self.root / rel).resolve())
        return url
