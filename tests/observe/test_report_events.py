"""report_data_from_events: event-log rows and mart charts -> ReportData; mart rows -> charts."""

from __future__ import annotations

import json
import random
from datetime import date, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import pytest

from soundlake.demo.report_marts import mart_charts
from soundlake.observe.report import report_data_from_events
from soundlake.observe.report_events import infer_layer, parse_timestamp

CAT = "spotify_catalog"
T0 = datetime(2026, 3, 1, 6, 0, 0, tzinfo=timezone.utc)


class Log:
    """Builds event rows in the event log's layout (details/error as JSON text)."""

    def __init__(self) -> None:
        self.rows: list[dict[str, Any]] = []

    def add(
        self,
        seconds: float,
        update: str,
        kind: str,
        details: dict[str, Any],
        *,
        flow: str | None = None,
        dataset: str | None = None,
        error: dict[str, Any] | None = None,
    ) -> None:
        self.rows.append(
            {
                "id": f"e{len(self.rows)}",
                "sequence": len(self.rows),
                "origin": {
                    "pipeline_name": "spotify",
                    "update_id": update,
                    "flow_name": flow,
                    "dataset_name": dataset,
                },
                "timestamp": T0 + timedelta(seconds=seconds),
                "message": kind,
                "level": "ERROR" if error else "INFO",
                "error": json.dumps(error) if error else None,
                "details": json.dumps(details),
                "event_type": kind,
            }
        )

    def define(
        self, t: float, update: str, flow: str, output: str, inputs: list[str], ftype: str
    ) -> None:
        self.add(
            t,
            update,
            "flow_definition",
            {
                "flow_definition": {
                    "output_dataset": output,
                    "input_datasets": inputs,
                    "flow_type": ftype,
                }
            },
            flow=flow,
            dataset=output,
        )

    def progress(
        self, t: float, update: str, flow: str, output: str, status: str, **extra: Any
    ) -> None:
        body: dict[str, Any] = {"status": status}
        error = extra.pop("error", None)
        body.update(extra)
        self.add(
            t,
            update,
            "flow_progress",
            {"flow_progress": body},
            flow=flow,
            dataset=output,
            error=error,
        )


USERS_S = f"{CAT}.silver.dimuser"
STREAMS_S = f"{CAT}.silver.factstream"
USERS_G = f"{CAT}.gold.dim_user"
STREAMS_G = f"{CAT}.gold.fact_stream"
MART = f"{CAT}.gold.mart_daily_listening"
FLOWS = [
    ("dimuser", USERS_S, ["lake/bronze/DimUser"], "APPEND"),
    ("factstream", STREAMS_S, ["lake/bronze/FactStream"], "APPEND"),
    ("dim_user_cdc", USERS_G, [USERS_S], "AUTO_CDC"),
    ("fact_stream_cdc", STREAMS_G, [STREAMS_S], "AUTO_CDC"),
    ("mart_daily_listening", MART, [STREAMS_G, USERS_G], "MATERIALIZED_VIEW"),
]


def expectations(dataset: str, failed: int, passed: int = 100) -> dict[str, Any]:
    return {
        "dropped_records": failed,
        "expectations": [
            {
                "name": "key_not_null",
                "dataset": dataset,
                "passed_records": passed,
                "failed_records": failed,
            },
            {
                "name": "in_range",
                "dataset": dataset,
                "passed_records": passed + failed,
                "failed_records": 0,
            },
        ],
    }


def three_runs() -> list[dict[str, Any]]:
    """Run 1 all complete; run 2 with failures in expectations; run 3 dim_user fails, mart skipped."""
    log = Log()
    for run, base in (("u1", 0.0), ("u2", 3600.0), ("u3", 7200.0)):
        log.add(base, run, "create_update", {"create_update": {"cause": "API_CALL"}})
        for flow, output, inputs, ftype in FLOWS:
            log.define(base, run, flow, output, inputs, ftype)
        t = base + 1
        failed_upstream = False
        for flow, output, _, _ in FLOWS:
            log.progress(t, run, flow, output, "QUEUED")
            if run == "u3" and flow == "mart_daily_listening" and failed_upstream:
                log.progress(t, run, flow, output, "SKIPPED")
                continue
            if run == "u3" and flow == "factstream":
                log.progress(t, run, flow, output, "IDLE")
                continue
            log.progress(t + 0.5, run, flow, output, "RUNNING")
            t += 2
            if run == "u3" and flow == "dim_user_cdc":
                log.progress(
                    t,
                    run,
                    flow,
                    output,
                    "FAILED",
                    error={
                        "exceptions": [
                            {"class_name": "SoundlakeError", "message": "bad sequence_by"}
                        ]
                    },
                )
                failed_upstream = True
                continue
            extra: dict[str, Any] = {"metrics": {"num_output_rows": 10 if run != "u1" else 500}}
            if flow == "dimuser":
                extra["data_quality"] = expectations(USERS_S, {"u1": 0, "u2": 4, "u3": 1}[run])
            if flow == "factstream":
                extra["data_quality"] = {**expectations(STREAMS_S, 2), "quarantined_records": 3}
            log.progress(t, run, flow, output, "COMPLETED", **extra)
        state = "FAILED" if run == "u3" else "COMPLETED"
        log.add(t + 0.25, run, "update_progress", {"update_progress": {"state": state}})
    return log.rows


def test_runs_flows_and_statuses() -> None:
    data = report_data_from_events(three_runs())
    assert [r.update_id for r in data.runs] == ["u1", "u2", "u3"]
    assert [r.status for r in data.runs] == ["COMPLETED", "COMPLETED", "FAILED"]
    last = {f.flow: f for f in data.runs[-1].flows}
    assert last["dim_user_cdc"].status == "FAILED"
    assert last["dim_user_cdc"].error == "SoundlakeError: bad sequence_by"
    assert last["mart_daily_listening"].status == "SKIPPED"
    assert last["factstream"].status == "IDLE"
    first = {f.flow: f for f in data.runs[0].flows}
    assert first["dimuser"].output_rows == 500
    assert first["dimuser"].start == datetime(2026, 3, 1, 6, 0, 1, 500000)  # RUNNING, not QUEUED
    assert (first["dimuser"].end - first["dimuser"].start).total_seconds() == 1.5
    assert data.runs[0].start == datetime(2026, 3, 1, 6, 0, 0)
    assert (data.runs[0].end - data.runs[0].start).total_seconds() == pytest.approx(11.25)
    assert data.pipeline_name == "spotify"


def test_graph_nodes_layers_edges_and_latest_status() -> None:
    counts = {USERS_G: 520, MART: 31, "lake/bronze/DimUser": 700}
    data = report_data_from_events(three_runs(), row_counts=counts)
    nodes = {n.name: n for n in data.nodes}
    assert set(nodes) == {
        "lake/bronze/DimUser",
        "lake/bronze/FactStream",
        USERS_S,
        STREAMS_S,
        USERS_G,
        STREAMS_G,
        MART,
    }
    assert {n: nodes[n].layer for n in nodes} == {
        "lake/bronze/DimUser": "bronze",
        "lake/bronze/FactStream": "bronze",
        USERS_S: "silver",
        STREAMS_S: "silver",
        USERS_G: "gold",
        STREAMS_G: "gold",
        MART: "mart",
    }
    assert nodes[USERS_G].status == "FAILED" and nodes[MART].status == "SKIPPED"
    assert nodes[STREAMS_S].status == "IDLE" and nodes[USERS_S].status == "COMPLETED"
    assert nodes["lake/bronze/DimUser"].status is None
    assert nodes["lake/bronze/DimUser"].kind == "files"
    assert nodes[MART].kind == "materialized view" and nodes[USERS_G].kind == "streaming table"
    assert nodes[USERS_G].rows == 520 and nodes[STREAMS_G].rows is None
    assert nodes[USERS_S].last_output_rows == 10
    edges = {(e.source, e.target) for e in data.edges}
    assert (STREAMS_G, MART) in edges and (USERS_G, MART) in edges
    assert ("lake/bronze/DimUser", USERS_S) in edges and len(edges) == 6


def test_expectations_per_dataset_over_runs() -> None:
    data = report_data_from_events(three_runs())
    key_not_null = [
        e for e in data.expectations if e.dataset == USERS_S and e.name == "key_not_null"
    ]
    assert [(e.update_id, e.failed_records) for e in key_not_null] == [
        ("u1", 0),
        ("u2", 4),
        ("u3", 1),
    ]
    streams = [e for e in data.expectations if e.dataset == STREAMS_S]
    # factstream was IDLE in run 3: no results for it there
    assert sorted({e.update_id for e in streams}) == ["u1", "u2"]


def test_quarantine_from_counts_then_log() -> None:
    assert report_data_from_events(three_runs()).quarantined_rows == 6  # 3 + 3 from the log
    counts = {f"{STREAMS_S}_quarantine": 9}
    assert report_data_from_events(three_runs(), row_counts=counts).quarantined_rows == 9
    assert report_data_from_events(three_runs(), quarantined_rows=2).quarantined_rows == 2


def test_order_and_representation_do_not_matter() -> None:
    rows = three_runs()
    shuffled = list(rows)
    random.Random(5).shuffle(shuffled)
    # same rows with dict details and ISO text timestamps
    variant = [
        {
            **r,
            "details": json.loads(r["details"]),
            "timestamp": r["timestamp"].isoformat().replace("+00:00", "Z"),
        }
        for r in shuffled
    ]
    expected = report_data_from_events(rows)
    assert report_data_from_events(shuffled) == expected
    assert report_data_from_events(variant) == expected


def test_runs_without_update_progress_derive_status() -> None:
    rows = [r for r in three_runs() if r["event_type"] != "update_progress"]
    data = report_data_from_events(rows)
    assert [r.status for r in data.runs] == ["COMPLETED", "COMPLETED", "FAILED"]


def test_empty_log() -> None:
    data = report_data_from_events([], None)
    assert data.runs == () and data.nodes == () and data.quarantined_rows is None
    assert data.marts.daily_listening is None and data.marts.top_tracks is None


@pytest.mark.parametrize(
    ("name", "layer"),
    [
        ("spotify_catalog.silver.dimuser", "silver"),
        ("spotify_catalog.gold.dim_user", "gold"),
        ("spotify_catalog.gold.mart_top_tracks_weekly", "mart"),
        ("lake/bronze/DimUser", "bronze"),
        ("s3://bucket/bronze/x", "bronze"),
        ("some_view", None),
    ],
)
def test_infer_layer(name: str, layer: str | None) -> None:
    assert infer_layer(name) == layer


def test_unnamed_layer_follows_inputs() -> None:
    log = Log()
    log.define(0, "u1", "v", "tmp_view", [USERS_G], "VIEW")
    log.define(0, "u1", "s", "raw_users", [], "APPEND")
    nodes = {n.name: n for n in report_data_from_events(log.rows).nodes}
    assert nodes["tmp_view"].layer == "gold" and nodes["tmp_view"].kind == "view"
    assert nodes["raw_users"].layer == "bronze"


def test_parse_timestamp() -> None:
    assert parse_timestamp("2026-03-01T06:00:00Z") == datetime(2026, 3, 1, 6)
    assert parse_timestamp(
        datetime(2026, 3, 1, 7, tzinfo=timezone(timedelta(hours=1)))
    ) == datetime(2026, 3, 1, 6)
    assert parse_timestamp("nonsense") is None and parse_timestamp(None) is None


def reference_marts() -> dict[str, list[dict[str, Any]]]:
    """Rows in the column layout of the reference project's marts."""
    d1, d2 = date(2026, 1, 30), date(2026, 2, 2)
    return {
        f"{CAT}.gold.mart_daily_listening": [
            {
                "listen_date": d1,
                "country": "US",
                "device_type": "Mobile",
                "plays": 3,
                "minutes": 7.5,
                "listeners": 2,
            },
            {
                "listen_date": d1,
                "country": "IN",
                "device_type": "Desktop",
                "plays": 2,
                "minutes": 4.0,
                "listeners": 2,
            },
            {
                "listen_date": d2,
                "country": "US",
                "device_type": "Mobile",
                "plays": 5,
                "minutes": 11.25,
                "listeners": 4,
            },
        ],
        f"{CAT}.gold.mart_listening_by_plan": [
            {"listen_date": d1, "subscription_type": "Free", "plays": 4},
        ],
        f"{CAT}.gold.mart_plan_mix_monthly": [
            {"month_end": date(2026, 1, 31), "subscription_type": "Free", "users": 10},
            {"month_end": date(2026, 1, 31), "subscription_type": "Premium", "users": 5},
            {"month_end": date(2026, 2, 28), "subscription_type": "Premium", "users": 7},
        ],
        f"{CAT}.gold.mart_top_tracks_weekly": [
            {
                "week_start": d1,
                "rank": 1,
                "track_id": 1,
                "track_name": "A",
                "artist_name": "X",
                "plays": 9,
            },
            {
                "week_start": d1,
                "rank": 2,
                "track_id": 2,
                "track_name": "B",
                "artist_name": "Y",
                "plays": 8,
            },
            {
                "week_start": d2,
                "rank": 1,
                "track_id": 2,
                "track_name": "B",
                "artist_name": "Y",
                "plays": 6,
            },
        ],
        f"{CAT}.gold.mart_plan_changes_monthly": [
            {"month": d1, "upgrades": 1, "downgrades": 0, "churned": 0}
        ],
    }


def test_mart_charts_from_reference_marts() -> None:
    charts = mart_charts(reference_marts())
    assert charts.daily_listening is not None
    assert [(d.day, d.plays, d.minutes) for d in charts.daily_listening] == [
        (date(2026, 1, 30), 5, 11.5),
        (date(2026, 2, 2), 5, 11.25),
    ]
    assert charts.plan_mix_measure == "users"
    assert [(p.month, p.plan, p.value) for p in charts.plan_mix or ()] == [
        ("2026-01", "Free", 10.0),
        ("2026-01", "Premium", 5.0),
        ("2026-02", "Premium", 7.0),
    ]
    assert [(t.label, t.detail, t.plays) for t in charts.top_tracks or ()] == [
        ("B", "Y", 14),
        ("A", "X", 9),
    ]
    assert charts.top_artists is None  # that mart is absent


def test_plan_mix_falls_back_to_listening_by_plan_and_date_keys() -> None:
    marts = {
        "mart_listening_by_plan": [
            {"date_key": 20260130, "subscription_type": "Free", "plays": 4},
            {"date_key": 20260131, "subscription_type": "Free", "plays": 6},
            {"date_key": 20260201, "subscription_type": "Family", "plays": 1},
        ],
        "mart_daily_listening": [],
    }
    charts = mart_charts(marts)
    assert charts.plan_mix_measure == "plays"
    assert [(p.month, p.plan, p.value) for p in charts.plan_mix or ()] == [
        ("2026-01", "Free", 10.0),
        ("2026-02", "Family", 1.0),
    ]
    assert charts.daily_listening is None  # empty mart = missing


def test_report_data_carries_marts_and_title() -> None:
    data = report_data_from_events(three_runs(), mart_charts(reference_marts()), title="T", generated_at="now")
    assert data.title == "T" and data.generated_at == "now"
    assert data.marts.daily_listening and data.marts.top_tracks


def test_short_names_of_tables_and_paths() -> None:
    from soundlake.observe.report_svg import short_name

    assert short_name("spotify_catalog.gold.dim_user") == "dim_user"
    assert short_name("files:/tmp/p.q/lake/bronze/DimUser/") == "DimUser"
    assert short_name("lake/bronze/FactStream") == "FactStream"


def test_report_from_the_real_event_log_table(tmp_path: Path) -> None:
    """Events written by observe.events.EventLog to Delta and read back feed the report."""
    from soundlake.observe.events import EventLog, read_events

    uri = str(tmp_path / "event_log")
    silver, gold = f"{CAT}.silver.dimuser", f"{CAT}.gold.dim_user"
    for run in ("r1", "r2"):
        log = EventLog(uri, "spotify", run)
        log.emit("create_update", "started", details={"create_update": {"cause": "API_CALL"}})
        for flow, out, ins, kind in (
            ("dimuser", silver, [f"files:{tmp_path}/lake/bronze/DimUser"], "append"),
            ("dim_user_cdc", gold, [silver], "auto_cdc"),
        ):
            log.emit(
                "flow_definition",
                "def",
                flow=flow,
                dataset=out,
                details={
                    "flow_definition": {
                        "output_dataset": out,
                        "input_datasets": ins,
                        "flow_type": kind,
                    }
                },
            )
            log.emit(
                "flow_progress",
                "run",
                flow=flow,
                dataset=out,
                details={"flow_progress": {"status": "RUNNING"}},
            )
            status = "FAILED" if (run, flow) == ("r2", "dim_user_cdc") else "COMPLETED"
            log.emit(
                "flow_progress",
                status,
                flow=flow,
                dataset=out,
                details={
                    "flow_progress": {
                        "status": status,
                        "metrics": {"num_output_rows": 5},
                        "data_quality": expectations(silver, 1) if flow == "dimuser" else {},
                    }
                },
                error=RuntimeError("boom") if status == "FAILED" else None,
            )
        state = "FAILED" if run == "r2" else "COMPLETED"
        log.emit("update_progress", state, details={"update_progress": {"state": state}})
        log.flush()
    rows = read_events(uri).to_pylist()
    data = report_data_from_events(rows)
    assert [r.update_id for r in data.runs] == ["r1", "r2"]
    assert [r.status for r in data.runs] == ["COMPLETED", "FAILED"]
    nodes = {n.name: n for n in data.nodes}
    bronze = next(n for n in data.nodes if n.layer == "bronze")
    assert bronze.kind == "files" and bronze.name.endswith("DimUser")
    assert nodes[gold].status == "FAILED" and nodes[silver].status == "COMPLETED"
    assert nodes[gold].kind == "streaming table"
    assert data.runs[1].flows[-1].error == "RuntimeError: boom"
    assert [e.failed_records for e in data.expectations if e.name == "key_not_null"] == [1, 1]
