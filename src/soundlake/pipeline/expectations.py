"""Expectations: evaluate rules per row, then keep, drop, quarantine or fail.

A rule is violated only when its condition is FALSE: NULL is not a violation (SQL CHECK
semantics). The engine computes one boolean flag per rule
(``coalesce(NOT (cond), false)``) next to the row; the split below runs per Arrow batch.

Precedence for a row that violates several rules: fail > quarantine > drop > warn.
Every input row ends up in exactly one of: written, dropped, quarantined (the flow fails
as a whole on a FAIL rule, writing nothing).
"""

from __future__ import annotations

import json
import os
import shutil
import tempfile
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import sqlglot

from soundlake.core.errors import DefinitionError, ExpectationViolation
from soundlake.pipeline.definitions import Expectation

FLAG_PREFIX = "__sl_violates_"
SPILL_ROWS = 65_536
QUARANTINE_COLUMNS = ("_failed_expectations", "_flow", "_run_id", "_batch_id", "_quarantined_at")


def transpile_condition(condition: str, dialect: str) -> str:
    """Transpile a Spark SQL boolean expression to ``dialect``.

    Raises:
        DefinitionError: when the expression does not parse.
    """
    if dialect == "spark":
        return condition
    try:
        return str(sqlglot.transpile(condition, read="spark", write=dialect)[0])
    except sqlglot.errors.ParseError as exc:
        raise DefinitionError(f"expectation condition '{condition}' does not parse: {exc}") from exc


def flagged_query(sql: str, expectations: Sequence[Expectation], dialect: str) -> str:
    """Wrap ``sql`` so that each row carries one violation flag per expectation."""
    if not expectations:
        return sql
    flags = ", ".join(
        f"coalesce(NOT ({transpile_condition(e.condition, dialect)}), false) AS {FLAG_PREFIX}{i}"
        for i, e in enumerate(expectations)
    )
    return f"SELECT __sl_q.*, {flags} FROM ({sql}) AS __sl_q"


@dataclass
class ExpectationMetrics:
    """Counts for one update of one flow; every input row is accounted for."""

    dataset: str
    names: tuple[str, ...]
    input_rows: int = 0
    output_rows: int = 0
    dropped_rows: int = 0
    quarantined_rows: int = 0
    failed: list[int] = field(default_factory=list)

    def __post_init__(self) -> None:
        if not self.failed:
            self.failed = [0] * len(self.names)

    def as_data_quality(self) -> dict[str, object]:
        """The ``data_quality`` part of a ``flow_progress`` event."""
        return {
            "dropped_records": self.dropped_rows,
            "quarantined_records": self.quarantined_rows,
            "expectations": [
                {
                    "name": name,
                    "dataset": self.dataset,
                    "passed_records": self.input_rows - failed,
                    "failed_records": failed,
                }
                for name, failed in zip(self.names, self.failed)
            ],
        }


class ExpectationSplitter:
    """Splits flagged batches into target rows and quarantine rows, counting as it goes.

    Args:
        dataset: The target dataset name (for metrics and messages).
        flow: The flow name.
        expectations: The dataset's rules, in flag order.
        run_id: The update id, written to quarantine rows.
        batch_id: The flow's batch number, written to quarantine rows.
        now: The quarantine time.
    """

    def __init__(
        self,
        dataset: str,
        flow: str,
        expectations: Sequence[Expectation],
        *,
        run_id: str,
        batch_id: int,
        now: datetime,
    ) -> None:
        self.dataset = dataset
        self.flow = flow
        self.expectations = tuple(expectations)
        self.metrics = ExpectationMetrics(dataset, tuple(e.name for e in expectations))
        self.quarantine: list[pa.RecordBatch] = []
        self._buffered = 0
        self._spill: Any = None  # (tempdir, ParquetWriter, path) once rows spill to disk
        self.run_id = run_id
        self.batch_id = batch_id
        self.now = now
        self._out_schema: pa.Schema | None = None
        self._q_schema: pa.Schema | None = None

    @property
    def has_quarantine(self) -> bool:
        """True when some rule quarantines."""
        return any(e.action == "quarantine" for e in self.expectations)

    def output_schema(self, flagged: pa.Schema) -> pa.Schema:
        """The target schema: the flagged schema without flag columns."""
        return pa.schema([f for f in flagged if not f.name.startswith(FLAG_PREFIX)])

    def quarantine_schema(self, flagged: pa.Schema) -> pa.Schema:
        """The quarantine table schema: target columns plus failure metadata."""
        return self.output_schema(flagged).append(pa.field("_failed_expectations", pa.list_(pa.string()))).append(
            pa.field("_flow", pa.string())
        ).append(pa.field("_run_id", pa.string())).append(pa.field("_batch_id", pa.int64())).append(
            pa.field("_quarantined_at", pa.timestamp("us", tz="UTC"))
        )

    def split(self, reader: pa.RecordBatchReader) -> pa.RecordBatchReader:
        """Stream the rows to keep; collect quarantine rows; raise on a FAIL rule."""
        schema = self.output_schema(reader.schema)
        if not self.expectations:
            return pa.RecordBatchReader.from_batches(schema, self._count_only(reader))
        return pa.RecordBatchReader.from_batches(schema, self._split(reader, schema))

    def _count_only(self, reader: pa.RecordBatchReader) -> Iterator[pa.RecordBatch]:
        for batch in reader:
            self.metrics.input_rows += batch.num_rows
            self.metrics.output_rows += batch.num_rows
            yield batch

    def _split(self, reader: pa.RecordBatchReader, schema: pa.Schema) -> Iterator[pa.RecordBatch]:
        n_data = len(schema)
        for batch in reader:
            if batch.num_rows == 0:
                continue
            flags = [batch.column(n_data + i) for i in range(len(self.expectations))]
            data = pa.RecordBatch.from_arrays(batch.columns[:n_data], schema=schema)
            self.metrics.input_rows += batch.num_rows
            drop = quarantine = None
            for i, (rule, flag) in enumerate(zip(self.expectations, flags)):
                failed = int(pc.sum(flag).as_py() or 0)
                self.metrics.failed[i] += failed
                if not failed:
                    continue
                if rule.action == "fail":
                    raise ExpectationViolation(self._fail_message(rule, data, flag))
                if rule.action == "drop":
                    drop = flag if drop is None else pc.or_(drop, flag)
                elif rule.action == "quarantine":
                    quarantine = flag if quarantine is None else pc.or_(quarantine, flag)
            removed = None
            if quarantine is not None:
                self._keep_quarantined(self._quarantine_rows(data, flags, quarantine))
                self.metrics.quarantined_rows += int(pc.sum(quarantine).as_py() or 0)
                removed = quarantine
            if drop is not None:
                dropped_only = drop if quarantine is None else pc.and_(drop, pc.invert(quarantine))
                self.metrics.dropped_rows += int(pc.sum(dropped_only).as_py() or 0)
                removed = drop if removed is None else pc.or_(removed, drop)
            kept = data if removed is None else data.filter(pc.invert(removed))
            self.metrics.output_rows += kept.num_rows
            if kept.num_rows:
                yield kept

    def _quarantine_rows(self, data: pa.RecordBatch, flags: list[pa.Array], mask: pa.Array) -> pa.RecordBatch:
        rows = data.filter(mask)
        picked = [f.filter(mask).to_pylist() for f in flags]
        names = [[e.name for e, col in zip(self.expectations, picked) if col[i]] for i in range(rows.num_rows)]
        n = rows.num_rows
        extra = [
            pa.array(names, type=pa.list_(pa.string())),
            pa.repeat(pa.scalar(self.flow), n),
            pa.repeat(pa.scalar(self.run_id), n),
            pa.repeat(pa.scalar(self.batch_id, pa.int64()), n),
            pa.repeat(pa.scalar(self.now, pa.timestamp("us", tz="UTC")), n),
        ]
        return pa.RecordBatch.from_arrays(
            list(rows.columns) + extra, schema=self.quarantine_schema(rows.schema)
        )

    def _fail_message(self, rule: Expectation, data: pa.RecordBatch, flag: pa.Array) -> str:
        example = data.filter(flag).slice(0, 1).to_pylist()
        row = json.dumps(example[0], default=str)[:500] if example else "{}"
        return (
            f"expectation '{rule.name}' (ON VIOLATION FAIL UPDATE) failed on dataset {self.dataset} "
            f"in flow '{self.flow}': condition ({rule.condition}) is false for row {row}; "
            f"the flow wrote nothing ({rule.location})"
        )

    def _keep_quarantined(self, rows: pa.RecordBatch) -> None:
        """Buffer quarantined rows; past SPILL_ROWS they go to a temporary Parquet file."""
        self.quarantine.append(rows)
        self._buffered += rows.num_rows
        if self._buffered < SPILL_ROWS:
            return
        import pyarrow.parquet as pq

        if self._spill is None:
            folder = tempfile.mkdtemp(prefix="soundlake-quarantine-")
            path = os.path.join(folder, "rows.parquet")
            self._spill = (folder, pq.ParquetWriter(path, rows.schema), path)
        for batch in self.quarantine:
            self._spill[1].write_batch(batch)
        self.quarantine, self._buffered = [], 0

    def quarantine_table(self, flagged_schema: pa.Schema) -> pa.Table | pa.RecordBatchReader:
        """The quarantined rows (a reader over spilled rows plus the buffered ones)."""
        schema = self.quarantine_schema(self.output_schema(flagged_schema))
        if self._spill is None:
            return pa.Table.from_batches(self.quarantine, schema=schema)
        import pyarrow.parquet as pq

        folder, writer, path = self._spill
        writer.close()
        rest = list(self.quarantine)

        def batches() -> Iterator[pa.RecordBatch]:
            try:
                yield from pq.ParquetFile(path).iter_batches(batch_size=65_536)
                yield from rest
            finally:
                shutil.rmtree(folder, ignore_errors=True)

        return pa.RecordBatchReader.from_batches(schema, batches())
