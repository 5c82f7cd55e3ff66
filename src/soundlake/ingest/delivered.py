"""What bronze already holds: row hashes of committed batches, for re-reads without repeats.

A backfill (``--from-date``) re-reads every source row from its lower bound; only rows not
already in bronze may be delivered. The rows of the committed batch files with a CDC value
at or after the bound are hashed with the look-back window's row hash
(:func:`soundlake.ingest.window.row_hashes`) over the source's current columns; a file that
lacks a column (written before an ``ALTER TABLE ... ADD COLUMN``) hashes it as NULL, which
is how the source reads rows that never set it. The same hashes rebuild a lost or corrupt
window sidecar and seed the set of delivered NULL-CDC rows.
"""

from __future__ import annotations

import datetime as dt
import posixpath

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from soundlake.ingest.watermark import CdcValue, to_scalar
from soundlake.ingest.window import row_hashes, set_schema
from soundlake.lake.bronze import BronzeTable, committed_batch_files


def bronze_hashes(
    bronze: BronzeTable,
    schema: pa.Schema,
    cdc_col: str,
    lower: CdcValue | None,
    *,
    nulls: bool = False,
) -> pa.Table:
    """``(cdc, fp)`` of every committed bronze row with ``cdc_col >= lower``.

    Args:
        bronze: The table's bronze folders.
        schema: The source's current Arrow schema (hashes are over these columns).
        cdc_col: The CDC column (a name of ``schema``).
        lower: Inclusive lower bound; None for every non-NULL value.
        nulls: Hash the rows whose CDC value is NULL instead.
    """
    cdc_type = schema.field(cdc_col).type
    parts: list[pa.Table] = []
    for rel in committed_batch_files(bronze.lake, bronze.table):
        path = bronze.path(bronze.table, posixpath.basename(rel))
        with bronze.fs.open_input_file(path) as handle:
            parquet = pq.ParquetFile(handle)
            present = set(parquet.schema_arrow.names)
            if cdc_col not in present:
                continue
            wanted = [name for name in schema.names if name in present]
            groups = _row_groups(parquet, cdc_col, lower, nulls=nulls)
            if not groups:
                continue
            for batch in parquet.iter_batches(
                columns=wanted, batch_size=200_000, row_groups=groups
            ):
                conformed = _conform(batch, schema)
                if conformed is None:
                    continue
                cdc = conformed.column(cdc_col)
                if nulls:
                    mask = pc.is_null(cdc)
                elif lower is None:
                    mask = pc.is_valid(cdc)
                else:
                    mask = pc.fill_null(pc.greater_equal(cdc, to_scalar(lower, cdc.type)), False)
                rows = conformed.filter(mask)
                if rows.num_rows:
                    fps = pa.array(row_hashes(rows), pa.uint64())
                    parts.append(pa.table([rows.column(cdc_col), fps], schema=set_schema(cdc_type)))
    if not parts:
        return set_schema(cdc_type).empty_table()
    return pa.concat_tables(parts)


def _row_groups(
    parquet: pq.ParquetFile, cdc_col: str, lower: CdcValue | None, *, nulls: bool
) -> list[int]:
    """Row groups that may hold wanted rows, by the CDC column's statistics."""
    index = parquet.schema_arrow.get_field_index(cdc_col)
    meta = parquet.metadata
    groups = []
    for i in range(meta.num_row_groups):
        stats = meta.row_group(i).column(index).statistics
        if stats is None:
            groups.append(i)
        elif nulls:
            if not stats.has_null_count or stats.null_count > 0:
                groups.append(i)
        elif lower is None or not stats.has_min_max or _at_least(stats.max, lower):
            groups.append(i)
    return groups


def _at_least(value: object, lower: CdcValue) -> bool:
    """``value >= lower`` for a statistics maximum (True when they do not compare)."""
    try:
        if isinstance(value, dt.datetime) and value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return bool(value >= lower)  # type: ignore[operator]
    except TypeError:
        return True


def _conform(batch: pa.RecordBatch, schema: pa.Schema) -> pa.RecordBatch | None:
    """``batch`` with ``schema``'s columns and types (missing ones NULL); None if it cannot."""
    arrays = []
    for field in schema:
        index = batch.schema.get_field_index(field.name)
        if index < 0:
            arrays.append(pa.nulls(batch.num_rows, field.type))
            continue
        array = batch.column(index)
        try:
            arrays.append(array if array.type == field.type else pc.cast(array, field.type))
        except (pa.ArrowInvalid, pa.ArrowNotImplementedError):
            return None  # another writer's types: such rows are re-delivered (at least once)
    return pa.RecordBatch.from_arrays(
        arrays, schema=pa.schema([f.with_nullable(True) for f in schema])
    )


def hex_counts(hashes: np.ndarray) -> dict[str, int]:
    """Hashes as ``{hex: count}`` (the JSON form kept in ``cdc.json``)."""
    keys, counts = np.unique(np.asarray(hashes, dtype=np.uint64), return_counts=True)
    return {f"{int(k):016x}": int(c) for k, c in zip(keys, counts)}


def from_hex_counts(doc: dict[str, int] | None) -> np.ndarray:
    """The hashes of :func:`hex_counts` output, each repeated by its count."""
    if not doc:
        return np.zeros(0, dtype=np.uint64)
    keys = np.array([int(k, 16) for k in doc], dtype=np.uint64)
    return np.repeat(keys, [int(v) for v in doc.values()])
