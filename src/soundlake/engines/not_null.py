"""NOT NULL columns of a declared schema, checked on the Arrow batches an engine writes."""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import pyarrow as pa

from soundlake.core.errors import ConstraintViolation


def not_null_reader(reader: pa.RecordBatchReader, columns: Sequence[str]) -> pa.RecordBatchReader:
    """``reader`` with ``columns`` marked non-nullable; a batch holding a NULL there raises.

    The error is raised while the writer pulls the batch, so the write's commit is
    abandoned and the table is left as it was.

    Raises:
        ConstraintViolation: (while reading) a NOT NULL column holds a NULL, or the
            stream lacks a NOT NULL column.
    """
    if not columns:
        return reader
    schema = reader.schema
    wanted = set(columns)
    missing = [c for c in columns if c not in schema.names]
    if missing:
        raise ConstraintViolation(f"NOT NULL column '{missing[0]}' is not among the columns written", column=missing[0])
    strict = pa.schema(
        [f.with_nullable(False) if f.name in wanted else f for f in schema], metadata=schema.metadata
    )
    return pa.RecordBatchReader.from_batches(strict, _checked(reader, strict, [c for c in schema.names if c in wanted]))


def _checked(reader: pa.RecordBatchReader, strict: pa.Schema, columns: list[str]) -> Iterator[pa.RecordBatch]:
    for batch in reader:
        for name in columns:
            if batch.column(name).null_count:
                raise ConstraintViolation(f"NOT NULL column '{name}' holds NULL in a row to be written", column=name)
        yield pa.RecordBatch.from_arrays(batch.columns, schema=strict)
