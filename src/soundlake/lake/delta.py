"""Delta Lake operations through ``deltalake``: snapshots, idempotent writes, history.

Every write can carry a Delta app transaction ``(app_id, version)`` and commit metadata
(pipeline, run, flow). :func:`write_table` skips a batch whose transaction version is
already recorded in the target's log, so re-running a committed batch is a no-op.
"""

from __future__ import annotations

import json
import posixpath
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime, timezone
from functools import lru_cache
from typing import Any, Literal

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as pads
import pyarrow.fs as pafs

from soundlake.core.errors import StorageError

WriteMode = Literal["append", "overwrite"]


@dataclass(frozen=True)
class WriteResult:
    """What one :func:`write_table` call did."""

    committed: bool
    num_rows: int = 0
    version: int | None = None


@dataclass(frozen=True)
class CommitActions:
    """The data actions of one Delta commit (from its JSON log entry)."""

    version: int
    operation: str
    added_files: tuple[str, ...] = ()
    removed_files: tuple[str, ...] = ()
    app_transactions: Mapping[str, int] = field(default_factory=dict)

    @property
    def changes_existing_rows(self) -> bool:
        """True when the commit removed data files with ``dataChange`` (update/delete)."""
        return bool(self.removed_files)


DEFAULT_CONFIGURATION: Mapping[str, str] = {"delta.checkpointInterval": "10"}
"""Table configuration soundlake gives every table it creates.

A checkpoint every 10 commits (Spark's default; delta-rs defaults to 100) keeps opening a
table cheap: a reader replays at most 10 JSON commits after the last checkpoint. The event
log and the pipeline's tables get a few commits per update, so without it every open
would replay the whole history.
"""


def new_table_configuration(configuration: Mapping[str, str] | None = None) -> dict[str, str]:
    """The configuration of a new table: the defaults overridden by ``configuration``."""
    return {**DEFAULT_CONFIGURATION, **dict(configuration or {})}


def _options(storage_options: Mapping[str, str] | None) -> dict[str, str] | None:
    return dict(storage_options) if storage_options else None


def is_delta_table(uri: str, storage_options: Mapping[str, str] | None = None) -> bool:
    """True when ``uri`` holds a Delta table."""
    from deltalake import DeltaTable

    try:
        return bool(DeltaTable.is_deltatable(uri, storage_options=_options(storage_options)))
    except Exception:  # noqa: BLE001 (object stores raise several types for missing paths)
        return False


def open_table(uri: str, storage_options: Mapping[str, str] | None = None, version: int | None = None) -> Any:
    """Return a ``deltalake.DeltaTable`` (at ``version`` if given).

    Raises:
        StorageError: when no Delta table exists at ``uri``.
    """
    from deltalake import DeltaTable

    try:
        return DeltaTable(uri, version=version, storage_options=_options(storage_options))
    except Exception as exc:
        raise StorageError(f"no Delta table at {uri}: {exc}") from exc


def table_version(uri: str, storage_options: Mapping[str, str] | None = None) -> int | None:
    """The latest version of the table at ``uri``, or None when there is no table."""
    if not is_delta_table(uri, storage_options):
        return None
    return int(open_table(uri, storage_options).version())


def row_count(uri: str, storage_options: Mapping[str, str] | None = None) -> int | None:
    """Rows in the table's current snapshot, from the file statistics (no data read).

    None when there is no table or a file has no row-count statistics.
    """
    if not is_delta_table(uri, storage_options):
        return None
    actions = open_table(uri, storage_options).get_add_actions(flatten=True)
    if actions.num_rows == 0:
        return 0
    counts = pa.table(actions).column("num_records")
    if counts.null_count:
        return None
    return int(pc.sum(counts).as_py() or 0)


def transaction_version(uri: str, app_id: str, storage_options: Mapping[str, str] | None = None) -> int | None:
    """The last app-transaction version committed by ``app_id`` to the table, if any."""
    if not is_delta_table(uri, storage_options):
        return None
    value = open_table(uri, storage_options).transaction_version(app_id)
    return None if value is None else int(value)


def table_schema(uri: str, storage_options: Mapping[str, str] | None = None) -> pa.Schema | None:
    """The Arrow schema of the table, or None when there is no table."""
    if not is_delta_table(uri, storage_options):
        return None
    return pa.schema(open_table(uri, storage_options).schema().to_arrow())


def snapshot_schema(uri: str, version: int, storage_options: Mapping[str, str] | None = None) -> pa.Schema:
    """The Arrow schema of one table version (read from the log once per process; versions never change).

    Raises:
        StorageError: when no Delta table exists at ``uri``.
    """
    return _snapshot_schema(uri, int(version), tuple(sorted((storage_options or {}).items())))


@lru_cache(maxsize=256)
def _snapshot_schema(uri: str, version: int, options: tuple[tuple[str, str], ...]) -> pa.Schema:
    return pa.schema(open_table(uri, dict(options), version=version).schema().to_arrow())


def snapshot_dataset(
    uri: str,
    storage_options: Mapping[str, str] | None = None,
    *,
    version: int | None = None,
    files: Sequence[str] | None = None,
) -> pads.Dataset:
    """A lazily scanned Arrow dataset of a snapshot, optionally only some data files.

    Args:
        uri: Table location.
        storage_options: Object-store options.
        version: Snapshot version (latest when None).
        files: Restrict the scan to these data files (paths relative to the table), for
            example the files added by a range of append commits.
    """
    table = open_table(uri, storage_options, version)
    if "://" in uri:
        dataset = table.to_pyarrow_dataset()
        if files is None:
            return dataset
        wanted = {f.lstrip("/") for f in files}
        fragments = [frag for frag in dataset.get_fragments() if _relative(frag.path, uri) in wanted]
        return pads.FileSystemDataset(fragments, dataset.schema, dataset.format, dataset.filesystem)
    # Local tables: pyarrow's own filesystem (deltalake's Python filesystem handler can
    # abort the interpreter at exit when its IO threads are still alive).
    schema = pa.schema(table.schema().to_arrow())
    root = uri.rstrip("/")
    if files is None:
        paths = [_local_path(p) for p in table.file_uris()]
    else:
        paths = [posixpath.join(root, f.lstrip("/")) for f in files]
    part_cols = list(table.metadata().partition_columns)
    partitioning = None
    if part_cols:
        partitioning = pads.partitioning(pa.schema([schema.field(c) for c in part_cols]), flavor="hive")
    return pads.dataset(
        paths,
        schema=schema,
        format="parquet",
        filesystem=pafs.LocalFileSystem(),
        partitioning=partitioning,
        partition_base_dir=root if partitioning is not None else None,
    )


def local_data_files(
    uri: str, *, version: int | None = None, files: Sequence[str] | None = None
) -> tuple[list[str], pa.Schema, list[str]] | None:
    """Absolute data-file paths, schema and partition columns of a local snapshot.

    None when the table is remote or uses deletion vectors (its files alone do not give
    the snapshot's rows).
    """
    if "://" in uri:
        return None
    table = open_table(uri, None, version)
    features = getattr(table.protocol(), "reader_features", None) or []
    if "deletionVectors" in features:
        return None
    schema = pa.schema(table.schema().to_arrow())
    root = uri.rstrip("/")
    if files is None:
        paths = [_local_path(p) for p in table.file_uris()]
    else:
        paths = [posixpath.join(root, f.lstrip("/")) for f in files]
    return paths, schema, list(table.metadata().partition_columns)


def _local_path(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path[len("file://"):]) if path.startswith("file://") else path


def _relative(path: str, uri: str) -> str:
    root = uri.split("://", 1)[-1].rstrip("/")
    path = path.split("://", 1)[-1]
    if path.startswith(root):
        path = path[len(root):]
    else:  # object stores drop the container/account prefix differently
        marker = path.find("/part-")
        path = path[marker:] if marker >= 0 else path
    from urllib.parse import unquote

    return unquote(path.lstrip("/"))


class _GuardedReader:
    """Wraps a batch iterator so that an exception raised inside survives the Rust boundary."""

    def __init__(self, reader: pa.RecordBatchReader) -> None:
        self.reader = reader
        self.error: BaseException | None = None
        self.rows = 0

    def batches(self) -> Iterator[pa.RecordBatch]:
        try:
            for batch in self.reader:
                self.rows += batch.num_rows
                yield batch
        except BaseException as exc:
            self.error = exc
            raise

    def as_reader(self) -> pa.RecordBatchReader:
        return pa.RecordBatchReader.from_batches(self.reader.schema, self.batches())


def write_table(
    uri: str,
    data: pa.RecordBatchReader | pa.Table,
    *,
    mode: WriteMode,
    storage_options: Mapping[str, str] | None = None,
    app_id: str | None = None,
    app_version: int | None = None,
    metadata: Mapping[str, str] | None = None,
    schema_mode: Literal["merge", "overwrite"] | None = "merge",
    partition_by: Sequence[str] = (),
    configuration: Mapping[str, str] | None = None,
    description: str | None = None,
) -> WriteResult:
    """Append or overwrite in one commit, streaming ``data`` batch by batch.

    When ``app_id`` and ``app_version`` are given, the commit records that app
    transaction, and a batch whose version is already recorded is skipped (nothing is
    read from ``data``). An exception raised while reading ``data`` aborts the commit
    and is re-raised unchanged: the table is left as it was.
    """
    from deltalake import CommitProperties, Transaction, write_deltalake

    # open the table once: its snapshot serves the app-transaction check, the write and
    # the new version (each open replays the log from its last checkpoint)
    table = open_table(uri, storage_options) if is_delta_table(uri, storage_options) else None
    if table is not None and app_id is not None and app_version is not None:
        done = table.transaction_version(app_id)
        if done is not None and int(done) >= app_version:
            return WriteResult(committed=False)
    reader = data.to_reader() if isinstance(data, pa.Table) else data
    guard = _GuardedReader(reader)
    txns = [Transaction(app_id, app_version)] if app_id is not None and app_version is not None else None
    exists = table is not None
    if mode == "overwrite" and schema_mode == "merge":
        schema_mode = "overwrite"
    try:
        options: dict[str, Any] = {
            "mode": mode,
            "schema_mode": schema_mode if exists else None,
            "partition_by": list(partition_by) or None,
            "storage_options": None if exists else _options(storage_options),
            "configuration": None if exists else new_table_configuration(configuration),
            "description": description if not exists else None,
            "commit_properties": CommitProperties(custom_metadata=dict(metadata or {}), app_transactions=txns),
        }
        write_deltalake(table if table is not None else uri, guard.as_reader(), **options)
    except Exception as exc:
        if guard.error is not None:
            raise guard.error from None
        raise StorageError(f"writing Delta table {uri} failed: {exc}") from exc
    if guard.error is not None:
        raise guard.error
    version = int(table.version()) if table is not None else table_version(uri, storage_options)
    return WriteResult(committed=True, num_rows=guard.rows, version=version)


def delete_all(
    uri: str,
    *,
    storage_options: Mapping[str, str] | None = None,
    metadata: Mapping[str, str] | None = None,
) -> bool:
    """Remove every row (a full refresh's truncate); False when there is no table."""
    from deltalake import CommitProperties

    if not is_delta_table(uri, storage_options):
        return False
    table = open_table(uri, storage_options)
    table.delete(commit_properties=CommitProperties(custom_metadata=dict(metadata or {})))
    return True


def column_max(uri: str, column: str, storage_options: Mapping[str, str] | None = None) -> Any:
    """The largest value of a top-level column from the file statistics (no data read).

    Falls back to scanning the column when a file has no statistics. None for an empty or
    missing table.
    """
    if not is_delta_table(uri, storage_options):
        return None
    table = open_table(uri, storage_options)
    actions = pa.table(table.get_add_actions(flatten=True))
    if actions.num_rows == 0:
        return None
    name = f"max.{column}"
    if name in actions.column_names and actions.column(name).null_count == 0:
        import pyarrow.compute as pc

        return pc.max(actions.column(name)).as_py()
    import pyarrow.compute as pc

    values = snapshot_dataset(uri, storage_options).to_table(columns=[column]).column(column)
    return pc.max(values).as_py() if len(values) else None


def compact(uri: str, storage_options: Mapping[str, str] | None = None) -> None:
    """Rewrite small data files into larger ones (OPTIMIZE; ``dataChange = false``)."""
    table = open_table(uri, storage_options)
    table.optimize.compact()


def history(uri: str, storage_options: Mapping[str, str] | None = None, limit: int | None = None) -> list[dict[str, Any]]:
    """The table's commit history, newest first."""
    return list(open_table(uri, storage_options).history(limit))


@dataclass(frozen=True)
class ColumnDetails:
    """One column of a Delta table: name, nullability and the ``comment`` metadata."""

    name: str
    nullable: bool
    comment: str | None


@dataclass(frozen=True)
class TableDetails:
    """What the Delta log says of a table (``DESCRIBE DETAIL``): no data file is read.

    ``num_records`` is None when a data file carries no row-count statistics.
    """

    version: int
    schema: pa.Schema
    columns: tuple[ColumnDetails, ...]
    description: str | None
    configuration: Mapping[str, str]
    partition_columns: tuple[str, ...]
    num_files: int
    size_bytes: int
    num_records: int | None
    last_commit: Mapping[str, Any]


def table_details(uri: str, storage_options: Mapping[str, str] | None = None) -> TableDetails | None:
    """The table's metadata, schema, file statistics and latest commit, or None when absent."""
    if not is_delta_table(uri, storage_options):
        return None
    table = open_table(uri, storage_options)
    metadata = table.metadata()
    fields = table.schema().fields
    adds = pa.table(table.get_add_actions(flatten=True))
    records = adds.column("num_records") if "num_records" in adds.column_names else None
    num_records = None if records is None or records.null_count else int(pc.sum(records).as_py() or 0)
    size = int(pc.sum(adds.column("size_bytes")).as_py() or 0) if adds.num_rows else 0
    last = table.history(1)
    return TableDetails(
        version=int(table.version()),
        schema=table_schema(uri, storage_options) or pa.schema([]),
        columns=tuple(ColumnDetails(f.name, bool(f.nullable), (f.metadata or {}).get("comment")) for f in fields),
        description=metadata.description,
        configuration=dict(metadata.configuration),
        partition_columns=tuple(metadata.partition_columns),
        num_files=adds.num_rows,
        size_bytes=size,
        num_records=num_records,
        last_commit=dict(last[0]) if last else {},
    )


def restore(uri: str, version: int, storage_options: Mapping[str, str] | None = None) -> dict[str, Any]:
    """Write a RESTORE commit that makes the table's current state that of ``version``.

    Returns Delta's restore metrics (``numRemovedFile``, ``numRestoredFile``, ...).
    """
    result = open_table(uri, storage_options).restore(version)
    return dict(result) if isinstance(result, Mapping) else {}


def time_travel_version(
    uri: str, kind: str, value: str, storage_options: Mapping[str, str] | None = None, *, name: str = ""
) -> int:
    """The version ``VERSION AS OF value`` / ``TIMESTAMP AS OF value`` reads, as Delta resolves it.

    A timestamp reads the last version committed at or before it; a naive timestamp is UTC.
    As on Delta, a version outside the table's history, a timestamp before its first
    commit or after its last one is an error, not the nearest version.

    Raises:
        StorageError: naming the table (``name``), what was asked and what is available.
    """
    label = name or uri
    commits = sorted((int(c["version"]), int(c["timestamp"])) for c in history(uri, storage_options) if "version" in c)
    if not commits:
        raise StorageError(f"table {label} has no history to time travel in")
    earliest, latest = commits[0], commits[-1]
    if kind.upper() == "VERSION":
        try:
            version = int(value)
        except ValueError:
            raise StorageError(f"VERSION AS OF needs an integer, not '{value}'") from None
        if not earliest[0] <= version <= latest[0]:
            raise StorageError(
                f"cannot time travel table {label} to version {version}: "
                f"available versions are {earliest[0]} to {latest[0]}"
            )
        return version
    try:
        wanted = datetime.fromisoformat(value.strip())
    except ValueError:
        raise StorageError(f"TIMESTAMP AS OF needs a timestamp such as '2026-01-31 12:00:00', not '{value}'") from None
    if wanted.tzinfo is None:
        wanted = wanted.replace(tzinfo=timezone.utc)
    millis = int(wanted.timestamp() * 1000)

    def shown(ms: int) -> str:
        return datetime.fromtimestamp(ms / 1000, timezone.utc).strftime("%Y-%m-%d %H:%M:%S.%f")[:-3]

    if millis < earliest[1]:
        raise StorageError(
            f"cannot time travel table {label} to {value}: it is before the earliest version "
            f"({earliest[0]}, committed {shown(earliest[1])} UTC)"
        )
    if millis > latest[1]:
        raise StorageError(
            f"cannot time travel table {label} to {value}: it is after the latest version "
            f"({latest[0]}, committed {shown(latest[1])} UTC); use {shown(latest[1])} or earlier"
        )
    return max(v for v, ms in commits if ms <= millis)


def commits_between(
    uri: str, start_exclusive: int, end_inclusive: int, storage_options: Mapping[str, str] | None = None
) -> list[CommitActions]:
    """Read the log entries of versions ``start_exclusive+1 .. end_inclusive``.

    Raises:
        StorageError: when a log entry is gone (log retention); a full refresh of the
            reading table is then needed.
    """
    fs, base = _filesystem(uri, storage_options)
    out = []
    for version in range(start_exclusive + 1, end_inclusive + 1):
        path = posixpath.join(base, "_delta_log", f"{version:020d}.json")
        try:
            with fs.open_input_stream(path) as stream:
                text = stream.read().decode("utf-8")
        except (FileNotFoundError, OSError) as exc:
            raise StorageError(
                f"Delta log entry {version} of {uri} is no longer available: {exc}",
                hint="run a full refresh of the tables that read it",
            ) from exc
        out.append(_parse_commit(version, text))
    return out


def _parse_commit(version: int, text: str) -> CommitActions:
    added: list[str] = []
    removed: list[str] = []
    txns: dict[str, int] = {}
    operation = ""
    for line in text.splitlines():
        if not line.strip():
            continue
        action = json.loads(line)
        if "add" in action and action["add"].get("dataChange", True):
            added.append(_unquote(action["add"]["path"]))
        elif "remove" in action and action["remove"].get("dataChange", True):
            removed.append(_unquote(action["remove"]["path"]))
        elif "txn" in action:
            txns[action["txn"]["appId"]] = int(action["txn"]["version"])
        elif "commitInfo" in action:
            operation = str(action["commitInfo"].get("operation", ""))
    return CommitActions(version, operation, tuple(added), tuple(removed), txns)


def _unquote(path: str) -> str:
    from urllib.parse import unquote

    return unquote(path)


def _filesystem(uri: str, storage_options: Mapping[str, str] | None) -> tuple[pafs.FileSystem, str]:
    if "://" not in uri:
        return pafs.LocalFileSystem(), uri
    try:
        fs, path = pafs.FileSystem.from_uri(uri)
        return fs, str(path)
    except Exception as exc:
        raise StorageError(f"cannot open storage '{uri}': {exc}") from exc
