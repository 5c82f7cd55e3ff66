"""Where streaming flows write: sinks, and one-time backfills into a streaming table.

``sinks``: ``import dlt`` with ``create_sink(..., "delta", {"path": ...})`` fed by a
streaming ``append_flow`` (plays of known users), and a ``foreach_batch_sink`` function
that writes each micro-batch it gets (``df.collect()``, ``df.count()``, ``batch_id``) to a
JSON file; two updates, the second with two new plays: each row reaches a sink once.
``once_backfill``: ``append_flow(once=True)`` backfills an archive (a batch read) into a
streaming table that a streaming flow of new files also feeds; the archive gains a row
before the second update, which the backfill, run in the first update only, never reads.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

from tests.pipeline.corpus_cases import PLAYS, PLAYS_SCHEMA, CorpusCase, normalized, write_plays

_NEW_PLAYS = [
    {"id": 9, "user_id": 1, "seconds": 225, "plan": "Premium"},
    {"id": 10, "user_id": None, "seconds": 250, "plan": "Premium"},
]
_ARCHIVE = {
    0: [{"id": 101, "user_id": 1, "seconds": 30}, {"id": 102, "user_id": 2, "seconds": 40}],
    1: [{"id": 103, "user_id": 1, "seconds": 50}],
}


def _write_plays(root: Path, update: int) -> None:
    """Update 0: :data:`PLAYS`; update 1: two new plays (one of an unknown user)."""
    write_plays(root, update)
    if update == 1:
        pq.write_table(pa.Table.from_pylist(_NEW_PLAYS, schema=PLAYS_SCHEMA), root / "data" / "plays" / "part-1.parquet")


def _write_archive_and_plays(root: Path, update: int) -> None:
    """The plays of :func:`_write_plays` and an archive that grows after the first update."""
    _write_plays(root, update)
    folder = root / "data" / "archive"
    folder.mkdir(parents=True, exist_ok=True)
    schema = pa.schema([("id", pa.int64()), ("user_id", pa.int64()), ("seconds", pa.int64())])
    pq.write_table(pa.Table.from_pylist(_ARCHIVE[update], schema=schema), folder / f"part-{update}.parquet")


_ALL = PLAYS + _NEW_PLAYS


def _check_sinks(root: Path, read: Callable[[str], list[dict[str, Any]]]) -> None:
    """The Delta sink holds each known play once; the function got two batches."""
    from deltalake import DeltaTable

    exported = DeltaTable(str(root / "exports" / "known_plays")).to_pyarrow_table().to_pylist()
    known = [{"id": p["id"], "user_id": p["user_id"], "seconds": p["seconds"]} for p in _ALL if p["user_id"] is not None]
    assert normalized(exported) == normalized(known)
    feed = root / "exports" / "feed"
    batches = [json.loads(f.read_text()) for f in sorted(feed.glob("batch-*.json"))]
    premium = [{"id": p["id"], "seconds": p["seconds"]} for p in _ALL if p["plan"] == "Premium"]
    assert [b["batch_id"] for b in batches] == [0, 1]
    assert [b["count"] for b in batches] == [4, 2]
    assert sorted((r for b in batches for r in b["rows"]), key=lambda r: r["id"]) == premium


CASES = [
    CorpusCase("sinks", {"plays": [{**p, "_rescued_data": None} for p in _ALL]}, updates=2, data=_write_plays, check=_check_sinks),
    CorpusCase("once_backfill", {
        "all_plays": _ARCHIVE[0] + [{"id": p["id"], "user_id": p["user_id"], "seconds": p["seconds"]} for p in _ALL],
    }, updates=2, data=_write_archive_and_plays),
]
