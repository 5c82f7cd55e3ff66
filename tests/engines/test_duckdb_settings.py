"""DuckDB connections carry the project's memory limit and spill folder."""

from __future__ import annotations

from pathlib import Path

import pytest

from soundlake.engines.duckdb.engine import DuckDBEngine
from soundlake.project.context import Project
from soundlake.project.pipeline_ops import make_engine


def _setting(engine: DuckDBEngine, name: str) -> str:
    table = engine.execute(f"SELECT current_setting('{name}') AS v", {}).read_all()
    return str(table.column("v")[0].as_py())


def test_engine_connection_uses_the_configured_limit(tmp_path: Path) -> None:
    (tmp_path / "soundlake.yml").write_text("name: p\nstorage: lake\nduckdb:\n  memory_limit: 512MB\n  threads: 1\n")
    engine = make_engine(Project.open(tmp_path))
    try:
        assert _setting(engine, "memory_limit").replace(" ", "") in ("488.2MiB", "512.0MB", "512MB")
        assert _setting(engine, "threads") == "1"
        assert _setting(engine, "temp_directory").startswith(str(tmp_path / "lake" / "_soundlake" / "tmp"))
    finally:
        engine.close()


def test_engines_with_different_limits_do_not_change_each_other() -> None:
    """No process-global settings: each engine keeps its own limits (AUTO CDC included)."""
    small, large = DuckDBEngine(memory_limit="256MB", threads=1), DuckDBEngine(memory_limit="1GB", threads=2)
    try:
        assert _setting(small, "memory_limit").replace(" ", "") in ("244.1MiB", "256MB")
        assert _setting(large, "memory_limit").replace(" ", "") in ("953.6MiB", "1GB", "1.0GiB")
        assert _setting(small, "threads") == "1"
    finally:
        small.close()
        large.close()


def test_default_limit_is_768_megabytes(tmp_path: Path) -> None:
    (tmp_path / "soundlake.yml").write_text("name: p\nstorage: lake\n")
    engine = make_engine(Project.open(tmp_path))
    try:
        assert _setting(engine, "memory_limit").replace(" ", "") in ("732.4MiB", "768MB")
    finally:
        engine.close()


def test_running_out_of_memory_names_the_setting_to_raise() -> None:
    import pyarrow as pa

    from soundlake.core.errors import EngineError
    from soundlake.engines.base import ArrowRelation
    from soundlake.engines.duckdb.engine import DuckDBEngine

    engine = DuckDBEngine(memory_limit="20MB", threads=1)
    try:
        rows = pa.table({"k": pa.array(range(3_000_000)), "v": pa.array(["x" * 20] * 3_000_000)})
        with pytest.raises(EngineError, match="duckdb.memory_limit"):
            reader = engine.execute(
                "SELECT list(v) AS vs FROM t GROUP BY k % 7", {"t": ArrowRelation(rows)}
            )
            reader.read_all()
    finally:
        engine.close()
