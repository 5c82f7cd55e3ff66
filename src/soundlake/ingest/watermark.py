"""Watermark values and state: what has been delivered, exactly.

A watermark is the largest CDC value among the rows *written* (never ``MAX`` over the
table afterwards), plus the *boundary*: a count, per row fingerprint, of the rows
delivered with exactly that value. The next run reads ``cdc_col >= watermark`` and skips,
at the watermark value only, as many rows of each fingerprint as were delivered. So a row
that shares the watermark's second but was committed after the read is delivered, a row
rewritten in place with the same CDC value but new content is delivered, and nothing is
delivered twice. This is the state of tables without a look-back window; with one, the
boundary is replaced by the window set (see ``ingest.window``), of which it is the
zero-length case.

Values: DATE columns use ``YYYY-MM-DD``; DATETIME/TIMESTAMP columns use ISO 8601 with a
``T`` (``2025-10-07T19:49:55``, a fraction only when non-zero); naive values are UTC, and
values with an offset (as Data Factory may write, ``...Z`` or 7-digit fractions) are
converted to UTC and truncated to microseconds. Integer CDC columns use decimal text.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections import Counter
from dataclasses import dataclass, field
from typing import Any, Literal

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from soundlake.core.errors import ConfigError

CdcKind = Literal["date", "timestamp", "integer"]
CdcValue = dt.date | dt.datetime | int
STATE_VERSION = 1
NULL_ONLY_SENTINEL = {"date": "1900-01-01", "timestamp": "1900-01-01", "integer": str(-(2**63))}


def parse_cdc(text: str, kind: CdcKind, *, what: str = "watermark") -> CdcValue:
    """Parse a watermark or ``from_date`` string for a CDC column of ``kind``.

    Raises:
        ConfigError: naming ``what`` when the text is not a value of that kind.
    """
    raw = str(text).strip()
    try:
        if kind == "integer":
            return int(raw)
        if kind == "date":
            return dt.date.fromisoformat(raw[:10])
        return _parse_datetime(raw)
    except ValueError as exc:
        raise ConfigError(f"{what} '{text}' is not a valid {kind} value: {exc}") from exc


def _parse_datetime(raw: str) -> dt.datetime:
    text = raw.replace("Z", "+00:00").replace("z", "+00:00")
    if len(text) == 10:
        text += "T00:00:00"
    head, sep, tail = text.partition(".")
    if sep:  # keep at most 6 fraction digits (Data Factory writes 7)
        digits = len(tail) - len(tail.lstrip("0123456789"))
        tail = tail[: min(digits, 6)] + tail[digits:]
        text = f"{head}.{tail}"
    moment = dt.datetime.fromisoformat(text)
    if moment.tzinfo is not None:
        moment = moment.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return moment


def format_cdc(value: CdcValue) -> str:
    """The watermark text of ``value`` (see the module docstring)."""
    if isinstance(value, dt.datetime):
        if value.tzinfo is not None:
            value = value.astimezone(dt.timezone.utc).replace(tzinfo=None)
        return value.isoformat(timespec="microseconds" if value.microsecond else "seconds")
    if isinstance(value, dt.date):
        return value.isoformat()
    return str(int(value))


def normalize(value: Any) -> CdcValue:
    """A CDC value from Arrow, as a naive-UTC datetime, a date or an int."""
    if isinstance(value, dt.datetime) and value.tzinfo is not None:
        return value.astimezone(dt.timezone.utc).replace(tzinfo=None)
    return value  # type: ignore[no-any-return]


def to_scalar(value: CdcValue, arrow_type: pa.DataType) -> pa.Scalar:
    """``value`` as an Arrow scalar comparable with a column of ``arrow_type``."""
    if isinstance(value, dt.datetime) and pa.types.is_timestamp(arrow_type) and arrow_type.tz:
        value = value.replace(tzinfo=dt.timezone.utc)
    return pa.scalar(value, type=arrow_type)


def fingerprint(row: dict[str, Any]) -> str:
    """A stable content hash of one row (all columns, in order)."""
    return _fingerprint_values(list(row.values()))


def _fingerprint_values(values: list[Any]) -> str:
    payload = json.dumps(values, default=str, ensure_ascii=True, separators=(",", ":"))
    return hashlib.sha256(payload.encode("utf-8")).hexdigest()[:32]


def _known_prefix(row: dict[str, Any], remaining: Counter[str]) -> str | None:
    """The fingerprint of ``row`` without trailing NULL columns, when it was delivered.

    A row delivered before ``ALTER TABLE ... ADD COLUMN`` reads back with the new
    columns NULL: over the columns it had, its content is what was delivered.
    """
    values = list(row.values())
    while values and values[-1] is None:
        values.pop()
        fp = _fingerprint_values(values)
        if remaining.get(fp, 0) > 0:
            return fp
    return None


def fingerprints(rows: pa.Table | pa.RecordBatch) -> list[str]:
    """Fingerprints of every row of ``rows``."""
    return [fingerprint(row) for row in rows.to_pylist()]


@dataclass(frozen=True)
class Watermark:
    """The delivered state of one table.

    Attributes:
        text: The ``cdc`` value as stored in ``cdc.json`` (None: nothing delivered yet).
        boundary: Rows delivered at exactly ``text``: fingerprint -> count. Empty when
            the file was written by another tool (Data Factory).
        seq: Sequence number of the last committed batch (0 when none).
        from_date: The table ``from_date`` already backfilled (so it applies once).
        extra: Other keys of ``cdc.json``, kept as they were.
        window: The look-back window state (``lookback``, ``since``, ``fingerprints``
            sidecar file name, ``rows``, ``hash``); None before any windowed run.
        nulls: Row hashes (hex -> count) of the NULL-CDC rows delivered; None in a state
            written before soundlake tracked them.
        future: Row hashes (hex -> count) of the delivered rows dated beyond the future
            tolerance (they do not move the watermark).
        keys: The delivered-keys sidecar of a table with ``deletes`` (``file``, ``rows``,
            ``columns``); None otherwise.
    """

    text: str | None = None
    boundary: dict[str, int] = field(default_factory=dict)
    seq: int = 0
    from_date: str | None = None
    run_id: str | None = None
    extra: dict[str, Any] = field(default_factory=dict)
    window: dict[str, Any] | None = None
    nulls: dict[str, int] | None = None
    future: dict[str, int] = field(default_factory=dict)
    keys: dict[str, Any] | None = None

    @classmethod
    def from_doc(cls, doc: dict[str, Any] | None) -> Watermark:
        """Parse ``cdc.json`` (None when absent)."""
        if doc is None:
            return cls()
        own = doc.get("soundlake") or {}
        extra = {k: v for k, v in doc.items() if k not in ("cdc", "soundlake")}
        cdc = doc.get("cdc")
        return cls(
            text=None if cdc is None else str(cdc),
            boundary={str(k): int(v) for k, v in (own.get("boundary") or {}).items()},
            seq=int(own.get("seq", 0)),
            from_date=own.get("from_date"),
            run_id=own.get("run_id"),
            extra=extra,
            window=own.get("window"),
            nulls=None if own.get("nulls") is None else _counts(own["nulls"]),
            future=_counts(own.get("future") or {}),
            keys=own.get("keys"),
        )

    def to_doc(self, *, committed_at: str) -> dict[str, Any]:
        """The ``cdc.json`` document (``cdc`` first, for Data Factory)."""
        own = {
            "version": STATE_VERSION,
            "seq": self.seq,
            "run_id": self.run_id,
            "committed_at": committed_at,
            "from_date": self.from_date,
            "boundary": dict(sorted(self.boundary.items())),
        }
        if self.window is not None:
            own["window"] = dict(self.window)
        if self.nulls is not None:
            own["nulls"] = dict(sorted(self.nulls.items()))
        if self.future:
            own["future"] = dict(sorted(self.future.items()))
        if self.keys is not None:
            own["keys"] = dict(self.keys)
        return {"cdc": self.text, **self.extra, "soundlake": own}

    def value(self, kind: CdcKind) -> CdcValue | None:
        """The parsed watermark value."""
        return None if self.text is None else parse_cdc(self.text, kind)


def _counts(doc: Any) -> dict[str, int]:
    return {str(k): int(v) for k, v in dict(doc).items()}


class DeliveryTracker:
    """Follows the rows written in one run: count, min, max and the boundary at the max."""

    def __init__(self, cdc_index: int, *, boundary: bool = True) -> None:
        self.cdc_index = cdc_index
        self.track_boundary = boundary
        self.rows = 0
        self.read_rows = 0
        self.null_cdc_rows = 0
        self.min: CdcValue | None = None
        self.max: CdcValue | None = None
        self.boundary: Counter[str] = Counter()

    def update(self, batch: pa.RecordBatch) -> None:
        """Account for ``batch``, which has just been written."""
        self.rows += batch.num_rows
        cdc = batch.column(self.cdc_index)
        self.null_cdc_rows += cdc.null_count
        bounds = pc.min_max(cdc).as_py()
        low, high = bounds["min"], bounds["max"]
        if high is None:
            return
        low, high = normalize(low), normalize(high)
        if self.min is None or low < self.min:  # type: ignore[operator]
            self.min = low
        if self.max is None or high > self.max:  # type: ignore[operator]
            self.max = high
            self.boundary = Counter()
        if high == self.max and self.track_boundary:
            at_max = batch.filter(pc.equal(cdc, to_scalar(high, cdc.type)))
            self.boundary.update(fingerprints(at_max))


def delivered_mask(
    batch: pa.RecordBatch, cdc_index: int, value: CdcValue, remaining: Counter[str]
) -> np.ndarray | None:
    """Rows at exactly ``value`` already delivered (consuming ``remaining``); None: none."""
    cdc = batch.column(cdc_index)
    at_value = pc.fill_null(pc.equal(cdc, to_scalar(value, cdc.type)), False)
    if not pc.any(at_value).as_py():
        return None
    positions = pc.indices_nonzero(at_value).to_pylist()
    candidates = batch.take(pa.array(positions, pa.int64()))
    dropped = np.zeros(batch.num_rows, dtype=bool)
    for pos, row in zip(positions, candidates.to_pylist()):
        fp: str | None = fingerprint(row)
        if remaining.get(fp or "", 0) <= 0:
            fp = _known_prefix(row, remaining)
        if fp is not None:
            remaining[fp] -= 1
            dropped[pos] = True
    return dropped if dropped.any() else None


def skip_delivered(
    batch: pa.RecordBatch, cdc_index: int, value: CdcValue, remaining: Counter[str]
) -> pa.RecordBatch:
    """Drop rows at exactly ``value`` already delivered (consuming ``remaining`` counts)."""
    dropped = delivered_mask(batch, cdc_index, value, remaining)
    if dropped is None:
        return batch
    return batch.filter(pa.array(~dropped))


def merged_state(
    before: Watermark,
    tracker: DeliveryTracker,
    *,
    kind: CdcKind,
    mode: str,
    seq: int,
    run_id: str,
    from_date: str | None,
) -> Watermark:
    """The watermark after a run that wrote ``tracker``'s rows on top of ``before``.

    The watermark never moves backwards: a backfill that ends below it keeps it. At an
    equal value the boundaries combine (incremental runs add their new rows; a backfill,
    which re-read every row at that value, replaces the counts).
    """
    old = before.value(kind)
    new_text: str | None
    if tracker.max is None:
        new_text = before.text if before.text is not None else NULL_ONLY_SENTINEL[kind]
        new_boundary = dict(before.boundary)
    elif old is None or tracker.max > old:  # type: ignore[operator]
        new_text, new_boundary = format_cdc(tracker.max), dict(tracker.boundary)
    elif tracker.max == old:
        new_text = before.text if before.text is not None else format_cdc(tracker.max)
        if mode == "incremental":
            combined = Counter(before.boundary)
            combined.update(tracker.boundary)
            new_boundary = dict(combined)
        else:
            new_boundary = {
                k: max(v, before.boundary.get(k, 0)) for k, v in tracker.boundary.items()
            }
            for k, v in before.boundary.items():
                new_boundary.setdefault(k, v)
    else:
        new_text, new_boundary = before.text, dict(before.boundary)
    return Watermark(
        text=new_text,
        boundary=new_boundary,
        seq=seq,
        from_date=from_date,
        run_id=run_id,
        extra=dict(before.extra),
        window=before.window,
        nulls=before.nulls,
        future=dict(before.future),
        keys=before.keys,
    )
