"""The pipeline event log: a Delta table per pipeline with the Databricks columns.

Columns (docs/pipeline.md, "Event log"): ``id``, ``sequence``, ``origin`` (struct of pipeline,
update, flow, dataset), ``timestamp``, ``message``, ``level`` (INFO/WARN/ERROR/METRICS),
``error`` (JSON), ``details`` (JSON), ``event_type``. Events are buffered in memory and
appended in small commits (after each flow and at the end of an update), so a crash
loses at most the events of the flow that was running.

Listeners (a terminal progress display, a test recorder) see every event as it happens.
"""

from __future__ import annotations

import json
import threading
import uuid
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

import pyarrow as pa

from soundlake.core.clock import utc_now
from soundlake.core.secrets import mask_secrets
from soundlake.lake import delta

LEVELS = ("INFO", "WARN", "ERROR", "METRICS")
COMPACT_EVERY = 100

ORIGIN_TYPE = pa.struct(
    [
        pa.field("pipeline_name", pa.string()),
        pa.field("update_id", pa.string()),
        pa.field("flow_name", pa.string()),
        pa.field("dataset_name", pa.string()),
    ]
)
SCHEMA = pa.schema(
    [
        pa.field("id", pa.string()),
        pa.field("sequence", pa.int64()),
        pa.field("origin", ORIGIN_TYPE),
        pa.field("timestamp", pa.timestamp("us", tz="UTC")),
        pa.field("message", pa.string()),
        pa.field("level", pa.string()),
        pa.field("error", pa.string()),
        pa.field("details", pa.string()),
        pa.field("event_type", pa.string()),
    ]
)


@dataclass(frozen=True)
class Event:
    """One event, as stored (``details`` and ``error`` are dicts here, JSON in the table)."""

    id: str
    sequence: int
    pipeline: str
    update_id: str
    timestamp: datetime
    message: str
    level: str
    event_type: str
    flow: str | None = None
    dataset: str | None = None
    details: Mapping[str, Any] = field(default_factory=dict)
    error: Mapping[str, Any] | None = None

    def row(self) -> dict[str, Any]:
        """The event as a row of :data:`SCHEMA`."""
        return {
            "id": self.id,
            "sequence": self.sequence,
            "origin": {
                "pipeline_name": self.pipeline,
                "update_id": self.update_id,
                "flow_name": self.flow,
                "dataset_name": self.dataset,
            },
            "timestamp": self.timestamp,
            "message": self.message,
            "level": self.level,
            "error": json.dumps(self.error, default=str) if self.error else None,
            "details": json.dumps(dict(self.details), default=str),
            "event_type": self.event_type,
        }


class EventListener(Protocol):
    """Receives every event as it is emitted (for progress displays)."""

    def on_event(self, event: Event) -> None:
        """Handle one event (must not raise)."""
        ...


class EventLog:
    """Collects the events of one update and appends them to the event log table.

    Args:
        uri: The event log Delta table.
        pipeline: Pipeline name.
        update_id: The run id.
        storage_options: Object-store options.
        listeners: Called for every event.
        start_sequence: First sequence number (continues the table's sequence).
    """

    def __init__(
        self,
        uri: str,
        pipeline: str,
        update_id: str,
        *,
        storage_options: Mapping[str, str] | None = None,
        listeners: Sequence[EventListener] = (),
    ) -> None:
        self.uri = uri
        self.pipeline = pipeline
        self.update_id = update_id
        self.storage_options = dict(storage_options or {})
        self.listeners = list(listeners)
        self._pending: list[Event] = []
        self.events: list[Event] = []
        self._lock = threading.Lock()  # guards the pending list and the sequence
        self._write_lock = threading.Lock()  # one commit at a time, in event order
        self._wake = threading.Event()
        self._writer: threading.Thread | None = None
        self._writer_error: BaseException | None = None
        self._closing = False
        self._sequence = _next_sequence(uri, self.storage_options)

    def emit(
        self,
        event_type: str,
        message: str,
        *,
        level: str = "INFO",
        flow: str | None = None,
        dataset: str | None = None,
        details: Mapping[str, Any] | None = None,
        error: BaseException | Mapping[str, Any] | None = None,
        update_id: str | None = None,
    ) -> Event:
        """Record an event and notify listeners (``update_id``: of another update, default this one)."""
        message = mask_secrets(message)  # URLs in messages never carry their passwords
        if isinstance(error, BaseException):
            error = {
                "exceptions": [{"class_name": type(error).__name__, "message": str(error)}],
                "fatal": True,
            }
        masked_error: Mapping[str, Any] | None = _masked(error) if error is not None else None
        with self._lock:
            event = Event(
                id=uuid.uuid4().hex,
                sequence=self._sequence,
                pipeline=self.pipeline,
                update_id=update_id or self.update_id,
                timestamp=utc_now(),
                message=message,
                level=level,
                event_type=event_type,
                flow=flow,
                dataset=dataset,
                details=dict(details or {}),
                error=masked_error,
            )
            self._sequence += 1
            self._pending.append(event)
            self.events.append(event)
        for listener in self.listeners:
            try:
                listener.on_event(event)
            except Exception:  # noqa: BLE001, S110 (a display must never break a run)
                pass
        return event

    def flush(self) -> None:
        """Append the buffered events to the event log table in one commit, now.

        Also stops the background writer of :meth:`flush_soon` and re-raises an error it
        met, so the caller's final flush is where a failed write surfaces.
        """
        self._stop_writer()
        self._write_pending()
        error, self._writer_error = self._writer_error, None
        if error is not None:
            raise error

    def flush_soon(self) -> None:
        """Commit the buffered events shortly, on a background thread (group commit).

        Calls made while a commit is running coalesce into the next one, so a burst of
        finished flows costs one commit instead of one each, and the caller does not wait.
        """
        with self._lock:
            if self._writer is None:
                self._closing = False
                self._writer = threading.Thread(target=self._write_loop, name="event-log", daemon=True)
                self._writer.start()
        self._wake.set()

    def _write_loop(self) -> None:
        while True:
            self._wake.wait()
            self._wake.clear()
            if self._closing:
                return
            try:
                self._write_pending()
            except BaseException as exc:  # noqa: BLE001 (surfaced by flush())
                self._writer_error = exc
                return

    def _stop_writer(self) -> None:
        with self._lock:
            writer, self._writer = self._writer, None
        if writer is not None:
            self._closing = True
            self._wake.set()
            writer.join()

    def _write_pending(self) -> None:
        with self._write_lock:
            with self._lock:
                pending, self._pending = self._pending, []
            if not pending:
                return
            table = pa.Table.from_pylist([e.row() for e in pending], schema=SCHEMA)
            try:
                result = delta.write_table(
                    self.uri,
                    table,
                    mode="append",
                    storage_options=self.storage_options,
                    metadata={"pipeline": self.pipeline, "run": self.update_id, "writer": "event_log"},
                )
            except BaseException:
                with self._lock:  # keep them for the next attempt: nothing is lost
                    self._pending[:0] = pending
                raise
            if result.version is not None and result.version > 0 and result.version % COMPACT_EVERY == 0:
                delta.compact(self.uri, self.storage_options)  # keep reads fast as updates pile up


def _masked(value: Any) -> Any:
    """``value`` (an error document) with secrets in every string masked."""
    if isinstance(value, str):
        return mask_secrets(value)
    if isinstance(value, Mapping):
        return {k: _masked(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_masked(v) for v in value]
    return value


def _next_sequence(uri: str, storage_options: Mapping[str, str]) -> int:
    last = delta.column_max(uri, "sequence", storage_options)
    return 1 if last is None else int(last) + 1


def read_events(
    uri: str, storage_options: Mapping[str, str] | None = None, *, update_id: str | None = None
) -> pa.Table:
    """The event log (optionally one update), ordered by sequence."""
    if not delta.is_delta_table(uri, storage_options):
        return SCHEMA.empty_table()
    table = delta.snapshot_dataset(uri, storage_options).to_table()
    if update_id is not None:
        import pyarrow.compute as pc

        table = table.filter(pc.equal(pc.struct_field(table.column("origin"), "update_id"), update_id))
    return table.sort_by("sequence")


def unfinished_updates(uri: str, storage_options: Mapping[str, str] | None = None) -> list[str]:
    """Updates whose last ``update_progress`` state is RUNNING (their process died), oldest first."""
    if not delta.is_delta_table(uri, storage_options):
        return []
    import pyarrow.compute as pc
    import pyarrow.dataset as pads

    dataset = delta.snapshot_dataset(uri, storage_options)
    table = dataset.to_table(
        columns=["sequence", "origin", "details"], filter=pads.field("event_type") == "update_progress"
    ).sort_by("sequence")
    last: dict[str, str] = {}
    updates = pc.struct_field(table.column("origin"), "update_id").to_pylist()
    for update, details in zip(updates, table.column("details").to_pylist()):
        state = (json.loads(details or "{}").get("update_progress") or {}).get("state")
        if update and state:
            last.pop(update, None)  # keep the order of each update's latest state
            last[update] = str(state)
    return [update for update, state in last.items() if state == "RUNNING"]
