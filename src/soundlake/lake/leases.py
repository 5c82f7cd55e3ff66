"""Reader leases: a running reader tells VACUUM which table versions it is reading.

A reader (``soundlake query``) pins each table to a version and, while it reads, keeps a
small JSON document ``<lake>/_soundlake/readers/<host>-<pid>-<id>.json`` listing them.
:func:`held_versions` gives VACUUM those versions, so the files they reference are kept
however old. A lease whose process is gone (same host) is ignored; a lease from another
host counts until :data:`STALE_HOURS` have passed.
"""

from __future__ import annotations

import json
import os
import posixpath
import socket
import uuid
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from datetime import datetime, timedelta, timezone

import pyarrow.fs as pafs

from soundlake.lake.storage import Lake

READERS = ("_soundlake", "readers")
STALE_HOURS = 24


@contextmanager
def reader_lease(lake: Lake, tables: Mapping[str, int]) -> Iterator[None]:
    """Hold a lease on ``tables`` (uri -> version) for the duration of the ``with`` block."""
    if not tables:
        yield
        return
    fs, root = lake.filesystem()
    folder = posixpath.join(root, *READERS)
    fs.create_dir(folder, recursive=True)
    host = socket.gethostname()
    path = posixpath.join(folder, f"{host}-{os.getpid()}-{uuid.uuid4().hex[:12]}.json")
    doc = {"host": host, "pid": os.getpid(), "started": datetime.now(timezone.utc).isoformat(),
           "tables": {uri: int(v) for uri, v in tables.items()}}
    with fs.open_output_stream(path) as out:
        out.write(json.dumps(doc).encode())
    try:
        yield
    finally:
        try:
            fs.delete_file(path)
        except OSError:
            pass  # the lease is ignored once its process is gone


def held_versions(lake: Lake) -> dict[str, set[int]]:
    """The versions live readers hold, per table uri."""
    fs, root = lake.filesystem()
    selector = pafs.FileSelector(posixpath.join(root, *READERS), allow_not_found=True)
    held: dict[str, set[int]] = {}
    host = socket.gethostname()
    for info in fs.get_file_info(selector):
        if not info.base_name.endswith(".json"):
            continue
        try:
            with fs.open_input_stream(info.path) as stream:
                doc = json.loads(stream.read())
        except (OSError, ValueError):
            continue  # being written or removed: its reader started after this check
        if not _alive(doc, host):
            continue
        for uri, version in dict(doc.get("tables", {})).items():
            held.setdefault(str(uri), set()).add(int(version))
    return held


def _alive(doc: Mapping[str, object], host: str) -> bool:
    if doc.get("host") == host:
        try:
            os.kill(int(str(doc.get("pid"))), 0)
        except ProcessLookupError:
            return False
        except (PermissionError, ValueError):
            return True
        return True
    try:
        started = datetime.fromisoformat(str(doc.get("started")))
    except ValueError:
        return False
    return datetime.now(timezone.utc) - started < timedelta(hours=STALE_HOURS)
