"""Words for people: counts with the right plural, statuses in a sentence."""

from __future__ import annotations


def plural(count: int, singular: str, plural_form: str | None = None) -> str:
    """``count`` and the noun that fits it: ``1 row``, ``2 rows``, ``1,000 rows``."""
    word = singular if count == 1 else (plural_form or f"{singular}s")
    return f"{count:,} {word}"


def status_sentence(subject: str, status: str) -> str:
    """``Flow 'x' has COMPLETED`` / ``is IDLE`` / ``was SKIPPED``: a status in a sentence."""
    verb = {"IDLE": "is", "RUNNING": "is", "QUEUED": "is", "PLANNING": "is", "STARTING": "is"}.get(status)
    if verb is None:
        verb = "was" if status in ("SKIPPED", "EXCLUDED") else "has"
    return f"{subject} {verb} {status}"
