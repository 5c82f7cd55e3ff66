"""The look-back window: re-read recent rows, deliver only those not delivered yet.

With ``lookback`` L, a run reads ``cdc_col >= watermark - L`` and drops the rows whose
content fingerprint is in the *window set*: a multiset of 64-bit row-content hashes of
every row delivered with a CDC value inside the window. It then commits the new
watermark (the largest value written, never backwards) and the set of the new window
(older entries pruned). With L = 0 the set is exactly the rows at the watermark value
(the tie boundary), so the window generalises the tie handling.

The set lives in a Parquet sidecar next to ``cdc.json`` (see ``lake.bronze``), written
under a new name before ``cdc.json`` is replaced to point at it.

Row hashes are vectorised: each column becomes 64 bits per row (fixed-width values by
their bits; strings and other types through ``dictionary_encode`` and one BLAKE2b per
distinct value), mixed with the splitmix64 finaliser and folded column by column.
Matching is vectorised too (:class:`HashMultiset`: the set's distinct hashes sorted,
with a count each; a batch probes them with ``searchsorted`` and consumes counts in row
order), so re-reading a window of a million rows costs about as much as reading them.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections import Counter
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from soundlake.core.errors import ConfigError
from soundlake.ingest.config import Lookback, parse_lookback
from soundlake.ingest.watermark import CdcKind, CdcValue, delivered_mask, to_scalar

HASH_NAME = "sl64-1"
"""Name of the row hash stored with each window set (a new hash means a new name)."""

LookbackValue = dt.timedelta | int
_M1 = np.uint64(0xBF58476D1CE4E5B9)
_M2 = np.uint64(0x94D049BB133111EB)
_GOLDEN = np.uint64(0x9E3779B97F4A7C15)
_NULL = np.uint64(0x6A09E667F3BCC909)
_MASK = (1 << 64) - 1
_SALT_STRING = b"soundlake-row-v1"


def lookback_value(text: str, kind: CdcKind, table: str) -> LookbackValue | None:
    """The window length for a CDC column of ``kind`` (None for a zero window).

    Raises:
        ConfigError: naming ``table`` when the duration does not suit the column.
    """
    try:
        parsed: Lookback = parse_lookback(text)
    except ValueError as exc:
        raise ConfigError(f"table {table}: {exc}") from None
    if parsed.is_zero:
        return None
    if kind == "integer":
        if parsed.unit:
            raise ConfigError(
                f"table {table}: lookback '{text}' has a time unit but the CDC column is an "
                "integer: give a bare number of CDC units"
            )
        return parsed.amount
    if not parsed.unit:
        raise ConfigError(f"table {table}: lookback '{text}' needs a unit (w, d, h, m or s)")
    if kind == "date" and parsed.seconds % 86_400:
        raise ConfigError(
            f"table {table}: lookback '{text}' is not a whole number of days, "
            "but the CDC column is a DATE"
        )
    return dt.timedelta(seconds=parsed.seconds)


def window_start(value: CdcValue, lookback: LookbackValue | None) -> CdcValue:
    """``value - lookback``, clamped at the smallest value of its type."""
    if lookback is None:
        return value
    if isinstance(value, int):
        return value - int(lookback)  # type: ignore[arg-type]
    try:
        return value - lookback  # type: ignore[operator]
    except OverflowError:
        return dt.datetime.min if isinstance(value, dt.datetime) else dt.date.min


# --- row hashes --------------------------------------------------------------------------


def _mix(x: np.ndarray) -> np.ndarray:
    x = x ^ (x >> np.uint64(30))
    x = x * _M1
    x = x ^ (x >> np.uint64(27))
    x = x * _M2
    return x ^ (x >> np.uint64(31))  # type: ignore[no-any-return, unused-ignore]


def _fixed_bits(array: pa.Array) -> np.ndarray | None:
    """64 bits per value of a fixed-width column (None for other types)."""
    t = array.type
    if pa.types.is_boolean(t) or pa.types.is_integer(t):
        ints = pc.cast(array, pa.int64())
    elif pa.types.is_floating(t):
        floats = pc.cast(array, pa.float64()).fill_null(0.0).to_numpy(zero_copy_only=False)
        return floats.view(np.uint64)  # type: ignore[no-any-return, unused-ignore]
    elif pa.types.is_timestamp(t) or pa.types.is_time64(t) or pa.types.is_duration(t):
        ints = array.view(pa.int64())
    elif pa.types.is_date32(t) or pa.types.is_time32(t):
        ints = pc.cast(array.view(pa.int32()), pa.int64())
    elif pa.types.is_date64(t):
        ints = array.view(pa.int64())
    else:
        return None
    return ints.fill_null(0).to_numpy(zero_copy_only=False).view(np.uint64)  # type: ignore[no-any-return, unused-ignore]


def _dictionary_bits(array: pa.Array) -> np.ndarray:
    """64 bits per value through the column's distinct values (one BLAKE2b each)."""
    if pa.types.is_dictionary(array.type):
        array = array.dictionary_decode()
    if not (
        pa.types.is_string(array.type)
        or pa.types.is_large_string(array.type)
        or pa.types.is_binary(array.type)
        or pa.types.is_large_binary(array.type)
    ):
        array = pc.cast(array, pa.large_string())
    encoded = pc.dictionary_encode(array)
    values = encoded.dictionary.to_pylist()
    digests = np.fromiter(
        (
            int.from_bytes(
                hashlib.blake2b(
                    v.encode("utf-8") if isinstance(v, str) else bytes(v),
                    digest_size=8,
                    key=_SALT_STRING,
                ).digest(),
                "little",
            )
            for v in values
        ),
        dtype=np.uint64,
        count=len(values),
    )
    indices = encoded.indices.fill_null(0).to_numpy(zero_copy_only=False)
    if len(digests) == 0:
        return np.zeros(len(array), dtype=np.uint64)
    return digests[indices]  # type: ignore[no-any-return, unused-ignore]


def row_hashes(batch: pa.RecordBatch | pa.Table) -> np.ndarray:
    """A 64-bit content hash of every row (all columns, in order; NULL is a value)."""
    n = batch.num_rows
    h = np.full(n, _GOLDEN, dtype=np.uint64)
    for i, column in enumerate(batch.columns):
        array = column.combine_chunks() if isinstance(column, pa.ChunkedArray) else column
        bits = _fixed_bits(array)
        if bits is None:
            bits = _dictionary_bits(array)
        bits = _mix(bits + np.uint64(((i + 1) * int(_GOLDEN)) & _MASK))
        if array.null_count:
            valid = array.is_valid().to_numpy(zero_copy_only=False)
            bits = np.where(valid, bits, _NULL)
        h = _mix((h * _M1) ^ bits)
    return h


# --- the window set ----------------------------------------------------------------------


def set_schema(cdc_type: pa.DataType) -> pa.Schema:
    """The sidecar's schema: one row per delivered row inside the window."""
    return pa.schema([pa.field("cdc", cdc_type), pa.field("fp", pa.uint64())])


def empty_set(cdc_type: pa.DataType) -> pa.Table:
    """A window set without entries."""
    return set_schema(cdc_type).empty_table()


def since_filter(entries: pa.Table, since: CdcValue | None) -> pa.Table:
    """The entries whose CDC value is at or after ``since`` (None: none)."""
    if since is None:
        return entries.slice(0, 0)
    cdc = entries.column("cdc")
    return entries.filter(pc.fill_null(pc.greater_equal(cdc, to_scalar(since, cdc.type)), False))


def combine_sets(old: pa.Table, new: pa.Table, *, mode: str) -> pa.Table:
    """Old and new entries: summed for incremental runs, per-hash maximum for a backfill.

    A backfill re-read every row from its lower bound, so the number of deliveries of a
    content hash it found is the larger of the two counts, not their sum: of the new
    entries, those beyond the old count of their hash are kept.
    """
    both = pa.concat_tables([old, new.cast(old.schema)])
    if mode != "backfill" or old.num_rows == 0:
        return both
    extra = ~HashMultiset(old.column("fp").to_numpy()).consume(new.column("fp").to_numpy())
    return pa.concat_tables([old, new.cast(old.schema).filter(pa.array(extra))])


class HashMultiset:
    """A multiset of 64-bit hashes that rows consume, vectorised (sorted keys, counts)."""

    def __init__(self, hashes: np.ndarray) -> None:
        ordered = np.sort(np.asarray(hashes, dtype=np.uint64))
        if len(ordered) == 0:
            self._keys = ordered
            self._counts = np.zeros(0, dtype=np.int64)
        else:
            starts = np.flatnonzero(np.r_[True, ordered[1:] != ordered[:-1]])
            self._keys = ordered[starts]
            self._counts = np.diff(np.r_[starts, len(ordered)]).astype(np.int64)
        self._left = int(self._counts.sum())

    def __len__(self) -> int:
        return self._left

    def consume(self, hashes: np.ndarray, eligible: np.ndarray | None = None) -> np.ndarray:
        """Mark the rows whose hash is still in the set, taking one count each.

        Of ``k`` rows with the same hash and ``c`` counts left, the first ``min(k, c)``
        (in row order) are marked. Rows where ``eligible`` is False are never marked.
        """
        n = len(hashes)
        marked = np.zeros(n, dtype=bool)
        if n == 0 or self._left == 0:
            return marked
        # probing in sorted order is cache friendly (~5x faster than random probes); the
        # stable sort keeps the rows of one hash in row order
        order = np.argsort(hashes, kind="stable")
        probes = hashes[order]
        pos = np.minimum(np.searchsorted(self._keys, probes), len(self._keys) - 1)
        hit = self._keys[pos] == probes
        if eligible is not None:
            hit &= eligible[order]
        selected = np.flatnonzero(hit)
        if len(selected) == 0:
            return marked
        grouped = pos[selected]  # non-decreasing: one run per distinct hash
        starts = np.flatnonzero(np.r_[True, grouped[1:] != grouped[:-1]])
        sizes = np.diff(np.r_[starts, len(grouped)])
        rank = np.arange(len(grouped)) - np.repeat(starts, sizes)
        taken = rank < self._counts[grouped]
        marked[order[selected[taken]]] = True
        used = grouped[starts]
        took = np.minimum(sizes, self._counts[used])
        self._counts[used] -= took
        self._left -= int(took.sum())
        return marked


class WindowFilter:
    """Hashes the rows read and drops those the window set says were delivered.

    Attributes:
        cdc_index: Position of the CDC column.
        delivered: Rows of earlier runs recognised in this run by the tie boundary of a
            ``cdc.json`` from before the window (their new hashes join the next set).
        prefix: When columns were appended to the source since the last batch, how many
            it had: a row whose appended columns are NULL and whose hash over the first
            ``prefix`` columns is in the set was delivered (it is not delivered again,
            and joins the next set under its new hash).
    """

    def __init__(
        self,
        cdc_index: int,
        window_set: pa.Table,
        *,
        legacy_at: CdcValue | None = None,
        legacy: dict[str, int] | None = None,
        prefix: int | None = None,
    ) -> None:
        self.cdc_index = cdc_index
        self._prefix = prefix
        self._known = HashMultiset(window_set.column("fp").to_numpy())
        self._legacy_at = legacy_at
        self._legacy: Counter[str] = Counter(legacy or {})
        self.carried: list[tuple[pa.Array, np.ndarray]] = []

    def apply(self, batch: pa.RecordBatch) -> tuple[pa.RecordBatch, np.ndarray]:
        """The rows of ``batch`` to deliver and their hashes."""
        fps = row_hashes(batch)
        drop = np.zeros(batch.num_rows, dtype=bool)
        if self._legacy_at is not None and self._legacy:
            legacy = delivered_mask(batch, self.cdc_index, self._legacy_at, self._legacy)
            if legacy is not None and legacy.any():
                cdc = batch.column(self.cdc_index).filter(pa.array(legacy))
                self.carried.append((cdc, fps[legacy]))
                drop |= legacy
        if self._known:
            drop |= self._known.consume(fps, ~drop)
        if self._known and self._prefix is not None and not drop.all():
            drop |= self._match_prefix(batch, fps, drop)
        if not drop.any():
            return batch, fps
        keep = ~drop
        return batch.filter(pa.array(keep)), fps[keep]

    def _match_prefix(self, batch: pa.RecordBatch, fps: np.ndarray, drop: np.ndarray) -> np.ndarray:
        """Rows delivered before columns were appended: their old hash, new columns NULL.

        Matched rows are carried into the next set under their new hash.
        """
        assert self._prefix is not None
        added = batch.columns[self._prefix :]
        unset = np.ones(batch.num_rows, dtype=bool)
        for column in added:
            unset &= column.is_null().to_numpy(zero_copy_only=False)
        eligible = unset & ~drop
        if not eligible.any():
            return np.zeros(batch.num_rows, dtype=bool)
        old = pa.RecordBatch.from_arrays(
            batch.columns[: self._prefix], names=batch.schema.names[: self._prefix]
        )
        hit = self._known.consume(row_hashes(old), eligible)
        if hit.any():
            self.carried.append((batch.column(self.cdc_index).filter(pa.array(hit)), fps[hit]))
        return hit


class WindowTracker:
    """Collects ``(cdc, hash)`` of the rows delivered, pruned to the running window."""

    def __init__(self, cdc_type: pa.DataType, lookback: LookbackValue | None) -> None:
        self.schema = set_schema(cdc_type)
        self.lookback = lookback
        self._parts: list[pa.Table] = []
        self._rows = 0
        self._limit = 200_000
        self._max: Any = None

    def add(self, cdc: pa.Array, fps: np.ndarray) -> None:
        """Account for delivered rows (NULL CDC values never enter a window)."""
        if len(fps) == 0:
            return
        part = pa.table([cdc, pa.array(fps, pa.uint64())], schema=self.schema)
        part = part.filter(pc.is_valid(part.column("cdc")))
        if part.num_rows == 0:
            return
        top = pc.max(part.column("cdc")).as_py()
        if self._max is None or top > self._max:
            self._max = top
        self._parts.append(part)
        self._rows += part.num_rows
        if self._rows > self._limit:  # memory stays bounded by the window, not the table
            self._parts = [self.entries()]
            self._rows = self._parts[0].num_rows
            self._limit = max(self._limit, 2 * self._rows)

    def entries(self) -> pa.Table:
        """The collected entries inside the window of the largest value seen."""
        if not self._parts:
            return self.schema.empty_table()
        table = pa.concat_tables(self._parts)
        if self._max is None:
            return table
        start = window_start(_naive(self._max), self.lookback)
        return since_filter(table, start)


def _naive(value: Any) -> Any:
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value
