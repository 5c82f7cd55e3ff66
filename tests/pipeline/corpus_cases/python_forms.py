"""Definition forms beyond one flat file: USE statements, definition-time reads, packages.

``use_statements``: a SQL file that moves between schemas with ``USE SCHEMA``, ``USE
CATALOG`` and ``USE DATABASE``; datasets and reads after each resolve against it.
``python_package``: a package of pipeline modules (``libraries: glob: pipelines/**``)
with helpers imported as ``utils.helpers`` and ``pipelines.utils.helpers``, modules found
with ``pkgutil``, and ``import dlt`` / ``databricks.sdk.runtime`` inside the helpers.
``definition_time``: a Python file reading a catalog table while it loads (``columns``,
``dtypes``, ``count()``, ``first()``, and ``collect()`` driving a loop of definitions),
plus ``spark.read.csv`` / ``json`` with keyword options.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa

from soundlake.lake import delta
from tests.pipeline.corpus_cases import PLAYS, CorpusCase, normalized, write_plays

_KNOWN = [p for p in PLAYS if p["user_id"] is not None]


def _per_user() -> list[dict[str, Any]]:
    users = sorted({p["user_id"] for p in _KNOWN})
    return [
        {
            "user_id": u,
            "plays": sum(1 for p in _KNOWN if p["user_id"] == u),
            "seconds": sum(p["seconds"] for p in _KNOWN if p["user_id"] == u),
        }
        for u in users
    ]


def _busiest() -> list[dict[str, Any]]:
    top = min(_per_user(), key=lambda r: (-r["plays"], r["user_id"]))
    return [{"user_id": top["user_id"], "plays": top["plays"]}]


def _silver_tables(root: Path, read: Callable[[str], list[dict[str, Any]]]) -> None:
    """The datasets defined after ``USE SCHEMA silver`` are published in main.silver."""
    known = [{"id": p["id"], "user_id": p["user_id"], "seconds": p["seconds"]} for p in _KNOWN]
    assert normalized(read("SELECT * FROM main.silver.known_plays")) == normalized(known)
    assert normalized(read("SELECT * FROM main.silver.per_user")) == normalized(_per_user())


CONFIG = [
    {"plan": "Free", "min_seconds": 100, "enabled": True, "note": "not published"},
    {"plan": "Premium", "min_seconds": 50, "enabled": True, "note": None},
    {"plan": "Family", "min_seconds": 0, "enabled": False, "note": None},
]
"""The configuration table ``definition_time`` reads while it loads (one table per enabled plan)."""

LABELS = [("Free", "free tier", 1), ("Premium", "paid", 2)]
DEVICES = [{"id": 1, "device": "phone"}, {"id": 2, "device": "web"}]


def _definition_data(root: Path, update: int) -> None:
    """Plays, the configuration Delta table, a ';'-separated CSV and a multi-line JSON file."""
    write_plays(root, update)
    config = pa.Table.from_pylist(CONFIG, schema=pa.schema(
        [("plan", pa.string()), ("min_seconds", pa.int32()), ("enabled", pa.bool_()), ("note", pa.string())]))
    delta.write_table(str(root / "lake" / "main" / "corpus" / "plan_config"), config.to_reader(), mode="overwrite")
    (root / "data" / "labels").mkdir(parents=True)
    csv = "plan;label;rank\n" + "".join(f"{p};{label};{rank}\n" for p, label, rank in LABELS)
    (root / "data" / "labels" / "labels.csv").write_text(csv, encoding="utf-8")
    (root / "data" / "devices").mkdir(parents=True)
    entries = ",\n".join(f'  {{"id": {d["id"]},\n   "device": "{d["device"]}"}}' for d in DEVICES)
    (root / "data" / "devices" / "devices.json").write_text(f"[\n{entries}\n]\n", encoding="utf-8")


def _long_plays(row: dict[str, Any]) -> list[dict[str, Any]]:
    return [{"id": p["id"], "seconds": p["seconds"]} for p in PLAYS
            if p["plan"] == row["plan"] and p["seconds"] >= row["min_seconds"]]


def _plan(plan: str) -> list[dict[str, Any]]:
    return [{"id": p["id"], "seconds": p["seconds"]} for p in _KNOWN if p["plan"] == plan]


CASES = [
    CorpusCase("use_statements", {
        "plays": PLAYS,
        "busiest_user": _busiest(),
    }, check=_silver_tables),
    CorpusCase("python_package", {
        "plays": _KNOWN,
        "free_plays": _plan("Free"),
        "premium_plays": _plan("Premium"),
    }),
    CorpusCase("definition_time", {
        "plans": [{k: v for k, v in r.items() if k != "note"} for r in CONFIG],
        "config_summary": [{"plans": len(CONFIG), "first_plan": min(r["plan"] for r in CONFIG), "min_seconds_type": "int"}],
        "plays": PLAYS,
        **{f"long_{r['plan'].lower()}_plays": _long_plays(r) for r in CONFIG if r["enabled"]},
        "labels": [{"plan": p, "label": label} for p, label, _rank in LABELS],
        "devices": DEVICES,
    }, data=_definition_data),
]
