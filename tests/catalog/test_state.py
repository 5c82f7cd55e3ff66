"""Atomic JSON state documents."""

from __future__ import annotations

from pathlib import Path

from soundlake.catalog.state import StateStore, checkpoint_key, safe_name
from soundlake.lake.storage import Lake


def test_write_read_replace_delete(tmp_path: Path) -> None:
    store = StateStore(Lake(str(tmp_path)), "my pipeline")
    key = checkpoint_key("main.silver.t")
    assert store.read(key) is None
    store.write(key, {"batch": 1})
    store.write(key, {"batch": 2})
    assert store.read(key) == {"batch": 2}
    folder = Path(store.uri("checkpoints"))
    assert [p.name for p in folder.iterdir()] == ["main.silver.t.json"]  # no temp files left
    assert list(store.keys("checkpoints")) == ["checkpoints/main.silver.t.json"]
    store.delete(key)
    assert store.read(key) is None
    assert safe_name("a/b c") == "a_b_c"
