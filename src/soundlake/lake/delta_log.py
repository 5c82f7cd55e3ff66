"""What a Delta log says about a table's integrity and ownership, read cheaply.

A pipeline cross-checks its own state against the tables it writes at the start of every
update: :func:`inspect_table` opens the table once and returns its version, the app
transactions of the given ids and the pipeline named by the newest commit that carries
pipeline metadata (the owner). A log that cannot be opened, for example because a commit
file in the middle was deleted, is reported with the missing versions instead of raising.
:func:`claim_table` writes an empty commit that hands a table to another pipeline name
(the explicit rename operation).
"""

from __future__ import annotations

import json
import os
import posixpath
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa

from soundlake.core.errors import StorageError
from soundlake.lake import delta

OWNER_KEY = "pipeline"
"""The commit metadata key that names the pipeline which wrote a commit."""

HISTORY_LIMIT = 100
"""How many recent commits are searched for the owning pipeline."""

_COMMIT = re.compile(r"^(\d{20})\.json$")


@dataclass(frozen=True)
class TableLog:
    """One table's log as seen at the start of an update.

    Attributes:
        exists: False when there is no Delta table at the location.
        version: The latest version (None when missing or unreadable).
        owner: The pipeline named by the newest commit that carries pipeline metadata.
        transactions: App-transaction versions of the requested ids (absent: none).
        problem: Why the log cannot be read (a gap in the commit files), or None.
    """

    exists: bool
    version: int | None = None
    owner: str | None = None
    transactions: Mapping[str, int] = field(default_factory=dict)
    problem: str | None = None


def commit_pipeline(commit: Mapping[str, Any]) -> str | None:
    """The pipeline a commit's info names (delta-rs custom metadata or Spark userMetadata)."""
    value = commit.get(OWNER_KEY)
    if value:
        return str(value)
    user = commit.get("userMetadata")
    if isinstance(user, str) and user.startswith("{"):
        try:
            parsed = json.loads(user)
        except ValueError:
            return None
        if isinstance(parsed, dict) and parsed.get(OWNER_KEY):
            return str(parsed[OWNER_KEY])
    return None


def inspect_table(
    uri: str, app_ids: Sequence[str] = (), storage_options: Mapping[str, str] | None = None
) -> TableLog:
    """Open the table once: version, app transactions of ``app_ids``, owner, log problems."""
    if not delta.is_delta_table(uri, storage_options):
        return TableLog(exists=False)
    try:
        table = delta.open_table(uri, storage_options)
    except StorageError as exc:
        return TableLog(exists=True, problem=log_gap(uri, storage_options) or str(exc).splitlines()[0])
    txns: dict[str, int] = {}
    for app_id in app_ids:
        value = table.transaction_version(app_id)
        if value is not None:
            txns[app_id] = int(value)
    from deltalake.exceptions import DeltaError

    owner = None
    try:
        # the newest commit nearly always names its pipeline: read a few first
        for limit in (5, HISTORY_LIMIT):
            owner = next((p for c in table.history(limit) if (p := commit_pipeline(c)) is not None), None)
            if owner is not None:
                break
    except (DeltaError, OSError, ValueError):  # an unreadable history does not decide ownership
        owner = None
    return TableLog(exists=True, version=int(table.version()), owner=owner, transactions=txns)


def restores_after(
    uri: str, version: int, storage_options: Mapping[str, str] | None = None
) -> list[tuple[int, str]]:
    """The RESTORE commits after ``version``: ``(commit version, what it restored to)``, oldest first.

    Only the commits newer than ``version`` are read (usually none or a few).
    """
    table = delta.open_table(uri, storage_options)
    newer = int(table.version()) - version
    if newer <= 0:
        return []
    found: list[tuple[int, str]] = []
    for commit in table.history(newer):
        if str(commit.get("operation", "")).upper() != "RESTORE" or commit.get("version") is None:
            continue
        params = commit.get("operationParameters") or {}
        target = params.get("version") or params.get("timestamp")
        found.append((int(commit["version"]), f"version {target}" if params.get("version") else str(target or "?")))
    return sorted(found)


def local_newest_commit(uri: str) -> tuple[int, Mapping[str, Any]] | None:
    """The newest commit's version and ``commitInfo`` of a table on a local path (``/x`` or
    ``file:///x``), read from its ``_delta_log`` folder without a query engine (a listing and
    one small file); None when the path is not local or holds no commit there.

    Callers that must not take an existing table for absent confirm a None with their
    engine: the folder may be one this process does not see (a remote server's path).
    """
    uri = uri.removeprefix("file://")
    if "://" in uri or not uri.startswith("/"):
        return None
    log = posixpath.join(uri, "_delta_log")
    try:
        versions = [int(m.group(1)) for name in os.listdir(log) if (m := _COMMIT.match(name))]
    except OSError:
        return None
    if not versions:
        return None
    newest = max(versions)
    try:
        with open(posixpath.join(log, f"{newest:020d}.json"), encoding="utf-8") as commit:
            for line in commit:
                action = json.loads(line) if line.strip() else {}
                if "commitInfo" in action:
                    return newest, action["commitInfo"]
    except (OSError, ValueError):
        return None
    return newest, {}


def listed_version(uri: str, storage_options: Mapping[str, str] | None = None) -> int | None:
    """The newest commit's version from a listing of ``_delta_log`` (no commit is read), or None."""
    fs, base = delta._filesystem(uri, storage_options)
    import pyarrow.fs as pafs

    selector = pafs.FileSelector(posixpath.join(base, "_delta_log"), allow_not_found=True)
    versions = [int(m.group(1)) for info in fs.get_file_info(selector) if (m := _COMMIT.match(info.base_name))]
    return max(versions) if versions else None


def log_gap(uri: str, storage_options: Mapping[str, str] | None = None) -> str | None:
    """Describe missing commit files after the log's first one ("commit 3 is missing")."""
    fs, base = delta._filesystem(uri, storage_options)
    import pyarrow.fs as pafs

    selector = pafs.FileSelector(posixpath.join(base, "_delta_log"), allow_not_found=True)
    versions = sorted(
        int(m.group(1)) for info in fs.get_file_info(selector) if (m := _COMMIT.match(info.base_name))
    )
    if not versions:
        return None
    missing = sorted(set(range(versions[0], versions[-1] + 1)) - set(versions))
    if not missing:
        return None
    shown = ", ".join(str(v) for v in missing[:5]) + (", ..." if len(missing) > 5 else "")
    return f"its Delta log is missing commit file(s) {shown} (of versions {versions[0]}..{versions[-1]})"


def claim_table(
    uri: str,
    pipeline: str,
    transactions: Mapping[str, int],
    *,
    metadata: Mapping[str, str] | None = None,
    storage_options: Mapping[str, str] | None = None,
) -> int:
    """Hand the table to ``pipeline``: an empty commit with its name and app transactions.

    The commit adds and removes no data file, so streaming readers of the table see
    nothing new. Returns the new version.

    Raises:
        StorageError: when the table does not exist or cannot be written.
    """
    from deltalake import CommitProperties, Transaction, write_deltalake

    table = delta.open_table(uri, storage_options)
    schema = pa.schema(table.schema().to_arrow())
    txns = [Transaction(app_id, version) for app_id, version in sorted(transactions.items())]
    meta = {**dict(metadata or {}), OWNER_KEY: pipeline}
    try:
        write_deltalake(
            table,
            pa.Table.from_batches([], schema),
            mode="append",
            commit_properties=CommitProperties(custom_metadata=meta, app_transactions=txns or None),
        )
    except Exception as exc:
        raise StorageError(f"handing table {uri} to pipeline '{pipeline}' failed: {exc}") from exc
    return int(delta.open_table(uri, storage_options).version())


def remove_table(uri: str, storage_options: Mapping[str, str] | None = None) -> None:
    """Delete a table's folder (data and log); used to rebuild a table whose log is broken."""
    fs, base = delta._filesystem(uri, storage_options)
    try:
        fs.delete_dir(base)
    except (FileNotFoundError, OSError):
        pass
