"""The lake root: a local folder or an ``abfss://`` URL, addressed by relative parts."""

from __future__ import annotations

import posixpath
from dataclasses import dataclass, field
from pathlib import Path

import pyarrow.fs as pafs

from soundlake.core.errors import StorageError


@dataclass(frozen=True)
class Lake:
    """Where every layer lives.

    Attributes:
        root: Absolute local folder or ``abfss://container@account.dfs.core.windows.net/path``.
        storage_options: Options passed to deltalake / the object store (credentials).
    """

    root: str
    storage_options: dict[str, str] = field(default_factory=dict)

    @classmethod
    def at(cls, storage: str, *, base: Path, storage_options: dict[str, str] | None = None) -> Lake:
        """Build a lake from a config value, resolving relative folders against ``base``."""
        if "://" in storage:
            return cls(storage.rstrip("/"), dict(storage_options or {}))
        path = Path(storage)
        if not path.is_absolute():
            path = base / path
        return cls(str(path.resolve()), dict(storage_options or {}))

    @property
    def is_local(self) -> bool:
        """True when the lake is a local folder."""
        return "://" not in self.root

    def uri(self, *parts: str) -> str:
        """The URI (or local path) of ``parts`` under the root."""
        return posixpath.join(self.root, *parts) if parts else self.root

    def filesystem(self) -> tuple[pafs.FileSystem, str]:
        """A pyarrow filesystem and the root path inside it."""
        if self.is_local:
            Path(self.root).mkdir(parents=True, exist_ok=True)
            return pafs.LocalFileSystem(), self.root
        try:
            fs, path = pafs.FileSystem.from_uri(self.root)
        except Exception as exc:  # pyarrow raises several types here
            raise StorageError(f"cannot open storage '{self.root}': {exc}") from exc
        return fs, path
