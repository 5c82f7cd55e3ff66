"""AUTO CDC FROM SNAPSHOT corpus projects.

``snapshot_function``: ``import dlt`` with ``apply_changes_from_snapshot`` and
``create_auto_cdc_from_snapshot_flow`` fed by a snapshot function
(``next_snapshot_and_version``) that lists ``data/snapshots/snapshot_<v>`` with
``dbutils.fs.ls``; update 1 sees versions 1 and 2, update 2 sees version 3. An SCD1 table
and an SCD2 table whose ``name`` is not tracked (changed in place).
"""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

from tests.pipeline.corpus_cases import CorpusCase

_SCHEMA = pa.schema([("customer_id", pa.int64()), ("name", pa.string()), ("city", pa.string())])
_SNAPSHOTS = {
    1: [(1, "Ana", "Oslo"), (2, "Ben", "Rome")],
    2: [(1, "Ana", "Bergen"), (2, "Benjamin", "Rome"), (3, "Cy", "Lima")],
    3: [(1, "Ana", "Bergen"), (3, "Cy", "Quito")],
}
_UPDATES = {0: (1, 2), 1: (3,)}


def _write_snapshots(root: Path, update: int) -> None:
    """The exports update ``update`` sees (0: versions 1 and 2; 1: version 3)."""
    for version in _UPDATES[update]:
        folder = root / "data" / "snapshots" / f"snapshot_{version}"
        folder.mkdir(parents=True, exist_ok=True)
        rows = [dict(zip(_SCHEMA.names, r, strict=True)) for r in _SNAPSHOTS[version]]
        pq.write_table(pa.Table.from_pylist(rows, schema=_SCHEMA), folder / "part-0.parquet")


def _history(customer_id: int, name: str, city: str, start: int, end: int | None) -> dict[str, object]:
    return {"customer_id": customer_id, "name": name, "city": city, "__START_AT": start, "__END_AT": end}


CASES = [
    CorpusCase("snapshot_function", {
        "customers": [
            {"customer_id": 1, "name": "Ana", "city": "Bergen"},
            {"customer_id": 3, "name": "Cy", "city": "Quito"},
        ],
        "customers_history": [
            _history(1, "Ana", "Oslo", 1, 2),
            _history(1, "Ana", "Bergen", 2, None),
            _history(2, "Benjamin", "Rome", 1, 3),
            _history(3, "Cy", "Lima", 2, 3),
            _history(3, "Cy", "Quito", 3, None),
        ],
    }, updates=2, data=_write_snapshots),
]
