"""Identifiers: run ids and stable hashes."""

from __future__ import annotations

import hashlib
import uuid


def new_run_id() -> str:
    """Return a new unique run id (a UUID4 hex string)."""
    return uuid.uuid4().hex


def stable_hash(*parts: str) -> str:
    """Return a short deterministic hash of ``parts`` (for file and app ids)."""
    digest = hashlib.sha256("\x1f".join(parts).encode("utf-8")).hexdigest()
    return digest[:16]
