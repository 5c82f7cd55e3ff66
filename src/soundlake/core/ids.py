"""Identifiers: run ids and stable hashes."""

from __future__ import annotations

import uuid


def new_run_id() -> str:
    """Return a new unique run id (a UUID4 hex string)."""
    return uuid.uuid4().hex
