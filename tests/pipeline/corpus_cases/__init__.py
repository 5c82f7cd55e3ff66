"""The pipeline-source corpus: small projects as Databricks holds them, with their results.

Each project lives in ``tests/pipeline/corpus/<name>/`` exactly as a user brings it from a
Databricks workspace or bundle (notebooks in source format, ``.ipynb``, plain files,
``import dlt`` ...). A topic module in this package (``sources``, ``snapshots`` ...) lists
its projects in ``CASES`` as :class:`CorpusCase` values: the tables each must hold after
its last update and, for projects that run more than once, the input each update sees.

tests/pipeline/test_notebook_corpus.py runs every registered case through the real CLI
on DuckDB (``dry-run`` then one ``run`` per update); tests/engines/spark/
test_notebook_corpus_spark.py runs it on ``--engine spark`` and on DuckDB, and requires
equal tables on both and the expected rows.
"""

from __future__ import annotations

import importlib
import pkgutil
import shutil
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pyarrow as pa
import pyarrow.parquet as pq

CORPUS = Path(__file__).resolve().parent.parent / "corpus"
SCHEMA = "main.corpus"

PLAYS = [
    {"id": i, "user_id": None if i == 6 else i % 3, "seconds": i * 25, "plan": "Free" if i % 2 else "Premium"}
    for i in range(1, 9)
]
"""Eight plays; play 6 has no user (dropped where an expectation asks for one)."""

PLAYS_SCHEMA = pa.schema([("id", pa.int64()), ("user_id", pa.int64()), ("seconds", pa.int64()), ("plan", pa.string())])


def write_plays(root: Path, update: int) -> None:
    """The default input: :data:`PLAYS` as ``data/plays/part-0.parquet`` before the first update."""
    if update == 0:
        data = root / "data" / "plays"
        data.mkdir(parents=True, exist_ok=True)
        pq.write_table(pa.Table.from_pylist(PLAYS, schema=PLAYS_SCHEMA), data / "part-0.parquet")


@dataclass(frozen=True)
class CorpusCase:
    """One corpus project and what its updates must produce.

    Attributes:
        name: The project's folder under ``tests/pipeline/corpus``.
        expected: Rows each table (in :attr:`schema`) holds after the last update; column
            order and row order are ignored.
        updates: How many updates run, one after the other.
        data: ``data(root, update)`` writes the input update ``update`` (0-based) sees,
            before it runs.
        schema: The catalog schema of the expected tables.
        check: Extra assertions after the last update, ``check(root, read)`` where
            ``read(sql)`` returns rows as dicts (for results that are not tables of
            :attr:`schema`, e.g. a sink's files).
    """

    name: str
    expected: Mapping[str, list[dict[str, Any]]]
    updates: int = 1
    data: Callable[[Path, int], None] = write_plays
    schema: str = SCHEMA
    check: Callable[[Path, Callable[[str], list[dict[str, Any]]]], None] | None = None

    def prepare(self, folder: Path) -> Path:
        """Copy the project into ``folder``; return its root (no input written yet)."""
        root = folder / self.name
        shutil.copytree(CORPUS / self.name, root)
        return root


def registered() -> tuple[CorpusCase, ...]:
    """Every case of every topic module of this package, in module then list order."""
    cases: list[CorpusCase] = []
    for info in sorted(pkgutil.iter_modules(__path__), key=lambda i: i.name):
        cases.extend(importlib.import_module(f"{__name__}.{info.name}").CASES)
    names = [c.name for c in cases]
    duplicated = {n for n in names if names.count(n) > 1}
    assert not duplicated, f"corpus cases registered twice: {sorted(duplicated)}"
    return tuple(cases)


def normalized(rows: list[dict[str, Any]]) -> list[tuple[tuple[str, Any], ...]]:
    """Rows as sorted tuples of ``(column, value)`` (column order and row order ignored)."""
    return sorted((tuple(sorted(r.items())) for r in rows), key=repr)
