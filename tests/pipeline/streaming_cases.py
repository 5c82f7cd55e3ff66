"""Streaming queries and Spark Structured Streaming's verdict on each, in append mode.

``s`` and ``s2`` are streams (``STREAM(s)``), ``b`` a batch table; every input has the
columns ``id BIGINT, k STRING, ts TIMESTAMP``. The verdict is Spark's error class (plus the
start of its message for ``_LEGACY_ERROR_TEMP_3102``), or None when Spark starts the query.
``tests/engines/spark/test_streaming_rules_spark.py`` proves every verdict against real
Spark; ``tests/pipeline/test_streaming_rules.py`` checks soundlake's against them.

Also collected here: every streaming flow's SQL of the test suite's SQL pipelines and of
the reference project template (:func:`collected_flows`).
"""

from __future__ import annotations

import ast
import re
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import REPO

WINDOW = "NON_TIME_WINDOW_NOT_SUPPORTED_IN_STREAMING"
OUTPUT_MODE = "STREAMING_OUTPUT_MODE.UNSUPPORTED_OPERATION"
SUBQUERY = "INVALID_SUBQUERY_EXPRESSION.STREAMING_QUERY"
LEGACY = "_LEGACY_ERROR_TEMP_3102"
SORT = (LEGACY, "Sorting is not supported on streaming DataFrames/Datasets")

CASES: list[tuple[str, str | tuple[str, str] | None]] = [
    # accepted
    ("SELECT * FROM STREAM(s)", None),
    ("SELECT id, upper(k) AS k FROM STREAM(s) WHERE id > 1", None),
    ("SELECT * FROM STREAM(s) LIMIT 5", None),
    ("SELECT * FROM (SELECT * FROM STREAM(s) LIMIT 5) AS t", None),
    ("SELECT * FROM STREAM(s) TABLESAMPLE (2 ROWS)", None),
    ("SELECT * FROM STREAM(s) JOIN STREAM(s2) USING (id)", None),
    ("SELECT * FROM STREAM(s) CROSS JOIN STREAM(s2)", None),
    ("SELECT * FROM STREAM(s) CROSS JOIN b", None),
    ("SELECT * FROM b JOIN STREAM(s) USING (id)", None),
    ("SELECT * FROM STREAM(s) LEFT JOIN b USING (id)", None),
    ("SELECT * FROM b RIGHT JOIN STREAM(s) USING (id)", None),
    ("SELECT * FROM STREAM(s) LEFT SEMI JOIN b USING (id)", None),
    ("SELECT * FROM STREAM(s) LEFT ANTI JOIN b USING (id)", None),
    ("SELECT * FROM STREAM(s) UNION ALL SELECT * FROM STREAM(s2)", None),
    ("SELECT * FROM STREAM(s) EXCEPT SELECT * FROM b", None),
    ("SELECT * FROM STREAM(s) EXCEPT ALL SELECT * FROM b", None),
    ("SELECT * FROM STREAM(s) WHERE id IN (SELECT id FROM b)", None),
    ("SELECT * FROM STREAM(s) WHERE id IN (SELECT id FROM b ORDER BY id LIMIT 2)", None),
    ("SELECT * FROM STREAM(s) AS x WHERE NOT EXISTS (SELECT 1 FROM b WHERE b.id = x.id)", None),
    ("SELECT * FROM STREAM(s) WHERE id > (SELECT max(id) FROM b)", None),
    ("SELECT * FROM STREAM(s) JOIN (SELECT k, count(*) AS n FROM b GROUP BY k) USING (k)", None),
    ("SELECT * FROM STREAM(s) JOIN (SELECT id, row_number() OVER (ORDER BY id) AS r FROM b) USING (id)", None),
    ("SELECT * FROM STREAM(s) DISTRIBUTE BY k", None),
    ("SELECT *, explode(array(1, 2)) AS e FROM STREAM(s)", None),
    ("SELECT * FROM STREAM(s) LATERAL VIEW explode(array(1, 2)) t AS e", None),
    ("WITH x AS (SELECT * FROM STREAM(s)) SELECT id, k FROM x WHERE id > 0", None),
    ("SELECT id, ts FROM STREAM(s) AS a WHERE a.k IN ('x', 'y')", None),
    # window functions (the reference project's former silver de-duplication among them)
    ("SELECT * FROM STREAM(s) QUALIFY row_number() OVER (PARTITION BY k ORDER BY ts DESC) = 1", WINDOW),
    ("SELECT *, sum(id) OVER (PARTITION BY k) AS total FROM STREAM(s)", WINDOW),
    ("SELECT max(id) OVER () AS m FROM STREAM(s)", WINDOW),
    ("SELECT * FROM STREAM(s) JOIN b USING (id) QUALIFY row_number() OVER (PARTITION BY s.k ORDER BY id) = 1",
     WINDOW),
    (("SELECT id, upper(k) AS k, ts FROM STREAM(s)\nQUALIFY row_number() OVER (\n  PARTITION BY id, ts\n"
      "  ORDER BY upper(k) DESC NULLS LAST\n) = 1"), WINDOW),
    # aggregations in append mode without a watermark
    ("SELECT DISTINCT k FROM STREAM(s)", OUTPUT_MODE),
    ("SELECT k, count(*) AS n FROM STREAM(s) GROUP BY k", OUTPUT_MODE),
    ("SELECT count(*) AS n FROM STREAM(s)", OUTPUT_MODE),
    ("SELECT max_by(id, ts) AS m FROM STREAM(s)", OUTPUT_MODE),
    ("SELECT k FROM STREAM(s) GROUP BY k HAVING count(*) > 1", OUTPUT_MODE),
    ("SELECT k, count(*) AS n FROM STREAM(s) GROUP BY ROLLUP(k)", OUTPUT_MODE),
    ("SELECT n, count(*) AS c FROM (SELECT k, count(*) AS n FROM STREAM(s) GROUP BY k) AS t GROUP BY n",
     OUTPUT_MODE),
    ("SELECT * FROM STREAM(s) UNION SELECT * FROM STREAM(s2)", OUTPUT_MODE),
    ("SELECT k, count(*) AS n FROM STREAM(s) GROUP BY k ORDER BY k", OUTPUT_MODE),
    ("SELECT k, count(*) AS n, row_number() OVER (ORDER BY k) AS r FROM STREAM(s) GROUP BY k", OUTPUT_MODE),
    # sorting, offset, sampling
    ("SELECT * FROM STREAM(s) ORDER BY id", SORT),
    ("SELECT * FROM STREAM(s) ORDER BY id LIMIT 5", SORT),
    ("SELECT * FROM (SELECT * FROM STREAM(s) ORDER BY id) AS t", SORT),
    ("WITH x AS (SELECT * FROM STREAM(s)) SELECT * FROM x ORDER BY id", SORT),
    ("SELECT * FROM STREAM(s) SORT BY id", SORT),
    ("SELECT * FROM STREAM(s) CLUSTER BY k", SORT),
    ("SELECT * FROM STREAM(s) UNION ALL SELECT * FROM STREAM(s2) ORDER BY id", SORT),
    ("SELECT * FROM STREAM(s) LIMIT 5 OFFSET 1", (LEGACY, "Offset is not supported on streaming")),
    ("SELECT * FROM STREAM(s) TABLESAMPLE (10 PERCENT)", (LEGACY, "Sampling is not supported on streaming")),
    # joins
    ("SELECT * FROM b LEFT JOIN STREAM(s) USING (id)", (LEGACY, "LeftOuter join with a streaming DataFrame/Dataset on the right")),
    ("SELECT * FROM b LEFT SEMI JOIN STREAM(s) USING (id)", (LEGACY, "LeftSemi join with a streaming DataFrame/Dataset on the right")),
    ("SELECT * FROM STREAM(s) RIGHT JOIN b USING (id)", (LEGACY, "RightOuter join with a streaming DataFrame/Dataset on the left")),
    ("SELECT * FROM STREAM(s) FULL JOIN b USING (id)", (LEGACY, "FullOuter joins with streaming DataFrames/Datasets on the left")),
    ("SELECT * FROM b FULL JOIN STREAM(s) USING (id)", (LEGACY, "FullOuter joins with streaming DataFrames/Datasets on the right")),
    ("SELECT * FROM STREAM(s) LEFT JOIN STREAM(s2) USING (id)", (LEGACY, "Stream-stream LeftOuter join")),
    ("SELECT * FROM STREAM(s) FULL JOIN STREAM(s2) USING (id)", (LEGACY, "Stream-stream FullOuter join")),
    ("SELECT * FROM STREAM(s) LEFT SEMI JOIN STREAM(s2) USING (id)", (LEGACY, "Stream-stream LeftSemi join")),
    ("SELECT * FROM STREAM(s) LEFT ANTI JOIN STREAM(s2) USING (id)", (LEGACY, "LeftAnti joins with a streaming")),
    ("SELECT * FROM b LEFT ANTI JOIN STREAM(s) USING (id)", (LEGACY, "LeftAnti joins with a streaming")),
    ("SELECT * FROM b LEFT JOIN STREAM(s) USING (id) QUALIFY row_number() OVER (PARTITION BY s.k ORDER BY id) = 1",
     (LEGACY, "LeftOuter join with a streaming DataFrame/Dataset on the right")),
    # set operations and subqueries
    ("SELECT * FROM STREAM(s) UNION ALL SELECT * FROM b", (LEGACY, "Union between streaming and batch")),
    ("SELECT * FROM STREAM(s) EXCEPT SELECT * FROM STREAM(s2)", (LEGACY, "Except on a streaming DataFrame/Dataset on the right")),
    ("SELECT * FROM b EXCEPT SELECT * FROM STREAM(s)", (LEGACY, "Except on a streaming DataFrame/Dataset on the right")),
    ("SELECT * FROM STREAM(s) INTERSECT SELECT * FROM b", (LEGACY, "Intersect of streaming DataFrames/Datasets")),
    ("SELECT * FROM b INTERSECT SELECT * FROM STREAM(s)", (LEGACY, "Intersect of streaming DataFrames/Datasets")),
    ("SELECT * FROM STREAM(s) WHERE id IN (SELECT id FROM STREAM(s2))", SUBQUERY),
    ("SELECT * FROM STREAM(s) WHERE id = (SELECT max(id) FROM STREAM(s2))", SUBQUERY),
    ("SELECT * FROM STREAM(s) WHERE id IN (SELECT id FROM STREAM(s2)) QUALIFY row_number() OVER (PARTITION BY k ORDER BY id) = 1",
     SUBQUERY),
]


@dataclass(frozen=True)
class CollectedFlow:
    """A streaming flow's SQL found in a pipeline of the test suite or the template."""

    where: str
    sql: str


def _pipeline_texts() -> Iterator[tuple[str, str]]:
    template = REPO / "src" / "soundlake" / "project" / "templates"
    for path in sorted([*template.rglob("*.sql"), *(REPO / "tests").rglob("*.sql")]):
        yield str(path.relative_to(REPO)), path.read_text(encoding="utf-8")
    yield from _bundled_template()
    for path in sorted((REPO / "tests").rglob("*.py")):
        if path.name.startswith("test_streaming_rules"):
            continue  # pipelines refused on purpose
        try:
            tree = ast.parse(path.read_text(encoding="utf-8"))
        except (SyntaxError, UnicodeDecodeError):
            continue
        for node in ast.walk(tree):
            if isinstance(node, ast.Constant) and isinstance(node.value, str) and "STREAM" in node.value.upper() \
                    and "CREATE" in node.value.upper():
                yield f"{path.relative_to(REPO)}:{node.lineno}", node.value


def _bundled_template() -> Iterator[tuple[str, str]]:
    """The template's SQL as ``soundlake bundle`` rewrites it (quarantine tables added)."""
    from soundlake.project.bundle import write_bundle
    from soundlake.project.context import Project
    from soundlake.project.scaffold import init_project

    with tempfile.TemporaryDirectory() as tmp:
        init_project(Path(tmp) / "p")
        write_bundle(Project.open(Path(tmp) / "p"), Path(tmp) / "b")
        for path in sorted((Path(tmp) / "b" / "src").rglob("*.sql")):
            yield f"bundle of the template: {path.relative_to(Path(tmp) / 'b').as_posix()}", path.read_text(encoding="utf-8")


def collected_flows() -> list[CollectedFlow]:
    """Every streaming SQL flow (query text) of the SQL pipelines in the tests and the template."""
    from soundlake.core.errors import SoundlakeError
    from soundlake.pipeline.definitions import QueryFlow
    from soundlake.pipeline.sql.parser import parse_sql_text

    found: dict[str, CollectedFlow] = {}
    for where, text in _pipeline_texts():
        try:
            text = re.sub(r"\$\{([^}]*)\}", r"/data/\1", text)  # every ${key} is a path
            definitions = parse_sql_text(text, file=where, catalog="main", schema="default")
        except (SoundlakeError, ValueError, KeyError):
            continue
        for d in definitions:
            if isinstance(d, QueryFlow) and d.streaming and d.sql is not None and "STREAM" in d.sql.upper():
                found.setdefault(" ".join(d.sql.split()), CollectedFlow(f"{where} ({d.name})", d.sql))
    return list(found.values())


def template_root() -> Path:
    """The reference project template that ``soundlake init`` copies."""
    return REPO / "src" / "soundlake" / "project" / "templates" / "spotify"
