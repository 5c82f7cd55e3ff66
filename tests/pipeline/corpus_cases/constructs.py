"""Databricks constructs, one small project each, as a workspace or bundle holds them.

``sql_legacy_forms``: the older DLT SQL (``LIVE.`` references, ``STREAMING LIVE TABLE``,
``cloud_files`` without ``STREAM``, a temporary streaming table, a private materialized
view, a view with an expectation, declared column comments, ``SET``) in a SQL notebook.
``python_runtime``: ``import dlt``, ``SparkSession.builder.getOrCreate()``,
``databricks.sdk.runtime`` and ``dbutils.widgets`` backed by the configuration,
``spark.conf.get``, ``SparkSession.active().conf.set`` (ANSI off for the definitions after
it), ``dbutils.fs.ls`` and the notebook context's user, ``create_target_table`` with an
append flow, ``dlt.read`` / ``dlt.read_stream``, an expectation on a view and ``spark.range``. ``path_reads``: file and
Delta reads by path, and a catalog table that no flow of the pipeline writes.
"""

from __future__ import annotations

import getpass
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pytest

from soundlake.core.errors import SoundlakeError
from soundlake.lake import delta
from tests.pipeline.corpus_cases import PLAYS, CorpusCase, write_plays

_KNOWN = [p for p in PLAYS if p["user_id"] is not None]


def _unpublished(*tables: str) -> Callable[[Path, Callable[[str], list[dict[str, Any]]]], None]:
    """A check that the private (temporary) datasets ``tables`` ran but are not in the catalog."""

    def check(root: Path, read: Callable[[str], list[dict[str, Any]]]) -> None:
        for table in tables:
            with pytest.raises(SoundlakeError, match=f"table main.corpus.{table} does not exist"):
                read(f"SELECT * FROM main.corpus.{table}")

    return check


def _comments(root: Path) -> None:
    """The declared column comments of ``plays`` are Delta column metadata, in column order."""
    from deltalake import DeltaTable

    fields = DeltaTable(str(root / "lake" / "main" / "corpus" / "plays")).schema().fields
    assert [(f.name, f.metadata.get("comment")) for f in fields] == [
        ("id", "the play"), ("user_id", None), ("seconds", "seconds listened"), ("plan", None),
    ]


def _path_data(root: Path, update: int) -> None:
    """Plays, a Delta table of scores and JSON tags outside the lake, and a catalog table."""
    write_plays(root, update)
    scores = pa.table({"id": pa.array([1, 2, 3], pa.int64()), "score": [1.5, 2.5, 3.5]})
    delta.write_table(str(root / "data" / "scores.v1"), scores.to_reader(), mode="overwrite")
    (root / "data" / "tags").mkdir(parents=True)
    (root / "data" / "tags" / "a.json").write_text('{"id": 1, "tag": "first"}\n{"id": 3, "tag": "third"}\n', "utf-8")
    labels = pa.table({"plan": ["Free", "Premium", "Family"], "label": ["free tier", "paid", "family"]})
    delta.write_table(str(root / "lake" / "main" / "corpus" / "plan_labels"), labels.to_reader(), mode="overwrite")


CASES = [
    CorpusCase("sql_legacy_forms", {
        "plays": _KNOWN,
        "free_count": [{"plays": 4, "seconds": 400}],
        "plans": [{"plan": "Free", "plays": 4}],
    }, check=lambda root, read: (_unpublished("raw_plays", "per_plan")(root, read), _comments(root))),
    CorpusCase("python_runtime", {
        "plays": _KNOWN,
        "long_plays": [{"id": p["id"], "seconds": p["seconds"]} for p in _KNOWN if p["seconds"] >= 100],
        "premium_count": [{"count": 3}],
        "ids": [{"id": 0}, {"id": 1}, {"id": 2}],
        "lenient": [{"x": None, "files": 1, "owner": getpass.getuser()}],
    }, check=_unpublished("raw_plays")),
    CorpusCase("path_reads", {
        "plays_with_scores": [
            {"id": 1, "plan": "Free", "score": 1.5, "tag": "first"},
            {"id": 2, "plan": "Premium", "score": 2.5, "tag": None},
            {"id": 3, "plan": "Free", "score": 3.5, "tag": "third"},
        ],
        "streamed_scores": [{"id": 1, "score": 1.5}, {"id": 2, "score": 2.5}, {"id": 3, "score": 3.5}],
        "scores_by_path": [{"id": 2, "score": 2.5}, {"id": 3, "score": 3.5}],
        "plan_names": [{"plan": "Free", "label": "free tier"}, {"plan": "Premium", "label": "paid"}],
    }, data=_path_data),
]
