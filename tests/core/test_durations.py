"""One duration syntax for every look-back."""

from __future__ import annotations

import pytest

from soundlake.core.durations import parse_duration


@pytest.mark.parametrize(
    ("text", "expected"),
    [("35d", (35, "d")), ("35 days", (35, "d")), ("1 day", (1, "d")), ("12h", (12, "h")),
     ("12 HOURS", (12, "h")), ("90m", (90, "m")), ("90 minutes", (90, "m")), ("2w", (2, "w")),
     ("2 weeks", (2, "w")), ("45s", (45, "s")), ("0", (0, "")), (7, (7, "")), (" 3 d ", (3, "d"))],
)
def test_short_and_long_forms(text: str | int, expected: tuple[int, str]) -> None:
    assert parse_duration(text) == expected


@pytest.mark.parametrize("text", ["", "d", "3 fortnights", "-1d", "1.5d", "35 days ago"])
def test_refused(text: str) -> None:
    with pytest.raises(ValueError, match="is not a duration"):
        parse_duration(text)
