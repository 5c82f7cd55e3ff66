"""CLI: help on every command, init, and error mapping to exit codes."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest


def run_cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "soundlake.cli.main", *args], cwd=cwd, capture_output=True, text=True
    )


def _all_commands() -> list[list[str]]:
    from typer.main import get_command

    from soundlake.cli.commands import register_all
    from soundlake.cli.main import app

    register_all(app)
    root = get_command(app)
    paths: list[list[str]] = []

    def walk(cmd: object, prefix: list[str]) -> None:
        paths.append(prefix)
        for name, sub in getattr(cmd, "commands", {}).items():
            walk(sub, [*prefix, name])

    walk(root, [])
    return paths


@pytest.mark.parametrize("path", _all_commands(), ids=lambda p: " ".join(p) or "<root>")
def test_every_command_has_help(path: list[str]) -> None:
    result = run_cli(*path, "--help")
    assert result.returncode == 0, result.stderr
    assert "Usage" in result.stdout


def test_init_then_config_loads(tmp_path: Path) -> None:
    result = run_cli("init", str(tmp_path / "proj"))
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "proj" / "soundlake.yml").is_file()
    again = run_cli("init", str(tmp_path / "proj"))
    assert again.returncode == 2
    assert again.stderr.count("\n") == 1 and "already exists" in again.stderr


def test_command_failure_exits_nonzero(tmp_path: Path) -> None:
    """A command that ends with typer.Exit(1) (a failed run) must exit 1, not 0."""
    (tmp_path / "soundlake.yml").write_text("name: p\nstorage: lake\nlibraries: ['p/*.sql']\n")
    (tmp_path / "p").mkdir()
    (tmp_path / "p" / "t.sql").write_text(
        "CREATE OR REFRESH MATERIALIZED VIEW t AS SELECT 1 / 0 AS x FROM range(3) WHERE missing_col > 0;\n"
    )
    result = run_cli("--project", str(tmp_path), "run")
    assert result.returncode != 0, result.stdout + result.stderr


def test_config_error_is_one_line_with_exit_code_2(tmp_path: Path) -> None:
    (tmp_path / "soundlake.yml").write_text("name: p\nstorage: lake\nbogus: 1\n")
    result = run_cli("--project", str(tmp_path), "status")
    assert result.returncode == 2
    assert "unknown key 'bogus'" in result.stderr
    assert result.stderr.strip().count("\n") == 0


@pytest.mark.parametrize("args", [["no-such-command"], ["run", "--no-such-option"], ["ingest", "--workers", "many"]])
def test_usage_errors_are_one_message_not_a_traceback(args: list[str], tmp_path: Path) -> None:
    result = run_cli(*args, cwd=tmp_path)
    assert result.returncode == 2, result.stderr
    assert "Traceback" not in result.stderr
    assert result.stderr.startswith("error: ") and result.stderr.count("\n") == 1, result.stderr
