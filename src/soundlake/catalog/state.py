"""Durable pipeline state: checkpoints and markers as atomically written JSON documents.

State lives under ``<storage>/_soundlake/pipelines/<pipeline>/``. A document is written to
a temporary name and renamed over the old one, so a crash leaves either the old or the
new content, never a torn file.
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import uuid
from collections.abc import Iterator
from typing import Any

import pyarrow.fs as pafs

from soundlake.core.errors import StorageError
from soundlake.lake.storage import Lake

STATE_DIR = "_soundlake"
_UNSAFE = re.compile(r"[^A-Za-z0-9_.=-]+")


def safe_name(text: str) -> str:
    """A file-name-safe rendering of a flow or table name (stable, readable).

    Never a path: separators become ``_`` and leading dots are dropped, so ``..`` or
    ``../x`` cannot name a folder outside the state folder.
    """
    return _UNSAFE.sub("_", text).strip("_").lstrip(".") or "_"


class StateStore:
    """JSON documents addressed by relative keys under one pipeline's state folder."""

    def __init__(self, lake: Lake, pipeline: str) -> None:
        self.lake = lake
        self.pipeline = pipeline
        self.root = lake.uri(STATE_DIR, "pipelines", safe_name(pipeline))

    def uri(self, *parts: str) -> str:
        """The URI of a state path (also used for engine-owned state folders)."""
        return posixpath.join(self.root, *parts)

    def _fs(self) -> tuple[pafs.FileSystem, str]:
        if self.lake.is_local:
            return pafs.LocalFileSystem(), self.root
        fs, path = pafs.FileSystem.from_uri(self.root)
        return fs, path

    def read(self, key: str) -> dict[str, Any] | None:
        """The document stored at ``key`` (for example ``checkpoints/f.json``), or None."""
        fs, base = self._fs()
        path = posixpath.join(base, key)
        try:
            with fs.open_input_stream(path) as stream:
                data = stream.read()
        except (FileNotFoundError, OSError):
            return None
        try:
            value = json.loads(data.decode("utf-8"))
        except ValueError as exc:
            raise StorageError(f"state file {path} is not valid JSON: {exc}") from exc
        if not isinstance(value, dict):
            raise StorageError(f"state file {path} does not hold a JSON object")
        return value

    def write(self, key: str, value: dict[str, Any]) -> None:
        """Atomically replace the document at ``key``."""
        fs, base = self._fs()
        path = posixpath.join(base, key)
        data = json.dumps(value, indent=1, sort_keys=True, default=str).encode("utf-8")
        if self.lake.is_local:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            tmp = f"{path}.{uuid.uuid4().hex}.tmp"
            with open(tmp, "wb") as handle:
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
            return
        fs.create_dir(posixpath.dirname(path), recursive=True)
        tmp = f"{path}.{uuid.uuid4().hex}.tmp"
        with fs.open_output_stream(tmp) as stream:
            stream.write(data)
        fs.move(tmp, path)

    def delete(self, key: str) -> None:
        """Remove the document at ``key`` if present."""
        fs, base = self._fs()
        try:
            fs.delete_file(posixpath.join(base, key))
        except (FileNotFoundError, OSError):
            pass

    def delete_tree(self, folder: str) -> None:
        """Remove a state folder (for example an engine's CDC state) if present."""
        fs, base = self._fs()
        try:
            fs.delete_dir(posixpath.join(base, folder))
        except (FileNotFoundError, OSError):
            pass

    def has_folder(self, folder: str) -> bool:
        """True when the state folder ``folder`` (for example ``streams/<flow>``) exists."""
        fs, base = self._fs()
        return bool(fs.get_file_info(posixpath.join(base, folder)).type == pafs.FileType.Directory)

    def keys(self, folder: str) -> Iterator[str]:
        """Keys of the JSON documents directly inside ``folder``."""
        fs, base = self._fs()
        selector = pafs.FileSelector(posixpath.join(base, folder), allow_not_found=True)
        for info in fs.get_file_info(selector):
            if info.is_file and info.base_name.endswith(".json"):
                yield posixpath.join(folder, info.base_name)


def checkpoint_key(flow: str) -> str:
    """Key of a flow's checkpoint document."""
    return f"checkpoints/{safe_name(flow)}.json"


def dataset_key(dataset: str) -> str:
    """Key of a dataset's marker document (pending resets)."""
    return f"datasets/{safe_name(dataset)}.json"


def state_exists(store: StateStore) -> bool:
    """True when the pipeline's state folder exists."""
    fs, base = store._fs()
    return bool(fs.get_file_info(base).type == pafs.FileType.Directory)


def move_state(source: StateStore, target: StateStore) -> None:
    """Move one pipeline's whole state folder to another pipeline's (a rename).

    Raises:
        StorageError: when the target folder exists or the move fails.
    """
    fs, src = source._fs()
    _, dst = target._fs()
    if fs.get_file_info(dst).type != pafs.FileType.NotFound:
        raise StorageError(f"cannot move pipeline state to {dst}: it exists")
    try:
        if source.lake.is_local:
            os.makedirs(os.path.dirname(dst), exist_ok=True)
            os.rename(src, dst)
        else:
            fs.move(src, dst)
    except OSError as exc:
        raise StorageError(f"moving pipeline state {src} to {dst} failed: {exc}") from exc
