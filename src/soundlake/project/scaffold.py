"""``soundlake init``: write a working project from the bundled template."""

from __future__ import annotations

import shutil
from importlib import resources
from pathlib import Path

from soundlake.core.errors import ConfigError

TEMPLATE = "spotify"


def init_project(directory: Path, *, force: bool = False) -> list[Path]:
    """Copy the reference project template into ``directory``.

    Returns the files written. Refuses to overwrite an existing ``soundlake.yml``
    unless ``force`` is set.
    """
    directory = directory.resolve()
    if (directory / "soundlake.yml").exists() and not force:
        raise ConfigError(f"{directory / 'soundlake.yml'} already exists (use --force to overwrite)")
    directory.mkdir(parents=True, exist_ok=True)
    written: list[Path] = []
    template = resources.files("soundlake.project") / "templates" / TEMPLATE
    with resources.as_file(template) as source_root:
        for path in sorted(Path(source_root).rglob("*")):
            if path.is_dir() or "__pycache__" in path.parts:
                continue
            dest = directory / path.relative_to(source_root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            written.append(dest)
    return written
