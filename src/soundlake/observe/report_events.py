"""Build :class:`ReportData` from event-log rows and mart chart data (pure, no I/O).

Event rows are dicts in the Databricks event-log layout (docs/pipeline.md, "Event log"): ``id``,
``sequence``, ``origin`` {``pipeline_name``, ``update_id``, ``flow_name``,
``dataset_name``}, ``timestamp`` (datetime or ISO text), ``message``, ``level``,
``error``, ``details`` (JSON text or dict) and ``event_type``. Used event types:
``create_update``, ``flow_definition`` (``output_dataset``, ``input_datasets``,
``flow_type``, optional ``dataset_type``), ``dataset_definition`` (``dataset_type``),
``flow_progress`` and ``update_progress`` (``state``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timezone
from typing import Any

from soundlake.observe.report_model import (
    LAYERS,
    ExpectationResult,
    FlowRun,
    GraphEdge,
    GraphNode,
    Layer,
    MartCharts,
    ReportData,
    RunSummary,
)

TERMINAL_RUN_STATES = {"COMPLETED", "FAILED", "CANCELED", "STOPPED"}
WAITING_FLOW_STATES = {"QUEUED"}
STATUS_PRIORITY = (
    "FAILED",
    "SKIPPED",
    "STOPPED",
    "RUNNING",
    "STARTING",
    "PLANNING",
    "QUEUED",
    "COMPLETED",
    "IDLE",
    "EXCLUDED",
)
KIND_BY_TYPE = {
    "STREAMING_TABLE": "streaming table",
    "MATERIALIZED_VIEW": "materialized view",
    "VIEW": "view",
    "TEMPORARY_VIEW": "view",
    "TABLE": "table",
}
KIND_BY_FLOW_TYPE = {
    "APPEND": "streaming table",
    "STREAMING": "streaming table",
    "AUTO_CDC": "streaming table",
    "APPLY_CHANGES": "streaming table",
    "AUTO_CDC_FROM_SNAPSHOT": "streaming table",
    "COMPLETE": "materialized view",
    "MATERIALIZED_VIEW": "materialized view",
    "VIEW": "view",
}


def parse_timestamp(value: object) -> datetime | None:
    """A datetime (naive UTC) from a datetime, a date or ISO text; ``None`` otherwise."""
    if isinstance(value, datetime):
        moment = value
    elif isinstance(value, date):
        moment = datetime(value.year, value.month, value.day)
    elif isinstance(value, str) and value.strip():
        try:
            moment = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
        except ValueError:
            return None
    else:
        return None
    if moment.tzinfo is not None:
        moment = moment.astimezone(timezone.utc).replace(tzinfo=None)
    return moment


def _details(event: Mapping[str, Any]) -> dict[str, Any]:
    raw = event.get("details")
    if isinstance(raw, str):
        try:
            raw = json.loads(raw) if raw.strip() else {}
        except json.JSONDecodeError:
            return {}
    return dict(raw) if isinstance(raw, Mapping) else {}


def _origin(event: Mapping[str, Any]) -> dict[str, Any]:
    raw = event.get("origin")
    return dict(raw) if isinstance(raw, Mapping) else {}


def _sequence_key(value: object) -> tuple[int, str]:
    if isinstance(value, bool):
        return (int(value), "")
    if isinstance(value, int):
        return (value, "")
    if isinstance(value, Mapping):
        number = value.get("control_plane_seq_no", value.get("data_plane_seq_no"))
        return (
            int(number) if isinstance(number, int) else 0,
            json.dumps(value, sort_keys=True, default=str),
        )
    return (0, "" if value is None else str(value))


def _int(value: object) -> int:
    if isinstance(value, bool):
        return int(value)
    if isinstance(value, (int, float)):
        return int(value)
    if isinstance(value, str):
        try:
            return int(float(value))
        except ValueError:
            return 0
    return 0


def _error_text(event: Mapping[str, Any]) -> str | None:
    error = event.get("error")
    if isinstance(error, str):
        try:
            error = json.loads(error)
        except json.JSONDecodeError:
            return error or None
    if isinstance(error, Mapping):
        exceptions = error.get("exceptions")
        if isinstance(exceptions, list) and exceptions and isinstance(exceptions[0], Mapping):
            first = exceptions[0]
            text = f"{first.get('class_name', '')}: {first.get('message', '')}".strip(": ")
            return text or None
        message = error.get("message")
        return str(message) if message else None
    return None


@dataclass
class _Event:
    """One event row, parsed."""

    key: tuple[datetime, tuple[int, str], str]
    when: datetime | None
    kind: str
    origin: dict[str, Any]
    details: dict[str, Any]
    row: Mapping[str, Any]


def _parse(events: Iterable[Mapping[str, Any]]) -> list[_Event]:
    parsed = []
    for row in events:
        when = parse_timestamp(row.get("timestamp"))
        key = (when or datetime.min, _sequence_key(row.get("sequence")), str(row.get("id", "")))
        parsed.append(
            _Event(key, when, str(row.get("event_type") or ""), _origin(row), _details(row), row)
        )
    parsed.sort(key=lambda e: e.key)
    return parsed


@dataclass
class _FlowAcc:
    """What one update's events say about one flow."""

    flow: str
    dataset: str
    status: str = "QUEUED"
    start: datetime | None = None
    end: datetime | None = None
    metrics: dict[str, Any] = field(default_factory=dict)
    quality: dict[str, Any] | None = None
    error: str | None = None
    first_seen: tuple[datetime, tuple[int, str], str] | None = None


def _flow_progress(acc: _FlowAcc, event: _Event) -> None:
    progress = event.details.get("flow_progress")
    progress = progress if isinstance(progress, Mapping) else {}
    status = str(progress.get("status") or acc.status).upper()
    acc.status = status
    acc.first_seen = acc.first_seen or event.key
    if event.when is not None:
        if status not in WAITING_FLOW_STATES and acc.start is None:
            acc.start = event.when
        acc.end = event.when
    if isinstance(progress.get("metrics"), Mapping):
        acc.metrics = dict(progress["metrics"])
    if isinstance(progress.get("data_quality"), Mapping):
        acc.quality = dict(progress["data_quality"])
    if status == "FAILED":
        acc.error = _error_text(event.row) or (str(event.row.get("message") or "") or None)


def _finish_flow(acc: _FlowAcc) -> FlowRun:
    metrics = acc.metrics
    upserted, deleted = (
        _int(metrics.get("num_upserted_rows")),
        _int(metrics.get("num_deleted_rows")),
    )
    output = metrics.get("num_output_rows")
    quality = acc.quality or {}
    start = acc.start or acc.end
    return FlowRun(
        flow=acc.flow,
        dataset=acc.dataset,
        status=acc.status,
        start=start,
        end=acc.end,
        output_rows=_int(output) if output is not None else upserted + deleted,
        upserted_rows=upserted,
        deleted_rows=deleted,
        dropped_records=_int(quality.get("dropped_records")),
        error=acc.error,
        input_rows=_int(metrics["num_input_rows"]) if metrics.get("num_input_rows") is not None else None,
        quarantined_records=_int(quality.get("quarantined_records")),
    )


def _expectations(update_id: str, flows: Sequence[_FlowAcc]) -> list[ExpectationResult]:
    totals: dict[tuple[str, str], list[int]] = {}
    for acc in flows:
        items = (acc.quality or {}).get("expectations") or []
        for item in items if isinstance(items, list) else []:
            if not isinstance(item, Mapping) or not item.get("name"):
                continue
            key = (str(item.get("dataset") or acc.dataset), str(item["name"]))
            pair = totals.setdefault(key, [0, 0])
            pair[0] += _int(item.get("passed_records"))
            pair[1] += _int(item.get("failed_records"))
    return [
        ExpectationResult(update_id, dataset, name, passed, failed)
        for (dataset, name), (passed, failed) in sorted(totals.items())
    ]


def _runs(events: Sequence[_Event]) -> tuple[list[RunSummary], list[ExpectationResult], int | None]:
    """Runs (oldest first), expectation results, and quarantined records if reported."""
    order: list[str] = []
    starts: dict[str, datetime] = {}
    states: dict[str, tuple[str, datetime | None]] = {}
    flows: dict[str, dict[str, _FlowAcc]] = {}
    quarantined: int | None = None
    for event in events:
        update_id = event.origin.get("update_id")
        if not update_id:
            continue
        update_id = str(update_id)
        if update_id not in flows:
            order.append(update_id)
            flows[update_id] = {}
        if event.when is not None:
            starts.setdefault(update_id, event.when)
        if event.kind == "update_progress":
            progress = event.details.get("update_progress")
            state = progress.get("state") if isinstance(progress, Mapping) else None
            if state:
                states[update_id] = (str(state).upper(), event.when)
        elif event.kind == "flow_progress":
            name = str(event.origin.get("flow_name") or event.origin.get("dataset_name") or "?")
            dataset = str(event.origin.get("dataset_name") or name)
            acc = flows[update_id].setdefault(name, _FlowAcc(name, dataset))
            _flow_progress(acc, event)
    runs, results = [], []
    for update_id in order:
        accs = sorted(
            flows[update_id].values(),
            key=lambda a: (a.start or datetime.max, a.first_seen or (datetime.max,), a.flow),
        )
        flow_runs = tuple(_finish_flow(a) for a in accs)
        state, state_at = states.get(update_id, ("", None))
        if not state:
            state = (
                "FAILED"
                if any(f.status == "FAILED" for f in flow_runs)
                else ("COMPLETED" if flow_runs else "UNKNOWN")
            )
        ends = [f.end for f in flow_runs if f.end]
        end = state_at if state in TERMINAL_RUN_STATES and state_at else max(ends, default=None)
        runs.append(RunSummary(update_id, state, starts.get(update_id), end, flow_runs))
        results.extend(_expectations(update_id, accs))
        for acc in accs:
            if acc.quality is not None and "quarantined_records" in acc.quality:
                quarantined = (quarantined or 0) + _int(acc.quality["quarantined_records"])
    return runs, results, quarantined


def infer_layer(name: str) -> Layer | None:
    """Layer from a dataset name: ``mart_*`` tables, then a bronze/silver/gold schema or folder."""
    lowered = name.lower().replace("\\", "/")
    parts = [p for p in lowered.replace("/", ".").split(".") if p]
    if not parts:
        return None
    if parts[-1].startswith("mart") or any(p in ("mart", "marts") for p in parts[:-1]):
        return "mart"
    for layer in ("gold", "silver", "bronze"):
        if layer in parts[:-1]:
            return layer
    if "bronze" in lowered:
        return "bronze"
    return None


def _names(value: object) -> list[str]:
    """Dataset names from ``input_datasets`` (strings or dicts with a name)."""
    if isinstance(value, str):
        return [value]
    names: list[str] = []
    for item in value if isinstance(value, list) else []:
        if isinstance(item, str):
            names.append(item)
        elif isinstance(item, Mapping) and item.get("name"):
            names.append(str(item["name"]))
    return names


@dataclass
class _Definitions:
    """The graph as the event log's definition events describe it."""

    outputs: dict[str, str] = field(default_factory=dict)
    inputs: dict[str, list[str]] = field(default_factory=dict)
    kinds: dict[str, str] = field(default_factory=dict)


def _definitions(events: Sequence[_Event]) -> _Definitions:
    found = _Definitions()
    for event in events:
        if event.kind == "flow_definition":
            body = event.details.get("flow_definition")
            body = body if isinstance(body, Mapping) else {}
            flow = str(event.origin.get("flow_name") or body.get("output_dataset") or "")
            output = str(body.get("output_dataset") or event.origin.get("dataset_name") or flow)
            if not flow:
                continue
            found.outputs[flow] = output
            found.inputs[flow] = _names(body.get("input_datasets"))
            kind = KIND_BY_TYPE.get(
                str(body.get("dataset_type") or "").upper()
            ) or KIND_BY_FLOW_TYPE.get(str(body.get("flow_type") or "").upper())
            if kind:
                found.kinds.setdefault(output, kind)
        elif event.kind == "dataset_definition":
            body = event.details.get("dataset_definition")
            body = body if isinstance(body, Mapping) else {}
            name = event.origin.get("dataset_name") or body.get("name")
            kind = KIND_BY_TYPE.get(str(body.get("dataset_type") or "").upper())
            if name and kind:
                found.kinds[str(name)] = kind
    return found


def _combined_status(statuses: Iterable[str]) -> str | None:
    present = set(statuses)
    for status in STATUS_PRIORITY:
        if status in present:
            return status
    return min(present) if present else None


def _assign_layers(names: Sequence[str], preds: Mapping[str, Sequence[str]]) -> dict[str, Layer]:
    """Named layer where the name tells; else the highest layer of its inputs (bronze for sources)."""
    layers: dict[str, Layer] = {}
    visiting: set[str] = set()

    def visit(name: str) -> Layer:
        if name in layers:
            return layers[name]
        named = infer_layer(name)
        if named is not None:
            layers[name] = named
            return named
        visiting.add(name)
        upstream = [visit(p) for p in preds.get(name, []) if p not in visiting]
        visiting.discard(name)
        layer: Layer = max(upstream, key=LAYERS.index, default="bronze")
        layers[name] = layer
        return layer

    for name in names:
        visit(name)
    return layers


def _is_path(name: str) -> bool:
    return name.startswith("files:") or "/" in name or "\\" in name


def _lookup(counts: Mapping[str, int], name: str) -> int | None:
    if name in counts:
        return int(counts[name])
    lowered = {k.lower(): v for k, v in counts.items()}
    value = lowered.get(name.lower())
    if value is None and _is_path(name):  # a bronze folder: counted under its table name
        value = lowered.get(name.rstrip("/\\").replace("\\", "/").rsplit("/", 1)[-1].lower())
    return int(value) if value is not None else None


def _graph(
    definitions: _Definitions, runs: Sequence[RunSummary], row_counts: Mapping[str, int]
) -> tuple[tuple[GraphNode, ...], tuple[GraphEdge, ...]]:
    edges = {
        GraphEdge(source, output)
        for flow, output in definitions.outputs.items()
        for source in definitions.inputs.get(flow, [])
    }
    latest = runs[-1].flows if runs else ()
    names = set(definitions.outputs.values()) | {e.source for e in edges}
    names |= {f.dataset for run in runs for f in run.flows}
    preds: dict[str, list[str]] = {}
    for edge in sorted(edges, key=lambda e: (e.target, e.source)):
        preds.setdefault(edge.target, []).append(edge.source)
    layers = _assign_layers(sorted(names), preds)
    written = set(definitions.outputs.values()) | {f.dataset for run in runs for f in run.flows}
    nodes = []
    for name in sorted(names):
        mine = [f for f in latest if f.dataset == name]
        data_run, data_rows = _last_data(runs, name) if mine and not _has_data(mine) else (None, None)
        kind = definitions.kinds.get(name) or (
            "table" if name in written else ("files" if _is_path(name) else "table")
        )
        nodes.append(
            GraphNode(
                name=name,
                layer=layers[name],
                kind=kind,
                rows=_lookup(row_counts, name),
                status=_combined_status(f.status for f in mine),
                last_output_rows=sum(f.output_rows for f in mine) if mine else None,
                data_run=data_run,
                data_output_rows=data_rows,
            )
        )
    return tuple(nodes), tuple(sorted(edges, key=lambda e: (e.source, e.target)))


_NO_DATA = ("IDLE", "SKIPPED", "EXCLUDED")


def _has_data(flows: Sequence[FlowRun]) -> bool:
    return any(f.status not in _NO_DATA for f in flows)


def _last_data(runs: Sequence[RunSummary], dataset: str) -> tuple[int | None, int | None]:
    """The number (1 = oldest) of the latest run whose flows of ``dataset`` had data, and what they wrote."""
    for index in range(len(runs) - 1, -1, -1):
        mine = [f for f in runs[index].flows if f.dataset == dataset]
        if mine and _has_data(mine):
            return index + 1, sum(f.output_rows for f in mine)
    return None, None


def report_data_from_events(
    events: Iterable[Mapping[str, Any]],
    marts: MartCharts | None = None,
    *,
    row_counts: Mapping[str, int] | None = None,
    quarantined_rows: int | None = None,
    title: str = "soundlake report",
    generated_at: str | None = None,
) -> ReportData:
    """Build the report's data from event-log rows and mart chart data.

    Args:
        events: Event-log rows as dicts (Databricks layout, any order).
        marts: Chart data of the marts, computed by the caller (the reference project's
            come from :func:`soundlake.demo.report_marts.mart_charts`); ``None`` shows every
            mart chart as missing.
        row_counts: Current rows per dataset name, for the graph and the summary cards.
        quarantined_rows: Rows in quarantine; when ``None``, taken from the row counts of
            datasets named ``*quarantine*``, else from ``quarantined_records`` in the log.
        title: Page title.
        generated_at: Text shown as the generation time (the renderer never reads a clock).

    Returns:
        The :class:`ReportData` to pass to ``render_report``.
    """
    parsed = _parse(events)
    runs, results, logged_quarantine = _runs(parsed)
    counts = dict(row_counts or {})
    nodes, edges = _graph(_definitions(parsed), runs, counts)
    if quarantined_rows is None:
        held = [int(v) for k, v in sorted(counts.items()) if "quarantine" in k.lower()]
        quarantined_rows = sum(held) if held else logged_quarantine
    pipeline = next(
        (str(e.origin["pipeline_name"]) for e in parsed if e.origin.get("pipeline_name")), None
    )
    return ReportData(
        title=title,
        pipeline_name=pipeline,
        generated_at=generated_at,
        nodes=nodes,
        edges=edges,
        runs=tuple(runs),
        expectations=tuple(results),
        marts=marts if marts is not None else MartCharts(),
        quarantined_rows=quarantined_rows,
    )
