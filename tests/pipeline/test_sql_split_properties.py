"""Property: statement splitting respects strings and comments, and lines are exact."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from soundlake.pipeline.definitions import Dataset, QueryFlow
from soundlake.pipeline.sql import parse_sql_text

TEXT = st.text(alphabet=list("ab ;-/*'\"\\\n\t`#"), max_size=12)


def _quote(text: str) -> str:
    return "'" + text.replace("\\", "\\\\").replace("'", "\\'") + "'"


def _comment(kind: int, text: str) -> str:
    if kind == 0:
        return "-- " + text.replace("\n", " ") + "\n"
    if kind == 1:
        return "/* " + text.replace("*/", "* /") + " */"
    return ""


@pytest.mark.property
@settings(max_examples=150, deadline=None)
@given(st.lists(st.tuples(TEXT, TEXT, st.integers(0, 2), st.integers(0, 3)), min_size=1, max_size=6))
def test_statements_split_on_top_level_semicolons_only(parts: list[tuple[str, str, int, int]]) -> None:
    chunks: list[str] = []
    expected: list[tuple[str, int]] = []
    for number, (literal, comment, kind, blank_lines) in enumerate(parts):
        prefix = _comment(kind, comment) + "\n" * blank_lines
        line = "".join(chunks).count("\n") + prefix.count("\n") + 1
        statement = f"CREATE MATERIALIZED VIEW v{number} AS SELECT {_quote(literal)} AS s"
        chunks.append(prefix + statement + ";")
        expected.append((f"v{number}", line))
    definitions = parse_sql_text("".join(chunks), file="p.sql", catalog="c", schema="s")
    datasets = [d for d in definitions if isinstance(d, Dataset)]
    flows = [d for d in definitions if isinstance(d, QueryFlow)]
    assert [(d.name.name, d.location.line) for d in datasets] == expected
    assert [d.location.statement for d in datasets] == list(range(1, len(parts) + 1))
    for flow, (literal, *_rest) in zip(flows, parts):
        assert flow.sql is not None and flow.sql.endswith(f"{_quote(literal)} AS s")
