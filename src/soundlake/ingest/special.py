"""Rows outside the watermark's order: NULL CDC values and values in the future.

Neither kind can move a watermark: a NULL has no order, and a value beyond *now plus
``ingest.future_tolerance``* (a clock error, a typo such as 2099) would hide every later
row behind it. Both are delivered once: every run reads them all (``cdc IS NULL`` and,
being above the watermark, every future row), drops those whose row hash is in the set
of such rows delivered before, delivers the rest, and keeps the hashes of all the rows it
saw of each kind as the next set (a row that left the source leaves the set). The two
sets live in ``cdc.json`` (``soundlake.nulls``, ``soundlake.future``: hash -> count).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from soundlake.ingest.config import parse_lookback
from soundlake.ingest.delivered import from_hex_counts, hex_counts
from soundlake.ingest.watermark import CdcKind, CdcValue, to_scalar
from soundlake.ingest.window import HashMultiset, row_hashes


def future_limit(kind: CdcKind, tolerance: str, now: dt.datetime) -> CdcValue | None:
    """The largest CDC value that may move the watermark (None for integer columns)."""
    if kind == "integer":
        return None
    naive = now.astimezone(dt.timezone.utc).replace(tzinfo=None) if now.tzinfo else now
    top = naive + dt.timedelta(seconds=parse_lookback(tolerance).seconds)
    return top.date() if kind == "date" else top


@dataclass
class SpecialRows:
    """Splits batches into ordinary rows and NULL/future rows, delivering the latter once.

    Attributes:
        cdc_index: Position of the CDC column.
        limit: Values above it are future rows (None: no limit).
        null_rows, future_rows: Rows of each kind delivered by this run.
        future_max: The largest future value delivered by this run.
    """

    cdc_index: int
    limit: CdcValue | None
    known_nulls: dict[str, int] | None = None
    known_future: dict[str, int] | None = None
    null_rows: int = 0
    future_rows: int = 0
    future_max: CdcValue | None = None
    _nulls: HashMultiset = field(init=False, repr=False)
    _future: HashMultiset = field(init=False, repr=False)
    _seen_nulls: list[np.ndarray] = field(default_factory=list, repr=False)
    _seen_future: list[np.ndarray] = field(default_factory=list, repr=False)

    def __post_init__(self) -> None:
        self._nulls = HashMultiset(from_hex_counts(self.known_nulls))
        self._future = HashMultiset(from_hex_counts(self.known_future))

    def split(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, pa.RecordBatch | None]:
        """The ordinary rows of ``batch`` and the NULL/future rows to deliver (None: none)."""
        cdc = batch.column(self.cdc_index)
        special = pc.is_null(cdc)
        if self.limit is not None:
            beyond = pc.fill_null(pc.greater(cdc, to_scalar(self.limit, cdc.type)), False)
            special = pc.or_(special, beyond)
        if not pc.any(special).as_py():
            return self._settled(batch), None
        rows = batch.filter(special)
        normal = self._settled(batch.filter(pc.invert(special)))
        fps = row_hashes(rows)
        is_null = pc.is_null(rows.column(self.cdc_index)).to_numpy(zero_copy_only=False)
        matched = np.zeros(rows.num_rows, dtype=bool)
        matched[is_null] = self._nulls.consume(fps[is_null])
        matched[~is_null] = self._future.consume(fps[~is_null])
        self._seen_nulls.append(fps[is_null])
        self._seen_future.append(fps[~is_null])
        deliver = rows.filter(pa.array(~matched))
        new_nulls = int((is_null & ~matched).sum())
        self.null_rows += new_nulls
        self.future_rows += int((~matched).sum()) - new_nulls
        future = deliver.column(self.cdc_index).filter(pc.is_valid(deliver.column(self.cdc_index)))
        if len(future):
            top = pc.max(future).as_py()
            if isinstance(top, dt.datetime) and top.tzinfo is not None:
                top = top.astimezone(dt.timezone.utc).replace(tzinfo=None)
            if self.future_max is None or top > self.future_max:
                self.future_max = top
        return normal, deliver if deliver.num_rows else None

    def _settled(self, normal: pa.RecordBatch) -> pa.RecordBatch:
        """Drop rows delivered as future rows whose value is no longer beyond the limit.

        Time caught up with them: they stay in the future set (and out of the watermark)
        for as long as runs read them, so they are never delivered twice.
        """
        if not self._future or normal.num_rows == 0:
            return normal
        fps = row_hashes(normal)
        known = self._future.consume(fps)
        if not known.any():
            return normal
        self._seen_future.append(fps[known])
        return normal.filter(pa.array(~known))

    def next_nulls(self) -> dict[str, int]:
        """Hashes of every NULL-CDC row read in this run (delivered now or before)."""
        return hex_counts(np.concatenate([np.zeros(0, np.uint64), *self._seen_nulls]))

    def next_future(self) -> dict[str, int]:
        """Hashes of every future row read in this run (delivered now or before)."""
        return hex_counts(np.concatenate([np.zeros(0, np.uint64), *self._seen_future]))
