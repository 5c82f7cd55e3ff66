"""Counts and statuses in sentences."""

from __future__ import annotations

import pytest

from soundlake.core.text import plural, status_sentence


@pytest.mark.parametrize(
    ("count", "word", "expected"),
    [(0, "row", "0 rows"), (1, "row", "1 row"), (2, "row", "2 rows"), (1234, "file", "1,234 files"),
     (1, "expectation", "1 expectation"), (3, "entry", "3 entries")],
)
def test_plural(count: int, word: str, expected: str) -> None:
    forms = {"entry": "entries"}
    assert plural(count, word, forms.get(word)) == expected


@pytest.mark.parametrize(
    ("status", "expected"),
    [("COMPLETED", "Flow 'f' has COMPLETED"), ("FAILED", "Flow 'f' has FAILED"),
     ("IDLE", "Flow 'f' is IDLE"), ("SKIPPED", "Flow 'f' was SKIPPED"), ("RUNNING", "Flow 'f' is RUNNING")],
)
def test_status_sentence(status: str, expected: str) -> None:
    assert status_sentence("Flow 'f'", status) == expected
