"""NOT NULL columns and column comments of a declared schema, on the Arrow batches an engine writes."""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence

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


def commented_reader(reader: pa.RecordBatchReader, comments: Mapping[str, str]) -> pa.RecordBatchReader:
    """``reader`` whose fields carry their declared comment as field metadata ``comment``
    (what Delta stores as the column's comment, as Spark writes it)."""
    if not comments:
        return reader
    schema = reader.schema
    fields = []
    for f in schema:
        comment = comments.get(f.name)
        fields.append(f.with_metadata({**(f.metadata or {}), b"comment": comment.encode()}) if comment else f)
    described = pa.schema(fields, metadata=schema.metadata)
    return pa.RecordBatchReader.from_batches(
        described, (pa.RecordBatch.from_arrays(b.columns, schema=described) for b in reader)
    )
