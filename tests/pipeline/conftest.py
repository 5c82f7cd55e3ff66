"""Fixtures for pipeline runtime tests: a throw-away project with SQL definitions."""

from __future__ import annotations

import json
import textwrap
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from soundlake.project.context import Project


class Lakehouse:
    """A project folder with helpers to write definitions and data and to run updates."""

    def __init__(self, root: Path) -> None:
        self.root = root
        (root / "pipelines").mkdir(parents=True, exist_ok=True)
        (root / "data").mkdir(exist_ok=True)
        self.config(name="t", catalog="main", schema="silver")

    def config(self, **values: Any) -> None:
        base = {"name": "t", "catalog": "main", "schema": "silver", "storage": "lake",
                "libraries": ["pipelines/*.sql"], "configuration": {"data": "data"}}
        base.update(values)
        (self.root / "soundlake.yml").write_text(json.dumps(base), encoding="utf-8")

    def sql(self, text: str, name: str = "p.sql") -> None:
        (self.root / "pipelines" / name).write_text(textwrap.dedent(text), encoding="utf-8")

    def parquet(self, folder: str, name: str, rows: list[dict[str, Any]] | pa.Table) -> Path:
        path = self.root / "data" / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        table = rows if isinstance(rows, pa.Table) else pa.Table.from_pylist(rows)
        pq.write_table(table, path)
        return path

    def text(self, folder: str, name: str, content: str) -> Path:
        path = self.root / "data" / folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(content, encoding="utf-8")
        return path

    @property
    def project(self) -> Project:
        return Project.open(self.root)

    def run(self, **kwargs: Any) -> Any:
        from soundlake.project.pipeline_ops import run

        return run(self.project, **kwargs)

    def rows(self, sql: str) -> list[dict[str, Any]]:
        from soundlake.project.pipeline_ops import query

        return query(self.project, sql).to_pylist()

    def events(self, run_id: str | None = None) -> list[dict[str, Any]]:
        from soundlake.project.pipeline_ops import events

        return events(self.project, run_id=run_id).to_pylist()

    def progress(self, run_id: str, flow: str) -> dict[str, Any]:
        """The final flow_progress details of ``flow`` in update ``run_id``."""
        found: dict[str, Any] = {}
        for event in self.events(run_id):
            if event["event_type"] == "flow_progress" and event["origin"]["flow_name"] == flow:
                details = json.loads(event["details"])["flow_progress"]
                if details["status"] not in ("QUEUED", "RUNNING"):
                    found = details
        return found


@pytest.fixture()
def lakehouse(tmp_path: Path) -> Lakehouse:
    return Lakehouse(tmp_path / "proj")


def statuses(result: Any) -> dict[str, str]:
    """Flow name (last part) -> status."""
    return {name.rsplit(".", 1)[-1]: flow.status for name, flow in result.flows.items()}


SortKey = Callable[[dict[str, Any]], Any]
