"""The checkpoint owner: its document, old documents, and what resume decides."""

from __future__ import annotations

from typing import Any

from soundlake.pipeline.checkpoint import Checkpoint, PendingBatch

OLD_STREAMING = {
    "flow": "main.silver.t", "batch": 3, "run_id": "r", "updated_at": "2026-11-01T00:00:00",
    "sources": {"files:/in": {"files": ["a.parquet"]}}, "planned": None, "table_version": 7,
}
OLD_INCREMENTAL = {
    "flow": "main.gold.mv", "batch": 2, "sources": {}, "signature": None,
    "planned": {"batch": 3, "from": 4, "to": 6, "files": ["x"], "sql": "abc"},
    "incremental": {"sql": "abc", "version": 4}, "some_future_key": [1, 2],
}
OLD_SNAPSHOT = {"flow": "f", "batch": 1, "sources": {}, "source_versions": {"table:t": 2},
                "planned": {"batch": 2, "entries": {"table:t": {"version": 3}}, "version": 17}}


def test_documents_written_by_earlier_versions_load() -> None:
    cp = Checkpoint.from_json("main.silver.t", OLD_STREAMING)
    assert (cp.batch, cp.table_version, cp.planned) == (3, 7, None)
    assert cp.sources == {"files:/in": {"files": ["a.parquet"]}}
    mv = Checkpoint.from_json("main.gold.mv", OLD_INCREMENTAL)
    assert mv.planned is not None and mv.planned.batch == 3
    assert mv.planned.extra == {"from": 4, "to": 6, "files": ["x"], "sql": "abc"}
    assert mv.incremental == {"sql": "abc", "version": 4} and mv.known_batch == 3
    assert mv.other == {"some_future_key": [1, 2]}
    snap = Checkpoint.from_json("f", OLD_SNAPSHOT)
    assert snap.planned is not None and snap.planned.extra == {"version": 17}
    assert snap.source_versions == {"table:t": 2}


def test_round_trip_keeps_every_fact() -> None:
    for doc in (OLD_STREAMING, OLD_INCREMENTAL, OLD_SNAPSHOT):
        cp = Checkpoint.from_json(str(doc["flow"]), doc)
        again = Checkpoint.from_json(cp.flow, cp.to_json())
        assert again == cp


def test_a_pending_batch_document_has_the_protocol_fields() -> None:
    pending = PendingBatch(4, {"table:t": {"from": 1, "to": 2}}, {"table:t": {"version": 2}}, {"version": 9})
    doc: dict[str, Any] = pending.to_json()
    assert doc == {"batch": 4, "entries": {"table:t": {"from": 1, "to": 2}},
                   "after": {"table:t": {"version": 2}}, "version": 9}
    assert PendingBatch.from_json(doc) == pending


def test_batch_numbers_only_grow() -> None:
    cp = Checkpoint("f", batch=5, planned=PendingBatch(6))
    assert cp.next_batch() == 6 and cp.next_batch(done=9) == 10
    assert cp.rewound(3).batch == 6  # a full refresh keeps app transactions unique
    assert cp.rewound(8) == Checkpoint("f", batch=8)
