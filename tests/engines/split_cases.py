"""One expectation-split scenario, run on any engine: the DuckDB test and the Spark parity test share it."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path
from typing import Any

import pyarrow as pa

from soundlake.engines.base import (
    ArrowRelation,
    CommitInfo,
    DeltaTarget,
    Engine,
    ExpectationSplit,
    QueryWriteResult,
    Rule,
)
from soundlake.lake import delta

ROWS = pa.table({
    "id": pa.array([1, 2, 3, 4, 5, 6], pa.int64()),
    "amount": pa.array([10, -1, None, 5, -7, 0], pa.int64()),
    "name": pa.array(["a", "b", "c", None, None, "f"]),
})
AT = datetime(2026, 12, 4, 12, 30, 0, 123456, tzinfo=timezone.utc)


def rules(dialect: str, *, fail: bool = False) -> tuple[Rule, ...]:
    """warn on amount = 0, drop negative amounts, quarantine missing names (NULL amount passes)."""
    out = [
        Rule("nonzero", "amount <> 0", "warn"),
        Rule("positive", "amount >= 0", "drop"),
        Rule("named", "name IS NOT NULL", "quarantine"),
    ]
    if fail:
        out.append(Rule("small", "amount < 8", "fail"))
    return tuple(out)


def run(engine: Engine, root: Path, *, fail: bool = False, batch: int = 1) -> QueryWriteResult:
    """Write ROWS (amount doubled) to ``root/t`` with the split; quarantine to ``root/q``."""
    dialect = engine.capabilities.sql_dialect
    split = ExpectationSplit(
        rules(dialect, fail=fail), DeltaTarget(str(root / "q")), flow="f", run_id="r1", batch_id=batch,
        quarantined_at=AT,
    )
    return engine.write_query(
        "SELECT id, amount * 2 AS amount, name FROM src", {"src": ArrowRelation(ROWS)}, DeltaTarget(str(root / "t")),
        commit=CommitInfo("p:f", batch), storage_options={}, split=split,
    )


def tables(root: Path) -> dict[str, list[dict[str, Any]]]:
    """Target and quarantine rows, sorted by id."""
    out = {}
    for name in ("t", "q"):
        rows = delta.open_table(str(root / name)).to_pyarrow_table().to_pylist()
        out[name] = sorted(rows, key=lambda r: r["id"])
    return out


def check(engine: Engine, root: Path) -> dict[str, list[dict[str, Any]]]:
    """Run the scenario and assert what every engine must produce; returns the tables."""
    result = run(engine, root)
    c = result.counts
    # row 2 (-2) and 5 (-14) violate `positive`; 4 and 5 lack a name: 5 is quarantined, not dropped
    assert (c.input_rows, c.output_rows, c.dropped_rows, c.quarantined_rows) == (6, 3, 1, 2)
    assert c.failed == (1, 2, 2)
    assert result.violation is None and result.target is not None and result.quarantine is not None
    assert result.target.committed and result.target.num_rows == 3
    got = tables(root)
    assert [r["id"] for r in got["t"]] == [1, 3, 6]
    assert [(r["id"], r["_failed_expectations"]) for r in got["q"]] == [(4, ["named"]), (5, ["positive", "named"])]
    assert {(r["_flow"], r["_run_id"], r["_batch_id"]) for r in got["q"]} == {("f", "r1", 1)}
    assert {r["_quarantined_at"] for r in got["q"]} == {AT}
    again = run(engine, root)  # the same batch: both tables already hold it
    assert again.target is not None and not again.target.committed
    assert again.quarantine is not None and not again.quarantine.committed
    failed = run(engine, root, fail=True, batch=2)
    assert failed.violation is not None and failed.violation.rule == 3
    assert failed.violation.row["id"] == 1 and failed.violation.row["amount"] == 20
    assert failed.target is None and tables(root) == got  # nothing written
    return got
