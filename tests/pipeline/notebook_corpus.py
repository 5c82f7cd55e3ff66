"""The pipeline-source corpus (tests/pipeline/corpus/): one project per source form.

Each folder is a project as a user brings it from Databricks: a SQL notebook whose cells
end without ``;`` (``sql_notebook``), a Python notebook with ``%md``, ``%pip`` and
``%python`` cells beside a plain SQL file (``python_notebook``), ``.ipynb`` notebooks in
SQL and Python (``ipynb``), and plain files (``plain_files``); between them ``libraries``
is written in every form (glob string, folder, ``glob: {include}``, ``file: {path}``,
``notebook: {path}`` without extension). :func:`prepare` copies a project and writes its
data; :data:`EXPECTED` holds the tables an update must produce (the same on every engine).
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

CORPUS = Path(__file__).resolve().parent / "corpus"
SCHEMA = "main.corpus"

PLAYS = [
    {"id": i, "user_id": None if i == 6 else i % 3, "seconds": i * 25, "plan": "Free" if i % 2 else "Premium"}
    for i in range(1, 9)
]
"""Eight plays; play 6 has no user (dropped where an expectation asks for one)."""

_KNOWN = [p for p in PLAYS if p["user_id"] is not None]
_PER_USER = [{"user_id": 0, "plays": 1, "seconds": 75}, {"user_id": 1, "plays": 3, "seconds": 300},
             {"user_id": 2, "plays": 3, "seconds": 375}]
_LONG_KNOWN = [{"id": p["id"], "seconds": p["seconds"]} for p in _KNOWN if p["seconds"] >= 100]
_BY_PLAN_KNOWN = [{"plan": "Free", "plays": 4, "seconds": 400}, {"plan": "Premium", "plays": 3, "seconds": 350}]

EXPECTED: dict[str, dict[str, list[dict[str, Any]]]] = {
    "sql_notebook": {
        "plays": _KNOWN,
        "plays_by_plan": _BY_PLAN_KNOWN,
        "long_plays": _LONG_KNOWN,
        "free_users": [{"user_id": 0, "plays": 1}, {"user_id": 1, "plays": 2}, {"user_id": 2, "plays": 1}],
    },
    "python_notebook": {
        "plays": PLAYS,
        "per_user": _PER_USER,
        "premium_users": [{"user_id": 1}, {"user_id": 2}, {"user_id": None}],
    },
    "ipynb": {
        "plays": _KNOWN,
        "long_plays": _LONG_KNOWN,
        "plays_by_plan": _BY_PLAN_KNOWN,
    },
    "plain_files": {
        "plays": PLAYS,
        "plays_by_plan": [{"plan": "Free", "plays": 4, "seconds": 400}, {"plan": "Premium", "plays": 4, "seconds": 500}],
        "per_user": _PER_USER,
        "long_plays": [{"id": p["id"], "seconds": p["seconds"]} for p in PLAYS if p["seconds"] >= 100],
    },
}
CASES = tuple(EXPECTED)


def prepare(case: str, folder: Path) -> Path:
    """Copy corpus project ``case`` into ``folder`` and write its data; return the project root."""
    root = folder / case
    shutil.copytree(CORPUS / case, root)
    data = root / "data" / "plays"
    data.mkdir(parents=True)
    schema = pa.schema([("id", pa.int64()), ("user_id", pa.int64()), ("seconds", pa.int64()), ("plan", pa.string())])
    pq.write_table(pa.Table.from_pylist(PLAYS, schema=schema), data / "part-0.parquet")
    return root


def normalized(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, Any], ...]]:
    """Rows as sorted tuples of ``(column, value)`` (column order and row order ignored)."""
    return sorted((tuple(sorted(r.items())) for r in rows), key=repr)
