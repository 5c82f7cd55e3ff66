"""Hard deletes in the source, detected by a key-set comparison (``deletes: true``).

A watermark only sees rows that exist; a row deleted in the source leaves no trace. For
a table with ``deletes: true`` every run also reads the source's key set (the key
columns of every row: ``key:`` in ``ingest.tables``, else the primary key) and compares
it with the keys delivered so far and not deleted (a Parquet sidecar in
``bronze/<T>_cdc/_keys/``, named by ``cdc.json`` and replaced like the look-back set).
Each key that is gone becomes a *delete event* in the run's batch file: the key columns
set, every other column NULL, the CDC column set to the ingest time, and ``_deleted`` =
true. Ordinary rows of such a table carry ``_deleted`` NULL. Delete events never move
the watermark.
"""

from __future__ import annotations

import datetime as dt
import posixpath
from dataclasses import replace

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from soundlake.core.errors import ConfigError, StorageError
from soundlake.ingest.config import IngestTable
from soundlake.ingest.watermark import CdcKind
from soundlake.lake.bronze import KEYS_DIR, BronzeTable, committed_batch_files
from soundlake.source.introspect import TableInfo
from soundlake.source.reader import ReadRequest, read_batches

DELETED = "_deleted"
"""The boolean column of bronze files of tables with ``deletes: true``."""


def key_columns(spec: IngestTable, info: TableInfo, kind: CdcKind) -> list[str]:
    """The key columns of a table with ``deletes: true``, as named in the source.

    Raises:
        ConfigError: naming the table when it has no key or its CDC column is an integer.
    """
    names = list(spec.key or info.primary_key)
    if not names:
        raise ConfigError(
            f"table {spec.table}: deletes: true needs the table's key",
            hint="add key: [col, ...] to its ingest.tables entry or declare a primary key",
        )
    if kind == "integer":
        raise ConfigError(
            f"table {spec.table}: deletes: true needs a DATE or TIMESTAMP CDC column "
            "(delete events carry the ingest time)"
        )
    columns = [info.column(name).name for name in names]
    if DELETED in {c.name for c in info.columns}:
        raise ConfigError(f"table {spec.table}: a source column is named {DELETED}")
    return columns


def write_schema(info: TableInfo) -> pa.Schema:
    """The bronze schema of a table with deletes: the source's columns and ``_deleted``."""
    fields = [f.with_nullable(True) for f in info.arrow_schema]  # delete events: NULLs
    return pa.schema([*fields, pa.field(DELETED, pa.bool_())])


def with_flag(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch:
    """``batch`` with a NULL ``_deleted`` column (ordinary rows)."""
    arrays = [*batch.columns, pa.nulls(batch.num_rows, pa.bool_())]
    return pa.RecordBatch.from_arrays(arrays, schema=schema)


def _key_schema(info: TableInfo, keys: list[str]) -> pa.Schema:
    return pa.schema([pa.field(k, info.column(k).arrow_type) for k in keys])


def _distinct(table: pa.Table, keys: list[str]) -> pa.Table:
    table = table.select(keys)
    for k in keys:
        table = table.filter(pc.is_valid(table.column(k)))
    if table.num_rows == 0:
        return table
    return table.group_by(keys, use_threads=False).aggregate([]).select(keys)


def source_keys(info: TableInfo, keys: list[str], batch_rows: int) -> pa.Table:
    """The keys of every row now in the source table (repeats possible)."""
    reduced = replace(info, columns=tuple(info.column(k) for k in keys))
    request = ReadRequest(reduced, keys[0], None, batch_rows)
    schema = _key_schema(info, keys)
    parts = [pa.Table.from_batches([b]).cast(schema) for b in read_batches(request)]
    return pa.concat_tables([schema.empty_table(), *parts])


def known_keys(bronze: BronzeTable, info: TableInfo, keys: list[str], name: str | None) -> pa.Table:
    """The keys delivered so far and not deleted: the sidecar, else rebuilt from bronze.

    Rebuilding takes the last event of each key in the committed batch files (file order,
    then row order): keys whose last event is a delete are left out.
    """
    schema = _key_schema(info, keys)
    if name is not None:
        try:
            return bronze.read_fingerprints(name, KEYS_DIR).select(keys).cast(schema)
        except (StorageError, pa.ArrowInvalid, KeyError):
            name = None  # a damaged sidecar is rebuilt from bronze
    parts: list[pa.Table] = []
    order = 0
    for rel in committed_batch_files(bronze.lake, bronze.table):
        path = bronze.path(bronze.table, posixpath.basename(rel))
        with bronze.fs.open_input_file(path) as handle:
            parquet = pq.ParquetFile(handle)
            present = set(parquet.schema_arrow.names)
            if not set(keys) <= present:
                continue
            wanted = keys + ([DELETED] if DELETED in present else [])
            for batch in parquet.iter_batches(columns=wanted, batch_size=200_000):
                part = pa.Table.from_batches([batch])
                flag = (
                    part.column(DELETED)
                    if DELETED in present
                    else pa.nulls(part.num_rows, pa.bool_())
                )
                seq = pa.array(range(order, order + part.num_rows), pa.int64())
                order += part.num_rows
                cols = [part.column(k).cast(schema.field(k).type) for k in keys]
                parts.append(
                    pa.table(
                        [*cols, pc.fill_null(flag, False), seq], names=[*keys, DELETED, "_seq"]
                    )
                )
    if not parts:
        return schema.empty_table()
    events = pa.concat_tables(parts).sort_by("_seq")
    last = events.group_by(keys, use_threads=False).aggregate([(DELETED, "last")])
    alive = last.filter(pc.invert(last.column(f"{DELETED}_last")))
    return alive.select(keys).cast(schema)


def compare(
    known: pa.Table, delivered: pa.Table, source: pa.Table, keys: list[str]
) -> tuple[pa.Table, pa.Table]:
    """The keys deleted in the source, and the keys delivered and alive after this run.

    Both sorted. A single integer key is compared with sorted NumPy arrays (10M keys in
    a few seconds); other keys with Arrow hash joins.
    """
    if len(keys) == 1 and pa.types.is_integer(known.schema.field(keys[0]).type):
        return _compare_ints(known, delivered, source, keys[0])
    everything = _distinct(pa.concat_tables([known, delivered.cast(known.schema)]), keys)
    if everything.num_rows == 0:
        return everything, everything
    source = source.cast(known.schema)
    gone = everything.join(source, keys, join_type="left anti").select(keys)
    alive = everything.join(source, keys, join_type="left semi").select(keys)
    return gone.sort_by([(k, "ascending") for k in keys]), alive.sort_by(
        [(k, "ascending") for k in keys]
    )


def _compare_ints(
    known: pa.Table, delivered: pa.Table, source: pa.Table, key: str
) -> tuple[pa.Table, pa.Table]:
    def values(table: pa.Table) -> np.ndarray:
        column = pc.drop_null(table.column(key)).combine_chunks()
        return np.asarray(column.to_numpy(zero_copy_only=False), dtype=np.int64)

    everything = _sorted_unique(np.concatenate([values(known), values(delivered)]))
    present = _sorted_unique(values(source))
    found = np.zeros(len(everything), dtype=bool)
    if len(present):
        pos = np.minimum(np.searchsorted(present, everything), len(present) - 1)
        found = present[pos] == everything
    gone, alive = everything[~found], everything[found]
    key_type = known.schema.field(key).type

    def table(array: np.ndarray) -> pa.Table:
        return pa.table({key: pa.array(array, pa.int64()).cast(key_type)})

    return table(gone), table(alive)


def _sorted_unique(values: np.ndarray) -> np.ndarray:
    """Sorted distinct values (a sort and a mask: faster than ``np.unique`` here)."""
    ordered = np.sort(values)
    if len(ordered) == 0:
        return ordered
    return ordered[np.r_[True, ordered[1:] != ordered[:-1]]]


def delete_events(
    gone: pa.Table, schema: pa.Schema, cdc_col: str, kind: CdcKind, now: dt.datetime
) -> pa.RecordBatch:
    """One delete event per key of ``gone`` (keys set, CDC = ``now``, ``_deleted`` true)."""
    n = gone.num_rows
    naive = now.astimezone(dt.timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    arrays: list[pa.Array] = []
    for field in schema:
        if field.name in gone.column_names:
            arrays.append(gone.column(field.name).combine_chunks().cast(field.type))
        elif field.name == cdc_col:
            value: dt.date | dt.datetime = naive.date() if kind == "date" else naive
            if pa.types.is_timestamp(field.type) and field.type.tz:
                value = naive.replace(tzinfo=dt.timezone.utc)
            arrays.append(pa.array([value] * n, field.type))
        elif field.name == DELETED:
            arrays.append(pa.array([True] * n, pa.bool_()))
        else:
            arrays.append(pa.nulls(n, field.type))
    return pa.RecordBatch.from_arrays(arrays, schema=schema)
