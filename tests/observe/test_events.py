"""The event log table: Databricks columns, origin struct, sequence, flow_progress layout."""

from __future__ import annotations

import json
from pathlib import Path

from soundlake.observe.events import SCHEMA, EventLog, read_events


class Recorder:
    def __init__(self) -> None:
        self.seen: list[str] = []

    def on_event(self, event: object) -> None:
        self.seen.append(event.event_type)  # type: ignore[attr-defined]


def test_events_are_appended_with_the_databricks_columns(tmp_path: Path) -> None:
    uri = str(tmp_path / "event_log")
    recorder = Recorder()
    log = EventLog(uri, "p", "run1", listeners=[recorder])
    log.emit("create_update", "started")
    log.emit("flow_progress", "done", level="METRICS", flow="f", dataset="c.s.t",
             details={"flow_progress": {"status": "COMPLETED", "metrics": {"num_output_rows": 3}}})
    log.flush()
    log2 = EventLog(uri, "p", "run2")
    log2.emit("update_progress", "failed", level="ERROR", error=ValueError("bad"))
    log2.flush()
    table = read_events(uri)
    assert table.schema.names == SCHEMA.names == [
        "id", "sequence", "origin", "timestamp", "message", "level", "error", "details", "event_type",
    ]
    rows = table.to_pylist()
    assert [r["sequence"] for r in rows] == [1, 2, 3]
    assert rows[1]["origin"] == {"pipeline_name": "p", "update_id": "run1", "flow_name": "f", "dataset_name": "c.s.t"}
    assert json.loads(rows[1]["details"])["flow_progress"]["metrics"]["num_output_rows"] == 3
    assert json.loads(rows[2]["error"])["exceptions"][0]["class_name"] == "ValueError"
    assert read_events(uri, update_id="run2").num_rows == 1
    assert recorder.seen == ["create_update", "flow_progress"]


def test_flush_soon_groups_commits_and_keeps_every_event_in_order(tmp_path: Path) -> None:
    from soundlake.lake import delta

    uri = str(tmp_path / "log")
    log = EventLog(uri, "p", "u1")
    with log._write_lock:  # a commit in progress: the 40 requests coalesce behind it
        for i in range(40):
            log.emit("flow_progress", f"event {i}", flow=f"f{i % 4}")
            log.flush_soon()
    log.flush()
    rows = read_events(uri).to_pylist()
    assert [r["message"] for r in rows] == [f"event {i}" for i in range(40)]
    assert [r["sequence"] for r in rows] == list(range(1, 41))
    assert delta.table_version(uri) == 0  # one commit for all of them


def test_a_failed_background_write_surfaces_at_flush_and_loses_nothing(tmp_path: Path) -> None:
    import pytest

    from soundlake.core.errors import SoundlakeError

    blocker = tmp_path / "log"
    blocker.write_text("a file where the table folder should be", encoding="utf-8")
    log = EventLog(str(blocker / "t"), "p", "u1")
    log.emit("flow_progress", "kept")
    log.flush_soon()
    with pytest.raises(SoundlakeError):
        log.flush()
    blocker.unlink()
    blocker.mkdir()
    log.flush()
    assert [r["message"] for r in read_events(str(blocker / "t")).to_pylist()] == ["kept"]
