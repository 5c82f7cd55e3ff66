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
    if directory.exists() and not directory.is_dir():
        raise ConfigError(f"{directory} is a file, not a folder", hint="choose a new or empty folder")
    if (directory / "soundlake.yml").exists() and not force:
        raise ConfigError(f"{directory / 'soundlake.yml'} already exists (use --force to overwrite)")
    written: list[Path] = []
    template = resources.files("soundlake.project") / "templates" / TEMPLATE
    with resources.as_file(template) as source_root:
        files = [
            path for path in sorted(Path(source_root).rglob("*"))
            if not path.is_dir() and "__pycache__" not in path.parts
        ]
        if not force:
            _refuse_overwrite(directory, source_root, files)
        directory.mkdir(parents=True, exist_ok=True)
        for path in files:
            dest = directory / path.relative_to(source_root)
            dest.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(path, dest)
            written.append(dest)
    return written


def _refuse_overwrite(directory: Path, source_root: Path, files: list[Path]) -> None:
    """Refuse when a file of the template would replace a different existing file."""
    for path in files:
        dest = directory / path.relative_to(source_root)
        if dest.is_dir() or (dest.exists() and dest.read_bytes() != path.read_bytes()):
            raise ConfigError(
                f"{dest} already exists and 'soundlake init' would overwrite it",
                hint="choose a new or empty folder, or pass --force",
            )
