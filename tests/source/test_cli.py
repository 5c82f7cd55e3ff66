"""``soundlake source ...`` end to end through a subprocess."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

from soundlake.source.db import read_rows, table_counts
from tests.cli import soundlake


def run_cli(project: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return soundlake("source", *args, project=project, columns=200)


def _project(tmp_path: Path, url: str | None = None) -> Path:
    root = tmp_path / "proj"
    root.mkdir()
    source = f"source:\n  url: {url}\n" if url else ""
    (root / "soundlake.yml").write_text(f"name: t\nstorage: lake\nlibraries: []\n{source}")
    return root


def test_create_load_generate_simulate_on_sqlite(tmp_path: Path, tutorial_dir: Path) -> None:
    project = _project(tmp_path)
    url = f"sqlite:///{project / 'source.db'}"
    created = run_cli(project, "create")
    assert created.returncode == 0, created.stderr
    assert "created DimUser" in created.stdout and (project / "source.db").is_file()
    assert "already exist" in run_cli(project, "create").stdout

    loaded = run_cli(project, "load-sql", str(tutorial_dir / "spotify_initial_load.sql"),
                     str(tutorial_dir / "spotify_incremental_load.sql"))
    assert loaded.returncode == 0, loaded.stderr
    assert "rows/s" in loaded.stdout
    assert read_rows(url, "DimUser", [379])[379]["subscription_type"] == "Premium"

    refused = run_cli(project, "generate", "--scale", "0.001", "--seed", "1")
    assert refused.returncode == 1 and "--replace" in refused.stderr
    generated = run_cli(project, "generate", "--scale", "0.001", "--seed", "1", "--replace")
    assert generated.returncode == 0, generated.stderr
    assert "rows/s" in generated.stdout and table_counts(url)["FactStream"] == 1000

    out = tmp_path / "summary.json"
    simulated = run_cli(project, "simulate", "--seed", "2", "--bad-rows", "--summary-json", str(out),
                        "--now", "2026-02-01T10:00:00")
    assert simulated.returncode == 0, simulated.stderr
    summary = json.loads(out.read_text())
    assert summary["now"] == "2026-02-01T10:00:00" and summary["bad"]
    streams = read_rows(url, "FactStream")
    for change in summary["changes"]:
        if change["table"] == "FactStream":
            assert streams[change["key"]]["stream_timestamp"].isoformat() == summary_last(summary, change["key"])


def summary_last(summary: dict, key: int) -> str:  # type: ignore[type-arg]
    last = [c for c in summary["changes"] if c["table"] == "FactStream" and c["key"] == key][-1]
    return str(last["new"]["stream_timestamp"])


def test_postgres_source_from_config(tmp_path: Path, pg_url: str) -> None:
    project = _project(tmp_path, pg_url)
    assert run_cli(project, "create").returncode == 0
    generated = run_cli(project, "generate", "--scale", "0.001", "--seed", "3")
    assert generated.returncode == 0, generated.stderr
    assert table_counts(pg_url)["FactStream"] == 1000
    assert "***" in generated.stdout and "soundlake:soundlake@" not in generated.stdout  # password hidden


def test_errors_are_one_line_with_exit_code(tmp_path: Path) -> None:
    project = _project(tmp_path)
    bad = tmp_path / "bad.sql"
    bad.write_text("SELECT 1;\n")
    result = run_cli(project, "load-sql", str(bad))
    assert result.returncode == 1
    assert result.stderr.strip().count("\n") == 0 and f"{bad}:1:" in result.stderr
    empty = run_cli(project, "simulate")
    assert empty.returncode == 1 and "no users or tracks" in empty.stderr
